"""The state machines, exhaustively."""

from __future__ import annotations

import pytest

from precinct.core.workflow import (
    DISPATCH_MACHINE,
    DispatchAction,
    DispatchStatus,
    IncidentAction,
    TransitionError,
    check_incident_action,
    incident_status_from_orders,
)


def test_every_dispatch_step_is_either_allowed_or_named_in_the_error() -> None:
    for state in DispatchStatus:
        allowed = set(DISPATCH_MACHINE.allowed(state))
        for action in DispatchAction:
            if action in allowed:
                assert DISPATCH_MACHINE.step(state, action) in set(DispatchStatus)
            else:
                with pytest.raises(TransitionError) as error:
                    DISPATCH_MACHINE.step(state, action)
                assert error.value.current == state
                assert set(error.value.allowed) == allowed
                assert str(state) in str(error.value)


def test_final_order_states_allow_nothing() -> None:
    for final in (DispatchStatus.CLEARED, DispatchStatus.RETURNED, DispatchStatus.CANCELLED):
        assert DISPATCH_MACHINE.allowed(final) == ()
    with pytest.raises(TransitionError, match="final"):
        DISPATCH_MACHINE.step(DispatchStatus.CANCELLED, DispatchAction.ACKNOWLEDGE)


@pytest.mark.parametrize(
    ("orders", "expected"),
    [
        ([], "received"),
        (["cancelled", "returned"], "received"),
        (["ordered"], "dispatched"),
        (["acknowledged", "cancelled"], "dispatched"),
        (["ordered", "en_route"], "en_route"),
        (["on_scene", "ordered"], "on_scene"),
        (["cleared", "ordered"], "dispatched"),
        (["cleared", "cleared", "returned"], "cleared"),
    ],
)
def test_the_incident_follows_its_orders(orders: list[str], expected: str) -> None:
    assert incident_status_from_orders(orders) == expected


def test_incident_actions() -> None:
    check_incident_action("received", IncidentAction.MERGE)
    check_incident_action("cleared", IncidentAction.CLOSE)
    with pytest.raises(TransitionError) as error:
        check_incident_action("on_scene", IncidentAction.CLOSE)
    assert error.value.allowed == ("dispatch",)
    with pytest.raises(TransitionError):
        check_incident_action("merged", IncidentAction.DISPATCH)
