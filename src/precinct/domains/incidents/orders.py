"""Dispatch orders: sending units, following each order step by step, the unit's feedback, and flagging orders
not acknowledged in time — every step an event on the incident's timeline."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from precinct.core.workflow import (
    DISPATCH_MACHINE,
    FINAL_INCIDENT_STATUSES,
    OPEN_DISPATCH_STATUSES,
    DispatchAction,
    IncidentAction,
    TransitionError,
)
from precinct.domains.access import service as access
from precinct.domains.incidents.models import Dispatch, Incident
from precinct.domains.incidents.schemas import FeedbackCreate
from precinct.domains.incidents.service import (
    _check,
    _record,
    _repo,
    _status_from_orders,
    _summary,
    allowed_dispatch_actions,
    get_incident,
)
from precinct.domains.units import service as units
from precinct.platform.context import Ctx
from precinct.platform.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from precinct.platform.events import emit


def dispatch_unit(ctx: Ctx, incident_id: int, unit_id: int, note: str | None = None) -> Dispatch:
    """Send a unit: write the order, move the unit and the incident on, and queue the push to its terminal. A unit
    from a station that does not see the incident gets it granted to that station for a while (decision 0011)."""
    incident = get_incident(ctx, incident_id, for_update=True)
    _check(incident, IncidentAction.DISPATCH)
    unit = units.get_unit(ctx, unit_id, for_update=True)
    units.check_dispatchable(unit)
    order = Dispatch(
        incident_id=incident.id,
        unit_id=unit.id,
        status="ordered",
        ordered_at=ctx.now(),
        ordered_by=ctx.actor,
        note=note,
    )
    ctx.session.add(order)
    ctx.session.flush()
    units.follow_order(ctx, unit, order.status)
    assist = access.grant_assist(ctx, incident.id, incident.org_id, unit.home_org_id, unit.call_sign)
    _record(
        ctx,
        incident,
        "dispatched",
        order,
        unit_id=unit.id,
        call_sign=unit.call_sign,
        note=note,
        assist_grant_id=assist.id if assist is not None else None,
    )
    _follow_orders(ctx, incident)
    emit(ctx, "dispatch.ordered", {**_order_summary(order), "incident": _summary(incident)})
    return order


_STEP_EVENTS = {
    DispatchAction.ACKNOWLEDGE: ("acknowledged", "acknowledged_at"),
    DispatchAction.DEPART: ("en_route", "en_route_at"),
    DispatchAction.ARRIVE: ("on_scene", "on_scene_at"),
    DispatchAction.CLEAR: ("cleared", "cleared_at"),
    DispatchAction.RETURN: ("returned", "ended_at"),
    DispatchAction.CANCEL: ("cancelled", "ended_at"),
}


def step_dispatch(
    ctx: Ctx,
    dispatch_id: int,
    action: DispatchAction,
    reason: str | None = None,
    idempotency_key: str | None = None,
) -> Dispatch:
    """Move an order one step (签收, 出警, 到场, 处置完毕, 退单, 取消); an illegal step names the allowed ones.

    With an idempotency key (a terminal sending what it queued offline), a repeat of the same step returns the
    order as it is now instead of refusing a step already taken."""
    if idempotency_key is not None and not _claim_step(ctx, idempotency_key, dispatch_id, action.value, reason):
        return get_dispatch(ctx, dispatch_id)
    order = get_dispatch(ctx, dispatch_id, for_update=True)
    incident = get_incident(ctx, order.incident_id, for_update=True)
    try:
        status = DISPATCH_MACHINE.step(order.status, action)
    except TransitionError as error:
        raise IllegalTransition(str(error), current=error.current, allowed=list(error.allowed)) from None
    kind, stamp = _STEP_EVENTS[action]
    if action in (DispatchAction.RETURN, DispatchAction.CANCEL):
        if not reason:
            raise InvalidInput(f"say why the order is {kind}: give a reason")
        order.end_reason = reason
    order.status = status
    setattr(order, stamp, ctx.now())
    units.follow_order(ctx, units.get_unit(ctx, order.unit_id, for_update=True), order.status)
    _record(ctx, incident, kind, order, reason=reason)
    _follow_orders(ctx, incident)
    emit(ctx, "dispatch.updated", {**_order_summary(order), "incident": _summary(incident)})
    return order


def file_feedback(ctx: Ctx, dispatch_id: int, feedback: FeedbackCreate, idempotency_key: str | None = None) -> Dispatch:
    """The unit's feedback record (反馈单), once, when it is on scene or has cleared (a repeat with the same
    idempotency key returns the order)."""
    payload = json.dumps(feedback.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    if idempotency_key is not None and not _claim_step(ctx, idempotency_key, dispatch_id, "feedback", payload):
        return get_dispatch(ctx, dispatch_id)
    order = get_dispatch(ctx, dispatch_id, for_update=True)
    if order.status not in ("on_scene", "cleared"):
        raise IllegalTransition(
            f"feedback is filed on scene or after clearing; this order is {order.status}",
            current=order.status,
            allowed=allowed_dispatch_actions(order),
        )
    if order.feedback_at is not None:
        raise Conflict(f"feedback for order {order.id} was already filed at {order.feedback_at.isoformat()}")
    limit = ctx.settings.max_narrative_chars
    if len(feedback.text) > limit:
        raise InvalidInput(f"the feedback has {len(feedback.text)} characters; the limit is {limit}")
    order.feedback_at = ctx.now()
    order.outcome_code = feedback.outcome_code
    order.feedback_text = feedback.text
    order.people_helped = feedback.people_helped
    order.casualties = feedback.casualties
    order.case_ref = feedback.case_ref
    incident = get_incident(ctx, order.incident_id)
    _record(ctx, incident, "feedback_filed", order, **feedback.model_dump(exclude={"text"}))
    emit(ctx, "dispatch.updated", {**_order_summary(order), "incident": _summary(incident)})
    return order


def _claim_step(ctx: Ctx, key: str, dispatch_id: int, what: str, detail: str | None) -> bool:
    """Take ``key`` for this step of this order; False when an earlier request with the key made the same step
    (it committed: the claim waited for it), a ``Conflict`` when the key was used for something else."""
    canonical = json.dumps([dispatch_id, what, detail], ensure_ascii=False)
    request_hash = hashlib.sha256(canonical.encode()).hexdigest()
    repo = _repo(ctx)
    if repo.claim_key(key, request_hash, ctx.now()):
        return True
    claim = repo.idempotency_key(key)
    if claim is None or claim.request_hash != request_hash:
        raise Conflict(f"idempotency key {key!r} was used for a different request; use a new key for a new action")
    return False


def flag_overdue_orders(ctx: Ctx, limit: int = 200) -> list[Dispatch]:
    """A job: flag every order not acknowledged (签收) within ``acknowledge_deadline_s``, once, with a timeline event
    and an alert to the dispatchers. Returns the orders flagged."""
    now = ctx.now()
    deadline_s = ctx.settings.acknowledge_deadline_s
    repo = _repo(ctx)
    flagged = list(repo.unacknowledged_since(now - timedelta(seconds=deadline_s), limit))
    for order in flagged:
        order.overdue_at = now
        incident = get_incident(ctx, order.incident_id)
        waited_s = round((now - order.ordered_at).total_seconds())
        _record(ctx, incident, "acknowledge_overdue", order, unit_id=order.unit_id, waited_s=waited_s)
        emit(
            ctx,
            "dispatch.overdue",
            {**_order_summary(order), "waited_s": waited_s, "deadline_s": deadline_s, "incident": _summary(incident)},
        )
    return flagged


def get_dispatch(ctx: Ctx, dispatch_id: int, *, for_update: bool = False) -> Dispatch:
    """An order in the caller's scope (to a unit's terminal, only its own unit's)."""
    order = _repo(ctx).dispatch_by_id(dispatch_id, for_update=for_update)
    if order is None:
        raise NotFound(f"no dispatch order with id {dispatch_id}")
    return order


def open_orders(ctx: Ctx, org_ids: Sequence[int] | None, unit_id: int | None = None) -> Sequence[Dispatch]:
    """Orders in scope not yet cleared or ended (of one unit: what its terminal shows), oldest first."""
    return _repo(ctx).dispatches_in_status(sorted(OPEN_DISPATCH_STATUSES), org_ids, unit_id)


def orders_today_by_unit(ctx: Ctx) -> dict[int, int]:
    """How many orders each unit has had since midnight (in the configured zone): its workload today."""
    zone = ZoneInfo(ctx.settings.timezone)
    midnight = datetime.combine(ctx.now().astimezone(zone).date(), datetime.min.time(), zone)
    return _repo(ctx).orders_since(midnight)


def _follow_orders(ctx: Ctx, incident: Incident) -> None:
    """Set the incident's state from its orders (it is never set by hand) and log a change."""
    if incident.status in FINAL_INCIDENT_STATUSES:
        return
    status = _status_from_orders(ctx, incident)
    if status != incident.status:
        incident.status = status
        _record(ctx, incident, "status_changed", status=status)


def _order_summary(order: Dispatch) -> dict[str, Any]:
    return {
        "id": order.id,
        "incident_id": order.incident_id,
        "unit_id": order.unit_id,
        "status": order.status,
        "unit_status": units.status_for_order(order.status),
        "overdue": order.overdue_at is not None,
    }
