"""A bounded memory of ids already handled, for readers of an event feed that may hand an event over twice."""

from __future__ import annotations

from collections import deque


class RecentIds:
    """The last ``size`` ids added; ``add`` says whether an id is new."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._ids: set[int] = set()
        self._order: deque[int] = deque()

    def add(self, item: int) -> bool:
        """Remember ``item``; False when it was already among the last ``size``."""
        if item in self._ids:
            return False
        self._ids.add(item)
        self._order.append(item)
        if len(self._order) > self.size:
            self._ids.discard(self._order.popleft())
        return True
