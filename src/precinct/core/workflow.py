"""The state machines of the 110 loop: a dispatch order (派警单) and the incident (接警单) whose state follows from
its orders. Pure: states and actions in, the next state or a ``TransitionError`` out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class DispatchStatus(StrEnum):
    ORDERED = "ordered"  # 已下达
    ACKNOWLEDGED = "acknowledged"  # 已签收
    EN_ROUTE = "en_route"  # 已出警
    ON_SCENE = "on_scene"  # 已到达
    CLEARED = "cleared"  # 现场处置完毕
    RETURNED = "returned"  # 退单
    CANCELLED = "cancelled"  # 取消


class DispatchAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    DEPART = "depart"
    ARRIVE = "arrive"
    CLEAR = "clear"
    RETURN = "return"
    CANCEL = "cancel"


class IncidentStatus(StrEnum):
    RECEIVED = "received"  # 已受理, awaiting dispatch
    DISPATCHED = "dispatched"  # 已派警
    EN_ROUTE = "en_route"  # 已出警
    ON_SCENE = "on_scene"  # 已到达现场
    CLEARED = "cleared"  # 现场处置完毕
    CLOSED = "closed"  # 已终结
    MERGED = "merged"  # folded into another incident as a duplicate


class IncidentAction(StrEnum):
    DISPATCH = "dispatch"
    CLOSE = "close"
    MERGE = "merge"
    REOPEN = "reopen"


@dataclass(frozen=True)
class TransitionError(Exception):
    """A step that the machine does not allow from the current state."""

    machine: str
    current: str
    action: str
    allowed: tuple[str, ...]

    def __str__(self) -> str:
        allowed = ", ".join(self.allowed) or "none: this state is final"
        return f"cannot {self.action} a {self.machine} that is {self.current}; allowed now: {allowed}"


@dataclass(frozen=True)
class StateMachine:
    name: str
    transitions: Mapping[tuple[str, str], str]

    def allowed(self, current: str) -> tuple[str, ...]:
        return tuple(action for (state, action) in self.transitions if state == current)

    def step(self, current: str, action: str) -> str:
        try:
            return self.transitions[(current, action)]
        except KeyError:
            raise TransitionError(self.name, current, action, self.allowed(current)) from None


_D, _A = DispatchStatus, DispatchAction
DISPATCH_MACHINE = StateMachine(
    "dispatch order",
    {
        (_D.ORDERED, _A.ACKNOWLEDGE): _D.ACKNOWLEDGED,
        (_D.ORDERED, _A.RETURN): _D.RETURNED,
        (_D.ORDERED, _A.CANCEL): _D.CANCELLED,
        (_D.ACKNOWLEDGED, _A.DEPART): _D.EN_ROUTE,
        (_D.ACKNOWLEDGED, _A.RETURN): _D.RETURNED,
        (_D.ACKNOWLEDGED, _A.CANCEL): _D.CANCELLED,
        (_D.EN_ROUTE, _A.ARRIVE): _D.ON_SCENE,
        (_D.EN_ROUTE, _A.CANCEL): _D.CANCELLED,
        (_D.ON_SCENE, _A.CLEAR): _D.CLEARED,
    },
)

# Orders that are still working on the incident, in the order of their progress.
_PROGRESS: tuple[DispatchStatus, ...] = (_D.ORDERED, _D.ACKNOWLEDGED, _D.EN_ROUTE, _D.ON_SCENE, _D.CLEARED)
_INCIDENT_STATE_OF_ORDER = {
    _D.ORDERED: IncidentStatus.DISPATCHED,
    _D.ACKNOWLEDGED: IncidentStatus.DISPATCHED,
    _D.EN_ROUTE: IncidentStatus.EN_ROUTE,
    _D.ON_SCENE: IncidentStatus.ON_SCENE,
    _D.CLEARED: IncidentStatus.CLEARED,
}
OPEN_DISPATCH_STATUSES = frozenset({_D.ORDERED, _D.ACKNOWLEDGED, _D.EN_ROUTE, _D.ON_SCENE})
FINAL_INCIDENT_STATUSES = frozenset({IncidentStatus.CLOSED, IncidentStatus.MERGED})


def incident_status_from_orders(orders: Iterable[str]) -> IncidentStatus:
    """The state an open incident is in, given the states of its orders.

    An incident is as far along as its most advanced open order; it is cleared only when every order that went
    ahead is cleared; with no order going ahead (none, or all returned or cancelled) it awaits dispatch again.
    """
    going = [DispatchStatus(o) for o in orders if o not in (_D.RETURNED, _D.CANCELLED)]
    if not going:
        return IncidentStatus.RECEIVED
    if all(o == _D.CLEARED for o in going):
        return IncidentStatus.CLEARED
    most_advanced = max((o for o in going if o != _D.CLEARED), key=_PROGRESS.index)
    return _INCIDENT_STATE_OF_ORDER[most_advanced]


def incident_actions(current: str) -> tuple[IncidentAction, ...]:
    """The actions allowed on an incident in state ``current``."""
    return _INCIDENT_ACTIONS[IncidentStatus(current)]


def check_incident_action(current: str, action: IncidentAction) -> None:
    """Raise ``TransitionError`` when ``action`` is not allowed on an incident in state ``current``.

    Dispatching is allowed on any open incident (a second unit can be sent at any time); closing needs every order
    settled (received with no order, or cleared); merging, only before any unit went ahead; reopening, a closed one.
    """
    allowed = _INCIDENT_ACTIONS[IncidentStatus(current)]
    if action not in allowed:
        raise TransitionError("incident", current, action, tuple(allowed))


_I, _IA = IncidentStatus, IncidentAction
_INCIDENT_ACTIONS: dict[IncidentStatus, tuple[IncidentAction, ...]] = {
    _I.RECEIVED: (_IA.DISPATCH, _IA.CLOSE, _IA.MERGE),
    _I.DISPATCHED: (_IA.DISPATCH,),
    _I.EN_ROUTE: (_IA.DISPATCH,),
    _I.ON_SCENE: (_IA.DISPATCH,),
    _I.CLEARED: (_IA.DISPATCH, _IA.CLOSE),
    _I.CLOSED: (_IA.REOPEN,),
    _I.MERGED: (),
}
