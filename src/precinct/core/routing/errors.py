"""The routing engine's errors: every one is a ``ValueError`` so callers that validate input catch them whole.

``RoutingError`` is raised for bad input (a missing or unreadable extract, an invalid query) and ``SnapError``
for a point that is too far from any road.
"""

from __future__ import annotations


class RoutingError(ValueError):
    """A road graph could not be built or a routing query is invalid; the message says what and why."""


class SnapError(RoutingError):
    """A point is farther from the nearest road than the allowed snapping distance.

    Attributes
    ----------
    distance_m : float
        How far the point is from the nearest road segment, in metres.
    max_distance_m : float
        The limit that was exceeded, in metres.
    """

    def __init__(self, message: str, *, distance_m: float, max_distance_m: float) -> None:
        super().__init__(message)
        self.distance_m = distance_m
        self.max_distance_m = max_distance_m
