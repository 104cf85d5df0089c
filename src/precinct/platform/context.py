"""What every service call carries: the session of the request or job that owns the transaction, the settings,
who is acting, and the server's clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from precinct.platform.config import Settings


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Ctx:
    session: Session
    settings: Settings
    actor: str
    clock: Callable[[], datetime] = field(default=system_clock)

    def now(self) -> datetime:
        return self.clock()
