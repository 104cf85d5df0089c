"""HTTP routes for units."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query, status

from precinct.domains.units import service
from precinct.domains.units.schemas import Position, UnitCreate, UnitDuty, UnitOut
from precinct.platform.http import CtxDep, PrecinctRouter, errors
from precinct.platform.schemas import SMALL_ID_MAX, SmallIdPath

router = PrecinctRouter(prefix="/api/units", tags=["units"])

UnitStatus = Literal["available", "assigned", "en_route", "on_scene", "returning", "off_duty"]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UnitOut,
    responses=errors(404, 409, 422),
    summary="Register a unit",
)
def create_unit(ctx: CtxDep, body: UnitCreate) -> UnitOut:
    unit = service.create_unit(ctx, **body.model_dump())
    return UnitOut.model_validate(unit)


@router.get("", response_model=list[UnitOut], responses=errors(404, 422), summary="List units")
def list_units(
    ctx: CtxDep,
    org_id: Annotated[
        int | None, Query(ge=1, le=SMALL_ID_MAX, description="Units of this org and the orgs below it")
    ] = None,
    status_: Annotated[UnitStatus | None, Query(alias="status")] = None,
    on_duty: bool | None = None,
) -> list[UnitOut]:
    return [UnitOut.model_validate(u) for u in service.list_units(ctx, org_id=org_id, status=status_, on_duty=on_duty)]


@router.get("/{unit_id}", response_model=UnitOut, responses=errors(404), summary="One unit")
def get_unit(ctx: CtxDep, unit_id: SmallIdPath) -> UnitOut:
    return UnitOut.model_validate(service.get_unit(ctx, unit_id))


@router.put("/{unit_id}/duty", response_model=UnitOut, responses=errors(404, 409, 422), summary="On or off duty")
def set_duty(ctx: CtxDep, unit_id: SmallIdPath, body: UnitDuty) -> UnitOut:
    return UnitOut.model_validate(service.set_duty(ctx, unit_id, body.on_duty))


@router.put(
    "/{unit_id}/position",
    response_model=UnitOut,
    responses=errors(404, 422),
    summary="Report the unit's position",
)
def report_position(ctx: CtxDep, unit_id: SmallIdPath, body: Position) -> UnitOut:
    return UnitOut.model_validate(service.report_position(ctx, unit_id, body.lon, body.lat))
