"""The 110 loop: taking a call as an incident, finding its jurisdiction and probable duplicates, merging and
closing — every step an append-only timeline event. Sending units and following their orders: ``orders``."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from precinct.core.catalogue import TypeEntry, category_of
from precinct.core.geo import distance_m
from precinct.core.geo.cells import cell_of
from precinct.core.privacy import MAY_REVEAL, PERSONAL_FIELDS
from precinct.core.workflow import (
    DISPATCH_MACHINE,
    FINAL_INCIDENT_STATUSES,
    IncidentAction,
    IncidentStatus,
    TransitionError,
    check_incident_action,
    incident_actions,
    incident_status_from_orders,
)
from precinct.domains.incidents.models import Dispatch, Incident, IncidentEvent
from precinct.domains.incidents.repository import IncidentRepository, KeyClaim, Nearby
from precinct.domains.incidents.schemas import IncidentCreate
from precinct.domains.orgs import service as orgs
from precinct.platform import audit, reference
from precinct.platform.context import Ctx
from precinct.platform.errors import Conflict, Forbidden, IllegalTransition, InvalidInput, NotFound
from precinct.platform.events import emit

UNASSIGNED_PREFIX = "X"
MAX_DUPLICATES = 20  # a call-taker can weigh a handful; a crowd of reports at one place needs no longer list
_M_PER_DEG_LAT = 111_320.0


@dataclass(frozen=True)
class ProbableDuplicate:
    incident_id: int
    number: str
    status: str
    type_code: str
    distance_m: float
    seconds_apart: float


@dataclass(frozen=True)
class CreateResult:
    incident: Incident
    created: bool
    duplicates: list[ProbableDuplicate]


def _repo(ctx: Ctx) -> IncidentRepository:
    """The incidents this call may see: its principal's scope (decision 0011)."""
    return IncidentRepository(ctx.session, ctx.scope)


# --- taking a call ---------------------------------------------------------------------------------------------


def create_incident(ctx: Ctx, data: IncidentCreate, idempotency_key: str | None = None) -> CreateResult:
    """Register a call: classify, locate, number, look for duplicates, and write the first timeline event.

    With an idempotency key, a retry of the same request returns the incident the first one made; the same key
    with a different body is a ``Conflict``.
    """
    limit = ctx.settings.max_narrative_chars
    if len(data.narrative) > limit:
        raise InvalidInput(f"the narrative has {len(data.narrative)} characters; the limit is {limit}")
    incident_type = get_type(ctx, data.type_code)
    priority = data.priority if data.priority is not None else incident_type.priority
    if priority is None:
        raise InvalidInput(
            f"type {incident_type.code} ({incident_type.name_en}) is a category with no priority: "
            "pick a more specific type or give a priority"
        )
    now = ctx.now()
    called_at = data.called_at or now
    if called_at > now + timedelta(minutes=5):
        raise InvalidInput(f"the time of call {called_at.isoformat()} is in the future")
    if called_at < now - timedelta(days=366):
        raise InvalidInput(f"the time of call {called_at.isoformat()} is over a year ago; import history instead")

    point = (data.lon, data.lat) if data.lon is not None and data.lat is not None else None
    place = orgs.locate(ctx, *point) if point else None
    incident = Incident(
        source=data.source,
        status=IncidentStatus.RECEIVED,
        type_code=incident_type.code,
        category_code=category_of(incident_type.code),
        priority=priority,
        called_at=called_at,
        taken_at=now,
        address=data.address,
        lon=data.lon,
        lat=data.lat,
        cell=cell_of(*point) if point else None,
        narrative=data.narrative,
        caller_name=data.caller_name,
        caller_phone=data.caller_phone,
        org_id=place.org_id if place else None,
        grid_id=place.grid_id if place else None,
        created_by=ctx.actor,
        idempotency_key=idempotency_key,
    )
    # Numbered and written last: the day's counter row stays locked until this transaction commits, and every call
    # to the same station waits for it. What follows is appended rows, written with the commit. On PostgreSQL one
    # statement also claims the idempotency key and finds the probable duplicates. A request that finds its key
    # taken is a retry (or a clash) and answers with what the first attempt made; a retry waits there for that
    # attempt to end.
    day = now.astimezone(ZoneInfo(ctx.settings.timezone)).date()
    claim = KeyClaim(idempotency_key, _request_hash(data), now) if idempotency_key is not None else None
    prefix = place.org_code if place else UNASSIGNED_PREFIX
    search = _nearby(ctx, incident)
    added, found = _repo(ctx).add_new(incident, prefix, day, claim, search)
    if not added:
        assert claim is not None  # only a claim can be refused
        earlier = _replay(ctx, claim.key, claim.request_hash)
        return CreateResult(earlier, created=False, duplicates=find_duplicates(ctx, earlier))
    duplicates = _probable(incident, search, found)
    _record(
        ctx,
        incident,
        "received",
        type_code=incident.type_code,
        priority=incident.priority,
        org_id=incident.org_id,
        unassigned=incident.unassigned,
        probable_duplicates=[d.incident_id for d in duplicates],
    )
    emit(ctx, "incident.created", _summary(incident))
    return CreateResult(incident, created=True, duplicates=duplicates)


def _request_hash(data: IncidentCreate) -> str:
    canonical = json.dumps(data.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(ctx: Ctx, key: str, request_hash: str) -> Incident:
    """The incident an earlier request with this key made; the key's claim waited for that request to commit."""
    repo = _repo(ctx)
    claim, earlier = repo.idempotency_key(key), repo.by_idempotency_key(key, made_by=ctx.actor)
    if claim is None:  # claim and incident commit together: only a concurrent rollback gets here
        raise Conflict(f"idempotency key {key!r} is in use by a request that failed; retry it")
    if earlier is None:  # another caller's call, outside this one's scope: say nothing of it
        raise Conflict(f"idempotency key {key!r} was used by another caller; use a new key for a new call")
    if claim.request_hash != request_hash:
        raise Conflict(
            f"idempotency key {key!r} was used for a different request; use a new key for a new call",
            incident_id=earlier.id,
        )
    return earlier


def find_duplicates(ctx: Ctx, incident: Incident) -> list[ProbableDuplicate]:
    """Incidents of the same category within the configured distance and time window, nearest first."""
    search = _nearby(ctx, incident)
    return _probable(incident, search, _repo(ctx).nearest_same_category(search)) if search is not None else []


def _nearby(ctx: Ctx, incident: Incident) -> Nearby | None:
    """The search for an incident's probable duplicates (None for a call with no point).

    The database measures distance on a local flat projection (within a few kilometres it differs from the
    great-circle distance by far less than a metre), keeps the nearest ``MAX_DUPLICATES`` and sends back only the
    columns the list shows, so a busy place costs no more than a quiet one.
    """
    if incident.lon is None or incident.lat is None:
        return None
    radius_m, window = ctx.settings.duplicate_radius_m, timedelta(seconds=ctx.settings.duplicate_window_s)
    return Nearby(
        category_code=incident.category_code,
        called_from=incident.called_at - window,
        called_to=incident.called_at + window,
        lon=incident.lon,
        lat=incident.lat,
        m_per_deg_lon=_M_PER_DEG_LAT * max(math.cos(math.radians(incident.lat)), 1e-6),
        m_per_deg_lat=_M_PER_DEG_LAT,
        radius_m=radius_m,
        exclude_id=incident.id or 0,  # ids start at 1: a call being taken has none yet
        limit=MAX_DUPLICATES,
    )


def _probable(incident: Incident, search: Nearby | None, rows: Sequence[Any]) -> list[ProbableDuplicate]:
    """The rows a search for an incident's duplicates found, as the list a call-taker sees."""
    if search is None or not rows:
        return []
    metres = distance_m(search.lon, search.lat, [r.lon for r in rows], [r.lat for r in rows])
    found = [
        ProbableDuplicate(
            incident_id=row.id,
            number=row.number,
            status=row.status,
            type_code=row.type_code,
            distance_m=float(d),
            seconds_apart=abs((row.called_at - incident.called_at).total_seconds()),
        )
        for row, d in zip(rows, metres, strict=True)
    ]
    return sorted(found, key=lambda d: (d.distance_m, d.seconds_apart))


# --- reading ---------------------------------------------------------------------------------------------------


def get_incident(ctx: Ctx, incident_id: int, *, for_update: bool = False) -> Incident:
    """An incident in the caller's scope (one outside it is as good as unknown: existence does not leak)."""
    incident = _repo(ctx).by_id(incident_id, for_update=for_update)
    if incident is None:
        raise NotFound(f"no incident with id {incident_id}")
    return incident


def list_incidents(
    ctx: Ctx,
    *,
    org_id: int | None = None,
    statuses: Sequence[str] | None = None,
    called_from: datetime | None = None,
    called_to: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[Incident]:
    org_ids = orgs.subtree_ids(ctx, org_id) if org_id is not None else None
    return _repo(ctx).list(
        org_ids=org_ids,
        statuses=statuses,
        called_from=called_from,
        called_to=called_to,
        limit=limit,
        offset=offset,
    )


def history(ctx: Ctx, incident_id: int) -> tuple[Incident, Sequence[Dispatch], Sequence[IncidentEvent]]:
    """The whole story of an incident in one call: the record, its orders and every event in order."""
    incident = get_incident(ctx, incident_id)
    repo = _repo(ctx)
    return incident, repo.dispatches_of(incident_id), repo.events_of(incident_id)


def allowed_incident_actions(incident: Incident) -> list[str]:
    return [str(a) for a in incident_actions(incident.status)]


def allowed_dispatch_actions(order: Dispatch) -> list[str]:
    return [str(a) for a in DISPATCH_MACHINE.allowed(order.status)]


# --- merging and closing ---------------------------------------------------------------------------------------


def merge(ctx: Ctx, incident_id: int, into_incident_id: int) -> Incident:
    """Fold a duplicate into the incident that carries on; both timelines record it."""
    if incident_id == into_incident_id:
        raise InvalidInput("an incident cannot be merged into itself")
    # Lock in id order, so that two merges of the same pair cannot deadlock.
    locked = {i: get_incident(ctx, i, for_update=True) for i in sorted((incident_id, into_incident_id))}
    duplicate, survivor = locked[incident_id], locked[into_incident_id]
    _check(duplicate, IncidentAction.MERGE)
    if survivor.status in FINAL_INCIDENT_STATUSES:
        raise Conflict(f"incident {survivor.number} is {survivor.status}; merge into an open incident")
    duplicate.status = IncidentStatus.MERGED
    duplicate.merged_into_id = survivor.id
    duplicate.closed_at = ctx.now()
    _record(ctx, duplicate, "merged", into_incident_id=survivor.id, into_number=survivor.number)
    _record(ctx, survivor, "merged_in", from_incident_id=duplicate.id, from_number=duplicate.number)
    emit(ctx, "incident.updated", _summary(duplicate))
    return duplicate


def close(ctx: Ctx, incident_id: int, reason: str | None = None) -> Incident:
    incident = get_incident(ctx, incident_id, for_update=True)
    _check(incident, IncidentAction.CLOSE)
    incident.status = IncidentStatus.CLOSED
    incident.closed_at = ctx.now()
    _record(ctx, incident, "closed", reason=reason)
    emit(ctx, "incident.updated", _summary(incident))
    return incident


def reopen(ctx: Ctx, incident_id: int, reason: str | None = None) -> Incident:
    incident = get_incident(ctx, incident_id, for_update=True)
    _check(incident, IncidentAction.REOPEN)
    incident.status = _status_from_orders(ctx, incident)
    incident.closed_at = None
    _record(ctx, incident, "reopened", reason=reason, status=incident.status)
    emit(ctx, "incident.updated", _summary(incident))
    return incident


def reveal(ctx: Ctx, incident_id: int, fields: Sequence[str], reason: str) -> dict[str, str | None]:
    """A caller's details unmasked, for a role whose work needs them and with the reason typed, each field's
    reveal written to the audit trail (ids and the reason, never the value)."""
    subject = ctx.principal.subject if ctx.principal is not None else None
    if subject not in MAY_REVEAL:  # the permission table says so too; personal data is worth the second lock
        raise Forbidden(f"a {subject or 'request without a principal'} may not see personal data unmasked")
    incident = get_incident(ctx, incident_id)
    values: dict[str, str | None] = {}
    for field in dict.fromkeys(fields):
        if field not in PERSONAL_FIELDS["incident"]:
            raise InvalidInput(f"{field} is not a personal field of an incident")
        audit.record_reveal(ctx, f"incident:{incident.id}", field, reason)
        values[field] = getattr(incident, field)
    return values


def _check(incident: Incident, action: IncidentAction) -> None:
    try:
        check_incident_action(incident.status, action)
    except TransitionError as error:
        raise IllegalTransition(str(error), current=error.current, allowed=list(error.allowed)) from None


def _status_from_orders(ctx: Ctx, incident: Incident) -> IncidentStatus:
    ctx.session.flush()
    orders = _repo(ctx).dispatches_of(incident.id)
    return incident_status_from_orders(o.status for o in orders)


# --- timeline --------------------------------------------------------------------------------------------------


def _record(ctx: Ctx, incident: Incident, kind: str, order: Dispatch | None = None, **data: Any) -> None:
    _repo(ctx).add_event(
        incident_id=incident.id,
        dispatch_id=order.id if order else None,
        kind=kind,
        at=ctx.now(),
        actor=ctx.actor,
        data={k: v for k, v in data.items() if v is not None},
    )


def _summary(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "number": incident.number,
        "status": incident.status,
        "priority": incident.priority,
        "type_code": incident.type_code,
        "org_id": incident.org_id,
        "lon": incident.lon,
        "lat": incident.lat,
        "called_at": incident.called_at.isoformat(),
    }


# --- catalogue -------------------------------------------------------------------------------------------------


# Plain values, shared by every request of the process.
_CATALOGUES: reference.ReferenceCache[dict[str, TypeEntry]] = reference.ReferenceCache(reference.CATALOGUE)


def _catalogue(ctx: Ctx) -> dict[str, TypeEntry]:
    def build() -> dict[str, TypeEntry]:
        return {
            t.code: TypeEntry(
                code=t.code,
                parent_code=t.parent_code,
                level=t.level,
                name_zh=t.name_zh,
                name_en=t.name_en,
                priority=t.priority,
                response_target_s=t.response_target_s,
            )
            for t in _repo(ctx).types()
        }

    return _CATALOGUES.get(ctx, build)


def get_type(ctx: Ctx, code: str) -> TypeEntry:
    incident_type = _catalogue(ctx).get(code)
    if incident_type is None:
        raise InvalidInput(f"incident type {code!r} is not in the catalogue; see GET /api/incident-types")
    return incident_type


def list_types(ctx: Ctx) -> list[TypeEntry]:
    """The whole catalogue, in code order."""
    return list(_catalogue(ctx).values())


# --- figures for analytics -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentTimeRow:
    type_code: str
    priority: int
    called_at: datetime
    taken_at: datetime
    first_ordered_at: datetime | None
    first_on_scene_at: datetime | None
    target_s: int | None


def incident_times(
    ctx: Ctx, org_ids: Sequence[int] | None, called_from: datetime, called_to: datetime
) -> list[IncidentTimeRow]:
    """For each incident called in the period, the timeline timestamps its KPIs come from."""
    targets = {t.code: t.response_target_s for t in list_types(ctx)}
    rows = _repo(ctx).times_in_period(org_ids, called_from, called_to)
    return [
        IncidentTimeRow(
            type_code=type_code,
            priority=priority,
            called_at=called_at,
            taken_at=taken_at,
            first_ordered_at=ordered_at,
            first_on_scene_at=on_scene_at,
            target_s=targets.get(type_code),
        )
        for type_code, priority, called_at, taken_at, ordered_at, on_scene_at in rows
    ]


def incident_points(ctx: Ctx, org_ids: Sequence[int]) -> dict[int, tuple[list[float], list[float]]]:
    """Coordinates of every located incident in the given orgs, grouped by org (for coverage of past calls)."""
    grouped: dict[int, tuple[list[float], list[float]]] = {}
    for org_id, lon, lat in _repo(ctx).points(org_ids):
        if org_id is not None and lon is not None and lat is not None:
            lons, lats = grouped.setdefault(org_id, ([], []))
            lons.append(lon)
            lats.append(lat)
    return grouped
