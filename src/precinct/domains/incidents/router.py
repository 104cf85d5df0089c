"""HTTP routes of the 110 loop: parse, call one service function, return."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Header, Query, Response, status

from precinct.core.workflow import DispatchAction
from precinct.domains.incidents import orders, service
from precinct.domains.incidents.models import Dispatch, Incident
from precinct.domains.incidents.schemas import (
    CloseRequest,
    DispatchCreate,
    DispatchOut,
    DispatchStep,
    DuplicateOut,
    EventOut,
    FeedbackCreate,
    IncidentCreate,
    IncidentCreated,
    IncidentHistory,
    IncidentOut,
    IncidentTypeOut,
    MergeRequest,
    Revealed,
    RevealRequest,
)
from precinct.platform.http import CtxDep, PrecinctRouter, errors
from precinct.platform.schemas import SMALL_ID_MAX, BigIdPath

router = PrecinctRouter(prefix="/api", tags=["incidents"])

IncidentState = Literal["received", "dispatched", "en_route", "on_scene", "cleared", "closed", "merged"]


def _key_header(description: str) -> Any:
    return Header(
        alias="Idempotency-Key", min_length=8, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$", description=description
    )


IdempotencyKey = Annotated[
    str | None, _key_header("A retry with the same key returns the same incident, never a second one")
]
StepKey = Annotated[
    str | None,
    _key_header(
        "A retry with the same key (a terminal resending what it did offline) returns the order instead of "
        "refusing a step already taken"
    ),
]


def incident_out(incident: Incident) -> IncidentOut:
    out = IncidentOut.model_validate(incident)
    out.allowed_actions = service.allowed_incident_actions(incident)
    return out


def dispatch_out(order: Dispatch) -> DispatchOut:
    out = DispatchOut.model_validate(order)
    out.allowed_actions = service.allowed_dispatch_actions(order)
    return out


def duplicates_out(found: list[service.ProbableDuplicate]) -> list[DuplicateOut]:
    return [
        DuplicateOut(
            incident_id=d.incident_id,
            number=d.number,
            status=d.status,
            type_code=d.type_code,
            distance_m=round(d.distance_m, 1),
            seconds_apart=d.seconds_apart,
        )
        for d in found
    ]


@router.get("/incident-types", response_model=list[IncidentTypeOut], summary="The incident-type catalogue")
def list_types(ctx: CtxDep) -> list[IncidentTypeOut]:
    return [IncidentTypeOut.model_validate(t) for t in service.list_types(ctx)]


@router.post(
    "/incidents",
    status_code=status.HTTP_201_CREATED,
    response_model=IncidentCreated,
    responses={
        **errors(409, 413, 422),
        200: {"model": IncidentCreated, "description": "A retry: the incident made the first time"},
    },
    summary="Take a call (接警): create an incident",
)
def create_incident(
    ctx: CtxDep, data: IncidentCreate, response: Response, idempotency_key: IdempotencyKey = None
) -> IncidentCreated:
    result = service.create_incident(ctx, data, idempotency_key)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return IncidentCreated(**incident_out(result.incident).model_dump(), duplicates=duplicates_out(result.duplicates))


@router.get("/incidents", response_model=list[IncidentOut], responses=errors(404, 422), summary="List incidents")
def list_incidents(
    ctx: CtxDep,
    org_id: Annotated[
        int | None, Query(ge=1, le=SMALL_ID_MAX, description="Only this org and the orgs below it")
    ] = None,
    status_: Annotated[list[IncidentState] | None, Query(alias="status", description="One or more states")] = None,
    called_from: datetime | None = None,
    called_to: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[IncidentOut]:
    found = service.list_incidents(
        ctx,
        org_id=org_id,
        statuses=status_,
        called_from=called_from,
        called_to=called_to,
        limit=limit,
        offset=offset,
    )
    return [incident_out(i) for i in found]


@router.get("/incidents/{incident_id}", response_model=IncidentOut, responses=errors(404), summary="One incident")
def get_incident(ctx: CtxDep, incident_id: BigIdPath) -> IncidentOut:
    return incident_out(service.get_incident(ctx, incident_id))


@router.get(
    "/incidents/{incident_id}/history",
    response_model=IncidentHistory,
    responses=errors(404),
    summary="An incident's full history: record, orders and every timeline event",
)
def incident_history(ctx: CtxDep, incident_id: BigIdPath) -> IncidentHistory:
    incident, dispatches, events = service.history(ctx, incident_id)
    return IncidentHistory(
        incident=incident_out(incident),
        dispatches=[dispatch_out(o) for o in dispatches],
        events=[EventOut.model_validate(e) for e in events],
    )


@router.get(
    "/incidents/{incident_id}/duplicates",
    response_model=list[DuplicateOut],
    responses=errors(404),
    summary="Probable duplicates: same category, near in space and time",
)
def incident_duplicates(ctx: CtxDep, incident_id: BigIdPath) -> list[DuplicateOut]:
    return duplicates_out(service.find_duplicates(ctx, service.get_incident(ctx, incident_id)))


@router.post(
    "/incidents/{incident_id}/reveal",
    response_model=Revealed,
    responses=errors(401, 403, 404, 409, 422),
    summary="See a caller's details unmasked, with a reason (audited); signed-in roles that need them only",
)
def reveal_personal_data(ctx: CtxDep, incident_id: BigIdPath, body: RevealRequest) -> Revealed:
    values = service.reveal(ctx, incident_id, body.fields, body.reason)
    return Revealed(incident_id=incident_id, values=values)


@router.post(
    "/incidents/{incident_id}/merge",
    response_model=IncidentOut,
    responses=errors(404, 409, 422),
    summary="Merge this incident into another as a duplicate",
)
def merge_incident(ctx: CtxDep, incident_id: BigIdPath, body: MergeRequest) -> IncidentOut:
    return incident_out(service.merge(ctx, incident_id, body.into_incident_id))


@router.post(
    "/incidents/{incident_id}/close",
    response_model=IncidentOut,
    responses=errors(404, 409, 422),
    summary="Close an incident (结警)",
)
def close_incident(ctx: CtxDep, incident_id: BigIdPath, body: CloseRequest) -> IncidentOut:
    return incident_out(service.close(ctx, incident_id, body.reason))


@router.post(
    "/incidents/{incident_id}/reopen",
    response_model=IncidentOut,
    responses=errors(404, 409, 422),
    summary="Reopen a closed incident",
)
def reopen_incident(ctx: CtxDep, incident_id: BigIdPath, body: CloseRequest) -> IncidentOut:
    return incident_out(service.reopen(ctx, incident_id, body.reason))


@router.post(
    "/incidents/{incident_id}/dispatches",
    status_code=status.HTTP_201_CREATED,
    response_model=DispatchOut,
    responses=errors(404, 409, 422),
    summary="Send a unit (派警)",
)
def dispatch_unit(ctx: CtxDep, incident_id: BigIdPath, body: DispatchCreate) -> DispatchOut:
    return dispatch_out(orders.dispatch_unit(ctx, incident_id, body.unit_id, body.note))


@router.get(
    "/dispatches",
    response_model=list[DispatchOut],
    responses=errors(422),
    summary="Open orders (not yet cleared or ended), of every unit or of one",
)
def list_open_dispatches(
    ctx: CtxDep,
    unit_id: Annotated[int | None, Query(ge=1, le=SMALL_ID_MAX, description="Only this unit's orders")] = None,
) -> list[DispatchOut]:
    return [dispatch_out(o) for o in orders.open_orders(ctx, None, unit_id)]


@router.get(
    "/dispatches/{dispatch_id}",
    response_model=DispatchOut,
    responses=errors(404),
    summary="One dispatch order",
)
def get_dispatch(ctx: CtxDep, dispatch_id: BigIdPath) -> DispatchOut:
    return dispatch_out(orders.get_dispatch(ctx, dispatch_id))


@router.post(
    "/dispatches/{dispatch_id}/feedback",
    response_model=DispatchOut,
    responses=errors(404, 409, 422),
    summary="File the feedback record (反馈单)",
)
def file_feedback(
    ctx: CtxDep, dispatch_id: BigIdPath, body: FeedbackCreate, idempotency_key: StepKey = None
) -> DispatchOut:
    return dispatch_out(orders.file_feedback(ctx, dispatch_id, body, idempotency_key))


@router.post(
    "/dispatches/{dispatch_id}/{action}",
    response_model=DispatchOut,
    responses=errors(404, 409, 422),
    summary="Move an order one step: acknowledge (签收), depart, arrive, clear, return (退单), cancel",
)
def step_dispatch(
    ctx: CtxDep, dispatch_id: BigIdPath, action: DispatchAction, body: DispatchStep, idempotency_key: StepKey = None
) -> DispatchOut:
    return dispatch_out(orders.step_dispatch(ctx, dispatch_id, action, body.reason, idempotency_key))
