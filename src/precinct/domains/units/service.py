"""Units: registering them, duty on and off, their position, and the status that follows their orders."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from precinct.domains.orgs import service as orgs
from precinct.domains.units.models import UNIT_KINDS, Unit
from precinct.domains.units.repository import UnitRepository
from precinct.platform.context import Ctx
from precinct.platform.errors import Conflict, InvalidInput, NotFound
from precinct.platform.events import emit

# The unit status each order state puts a unit in.
STATUS_FOR_ORDER = {
    "ordered": "assigned",
    "acknowledged": "assigned",
    "en_route": "en_route",
    "on_scene": "on_scene",
}


def create_unit(
    ctx: Ctx,
    *,
    call_sign: str,
    kind: str,
    home_org_id: int,
    capabilities: Sequence[str] = (),
    on_duty: bool = True,
    lon: float | None = None,
    lat: float | None = None,
) -> Unit:
    repo = UnitRepository(ctx.session, ctx.scope)
    if kind not in UNIT_KINDS:
        raise InvalidInput(f"unit kind {kind!r} is not one of {', '.join(UNIT_KINDS)}")
    if repo.call_sign_taken(call_sign):
        raise Conflict(f"a unit with call sign {call_sign!r} already exists")
    orgs.get_org(ctx, home_org_id)
    if not ctx.scope.sees_org(home_org_id):
        raise NotFound(f"org {home_org_id} is outside your organisation: a unit is added by its own station")
    now = ctx.now()
    unit = Unit(
        call_sign=call_sign,
        kind=kind,
        capabilities=sorted(set(capabilities)),
        home_org_id=home_org_id,
        on_duty=on_duty,
        status="available" if on_duty else "off_duty",
        updated_at=now,
    )
    if lon is not None and lat is not None:
        _set_position(unit, lon, lat, ctx)
    ctx.session.add(unit)
    ctx.session.flush()
    emit(ctx, "unit.updated", unit_summary(unit))
    return unit


def get_unit(ctx: Ctx, unit_id: int, *, for_update: bool = False) -> Unit:
    """A unit in the caller's scope (to a unit's terminal, only its own; another's id is as good as unknown)."""
    unit = UnitRepository(ctx.session, ctx.scope).by_id(unit_id, for_update=for_update)
    if unit is None:
        raise NotFound(f"no unit with id {unit_id}")
    return unit


def list_units(
    ctx: Ctx, *, org_id: int | None = None, status: str | None = None, on_duty: bool | None = None
) -> Sequence[Unit]:
    org_ids = orgs.subtree_ids(ctx, org_id) if org_id is not None else None
    return UnitRepository(ctx.session, ctx.scope).list(org_ids=org_ids, status=status, on_duty=on_duty)


def set_duty(ctx: Ctx, unit_id: int, on_duty: bool) -> Unit:
    unit = get_unit(ctx, unit_id, for_update=True)
    if not on_duty and unit.status not in ("available", "returning", "off_duty"):
        raise Conflict(f"unit {unit.call_sign} is {unit.status}; clear or hand over its order before going off duty")
    unit.on_duty = on_duty
    unit.status = "available" if on_duty else "off_duty"
    unit.updated_at = ctx.now()
    ctx.session.flush()
    emit(ctx, "unit.updated", unit_summary(unit))
    return unit


def report_position(ctx: Ctx, unit_id: int, lon: float, lat: float) -> Unit:
    unit = get_unit(ctx, unit_id, for_update=True)
    _set_position(unit, lon, lat, ctx)
    ctx.session.flush()
    emit(ctx, "unit.moved", unit_summary(unit))
    return unit


def unit_summary(unit: Unit) -> dict[str, Any]:
    """What the live pages need to redraw a unit (no personal data)."""
    return {
        "unit_id": unit.id,
        "call_sign": unit.call_sign,
        "home_org_id": unit.home_org_id,
        "status": unit.status,
        "on_duty": unit.on_duty,
        "lon": unit.lon,
        "lat": unit.lat,
        "position_at": unit.position_at.isoformat() if unit.position_at else None,
    }


def _set_position(unit: Unit, lon: float, lat: float, ctx: Ctx) -> None:
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidInput(f"position ({lon}, {lat}) is not a longitude in -180..180 and a latitude in -90..90")
    unit.lon, unit.lat, unit.position_at = lon, lat, ctx.now()
    unit.updated_at = ctx.now()


def check_dispatchable(unit: Unit) -> None:
    """Raise ``Conflict`` unless the unit can take a new order now."""
    if not unit.on_duty:
        raise Conflict(f"unit {unit.call_sign} is off duty")
    if unit.status not in ("available", "returning"):
        raise Conflict(f"unit {unit.call_sign} is {unit.status} on another order; clear or cancel that first")


def follow_order(ctx: Ctx, unit: Unit, order_status: str) -> None:
    """Put the unit in the status its order calls for; an order that ends frees it."""
    unit.status = status_for_order(order_status)
    unit.updated_at = ctx.now()


def status_for_order(order_status: str) -> str:
    """The status an order in ``order_status`` gives its unit; an order that ends frees it."""
    return STATUS_FOR_ORDER.get(order_status, "available")
