"""Queries on incidents, their orders, their timeline and the type catalogue. A repository is made for a scope
(decision 0011) and every query that reads incidents or orders keeps to it; the few that must span the whole city
(jobs, imports) refuse to run for a narrower scope."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    bindparam,
    cast,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.selectable import CTE

from precinct.core.geo.cells import cells_around
from precinct.core.privacy import PERSONAL_FIELDS
from precinct.core.workflow import FINAL_INCIDENT_STATUSES
from precinct.domains.incidents.models import (
    INCIDENT_STATUSES,
    Dispatch,
    IdempotencyKey,
    Incident,
    IncidentCounter,
    IncidentEvent,
    IncidentType,
)
from precinct.platform.context import EVERYTHING, Scope
from precinct.platform.db import append, table_of

# The statements of taking a call, built once: building and keying a statement costs more Python time than sending
# it, and a call-taker's request runs these on every call. Values go in as bound parameters; the duplicates search's
# are named apart from the incident's columns, since ``_taking`` inserts an incident in the same statement.
_DX = (Incident.lon - bindparam("from_lon")) * bindparam("m_per_deg_lon")
_DY = (Incident.lat - bindparam("from_lat")) * bindparam("m_per_deg_lat")
_SQUARED_M = _DX * _DX + _DY * _DY
_NEAREST_SAME_CATEGORY = (
    select(
        Incident.id,
        Incident.number,
        Incident.status,
        Incident.type_code,
        Incident.lon,
        Incident.lat,
        Incident.called_at,
    )
    .where(
        Incident.category_code == bindparam("same_category"),
        Incident.called_at >= bindparam("called_from"),
        Incident.called_at <= bindparam("called_to"),
        Incident.lon.between(bindparam("lon_min"), bindparam("lon_max")),
        Incident.lat.between(bindparam("lat_min"), bindparam("lat_max")),
        bindparam("radius_squared") >= _SQUARED_M,
        Incident.status != "merged",
        Incident.id != bindparam("exclude_id"),
    )
    .order_by(_SQUARED_M, Incident.called_at.desc(), Incident.id)
    .limit(bindparam("limit"))
)
# The same in the cells the search box touches: the index then leads to the incidents near the point, not every
# incident of the category in the window (a city's worth at a busy hour).
_NEAREST_SAME_CATEGORY_IN_CELLS = _NEAREST_SAME_CATEGORY.where(Incident.cell.in_(bindparam("cells", expanding=True)))


@dataclass(frozen=True)
class Nearby:
    """A search for probable duplicates: incidents (not merged) of a category called in a period, within
    ``radius_m`` of a point on a local flat projection (metres per degree given), nearest first, at most ``limit``."""

    category_code: str
    called_from: datetime
    called_to: datetime
    lon: float
    lat: float
    m_per_deg_lon: float
    m_per_deg_lat: float
    radius_m: float
    exclude_id: int
    limit: int

    def query(self) -> tuple[Select[*tuple[Any, ...]], dict[str, Any]]:
        """The statement (not yet kept to a scope) and its parameters."""
        dlon, dlat = self.radius_m / self.m_per_deg_lon, self.radius_m / self.m_per_deg_lat
        cells = cells_around(self.lon - dlon, self.lat - dlat, self.lon + dlon, self.lat + dlat)
        params = {
            "same_category": self.category_code,
            "called_from": self.called_from,
            "called_to": self.called_to,
            "from_lon": self.lon,
            "from_lat": self.lat,
            "m_per_deg_lon": self.m_per_deg_lon,
            "m_per_deg_lat": self.m_per_deg_lat,
            "lon_min": self.lon - dlon,
            "lon_max": self.lon + dlon,
            "lat_min": self.lat - dlat,
            "lat_max": self.lat + dlat,
            "radius_squared": self.radius_m * self.radius_m,
            "exclude_id": self.exclude_id,
            "limit": self.limit,
        }
        if cells is None:
            return _NEAREST_SAME_CATEGORY, params
        return _NEAREST_SAME_CATEGORY_IN_CELLS, params | {"cells": cells}


@dataclass(frozen=True)
class KeyClaim:
    """An idempotency key to claim for a request (``claim_key``): the request's hash, and when."""

    key: str
    request_hash: str
    at: datetime


_COUNTERS, _KEYS = table_of(IncidentCounter), table_of(IdempotencyKey)


def _counted(row: Any) -> Any:
    """A counter row's INSERT as the day's next number: a new prefix and day start at 1, else the row counts on."""
    return row.on_conflict_do_update(
        index_elements=[_COUNTERS.c.prefix, _COUNTERS.c.day], set_={"last_value": _COUNTERS.c.last_value + 1}
    ).returning(_COUNTERS.c.last_value)


_NEXT_NUMBER = {
    name: _counted(make(_COUNTERS).values(prefix=bindparam("prefix"), day=bindparam("day"), last_value=1))
    for name, make in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}
_CLAIM_KEY = {
    name: make(_KEYS)
    .values(key=bindparam("key"), request_hash=bindparam("request_hash"), created_at=bindparam("created_at"))
    .on_conflict_do_nothing(index_elements=[_KEYS.c.key])
    .returning(_KEYS.c.key)
    for name, make in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}
_EVENTS = table_of(IncidentEvent)
_INCIDENTS = table_of(Incident)
_INSERT_INCIDENT = insert(_INCIDENTS).returning(_INCIDENTS.c.id)
_INCIDENT_FIELDS = [c.name for c in _INCIDENTS.columns if c.name != "id"]
NUMBER_DIGITS = 4  # the day's sequence in an incident number, zero-padded: PDX-NO-20260801-0042


def format_number(prefix: str, day: date, sequence: int) -> str:
    """A readable incident number: the station's code, the day and the day's sequence (PDX-NO-20260801-0042)."""
    return f"{_number_stem(prefix, day)}{sequence:0{NUMBER_DIGITS}d}"


def _number_stem(prefix: str, day: date) -> str:
    return f"{prefix}-{day.strftime('%Y%m%d')}-"


def _numbered(*, claiming: bool) -> CTE:
    """On PostgreSQL, the day's next number taken and the incident inserted under it (``inserted``: its id and
    number), as the last of the CTEs that ``_taking`` puts at the head of one statement. The number is
    ``format_number``'s, spelled in SQL.

    ``claiming``: the call's idempotency key is claimed first (``claim_key``), and a number is taken and the incident
    inserted only if the key was free; else nothing is written and ``inserted`` has no row."""
    take = _NEXT_NUMBER["postgresql"]
    if claiming:  # the counter's row comes from the claim: none when the key is taken
        claimed = _CLAIM_KEY["postgresql"].cte("claimed")
        row = select(
            cast(bindparam("prefix"), _COUNTERS.c.prefix.type), cast(bindparam("day"), _COUNTERS.c.day.type), literal(1)
        ).select_from(claimed)
        take = _counted(postgresql_insert(_COUNTERS).from_select(["prefix", "day", "last_value"], row))
    taken = take.cte("taken")
    sequence = cast(taken.c.last_value, _INCIDENTS.c.number.type)
    number = bindparam("number_stem", type_=_INCIDENTS.c.number.type) + func.lpad(
        sequence, func.greatest(NUMBER_DIGITS, func.length(sequence)), "0"
    )
    fields = [c for c in _INCIDENTS.columns if c.name not in ("id", "number")]
    # Each value cast to its column's type: in a SELECT list, a NULL would otherwise be text.
    values = select(number, *(cast(bindparam(c.name, type_=c.type), c.type) for c in fields)).select_from(taken)
    inserted = (
        insert(_INCIDENTS)
        .from_select(["number", *(c.name for c in fields)], values)
        .returning(_INCIDENTS.c.id, _INCIDENTS.c.number)
    )
    return inserted.cte("inserted")


@lru_cache(maxsize=256)  # a few shapes, times the scopes of the call-takers one process serves
def _taking(*, claiming: bool, nearby: Select[*tuple[Any, ...]] | None, scope: Scope) -> Select[*tuple[Any, ...]]:
    """Taking a call on PostgreSQL, in one statement (one round trip), built once per shape and scope: ``_numbered``,
    and with a ``nearby`` query the probable duplicates in the scope, one row each beside the new incident's id and
    number (``new_id``, ``new_number``). The search shares the statement's snapshot, so it never finds the incident
    the statement inserts. The day's counter row is locked from here to the commit."""
    inserted = _numbered(claiming=claiming)
    new = (inserted.c.id.label("new_id"), inserted.c.number.label("new_number"))
    if nearby is None:
        return select(*new)
    condition = _incidents_in(scope)
    found = (nearby if condition is None else nearby.where(condition)).cte("nearby")
    return select(*new, *found.c).select_from(inserted.outerjoin(found, true()))


_PERSONAL = [_INCIDENTS.c[name] for name in PERSONAL_FIELDS["incident"]]
# Every status but closed and merged: one added later counts as open, and is never anonymised.
_OPEN_STATUSES = [status for status in INCIDENT_STATUSES if status not in FINAL_INCIDENT_STATUSES]


def _closed_holding_personal_data(closed_before: datetime) -> ColumnElement[bool]:
    """Closed or merged before a time and still holding a personal field: rows of the partial index
    ``ix_incidents_closed_personal``, which this condition implies (SQLite uses the index only then). "Not open"
    rather than "closed or merged": SQLite keeps no statistics, and offered ``status IN (…)`` it walks
    ``ix_incidents_status`` through every closed incident instead."""
    return and_(
        _INCIDENTS.c.status.not_in(_OPEN_STATUSES),
        _INCIDENTS.c.closed_at < closed_before,
        or_(*(column.is_not(None) for column in _PERSONAL)),
    )


_S = TypeVar("_S", bound=Select[*tuple[Any, ...]])


def _incidents_in(scope: Scope) -> ColumnElement[bool] | None:
    """The condition on ``Incident`` that keeps to a scope (None: no condition)."""
    if scope.unit_id is not None:  # a terminal: the incidents its unit was sent to
        sent = aliased(Dispatch)  # not correlated with a query that selects orders itself
        return exists().where(sent.incident_id == Incident.id, sent.unit_id == scope.unit_id)
    if scope.org_ids is None:
        return None if scope.unassigned else Incident.org_id.is_not(None)
    conditions: list[ColumnElement[bool]] = []
    if scope.org_ids:
        conditions.append(Incident.org_id.in_(sorted(scope.org_ids)))
    if scope.unassigned:
        conditions.append(Incident.org_id.is_(None))
    if scope.incident_ids:
        conditions.append(Incident.id.in_(sorted(scope.incident_ids)))
    return or_(*conditions) if conditions else false()


class IncidentRepository:
    def __init__(self, session: Session, scope: Scope) -> None:
        self.session = session
        self.scope = scope
        self._in_scope = _incidents_in(scope)

    def _visible(self, query: _S) -> _S:
        """``query`` (which selects from ``Incident``) kept to the scope."""
        return query if self._in_scope is None else query.where(self._in_scope)

    def _of_incidents_in_scope(self, query: _S, column: Any, *, joined: bool = False) -> _S:
        """``query`` (on a table whose ``column`` names an incident) kept to the incidents in scope, joining
        ``Incident`` only when the scope (or ``joined``, for a caller's own condition on it) needs it."""
        if self._in_scope is None and not joined:
            return query
        return self._visible(query.join(Incident, Incident.id == column))

    def _orders(self, *, joined: bool = False) -> Select[Dispatch]:
        """Orders kept to the scope: those of the incidents in it (a terminal's, its own unit's only)."""
        query = self._of_incidents_in_scope(select(Dispatch), Dispatch.incident_id, joined=joined)
        return query if self.scope.unit_id is None else query.where(Dispatch.unit_id == self.scope.unit_id)

    def _whole_city(self, what: str) -> None:
        if self.scope != EVERYTHING:
            raise PermissionError(f"{what} spans every org: it runs for jobs and imports only")

    # incidents
    def add_new(
        self, incident: Incident, prefix: str, day: date, claim: KeyClaim | None = None, nearby: Nearby | None = None
    ) -> tuple[bool, Sequence[Row[*tuple[Any, ...]]]]:
        """Number a new incident (the prefix's next for the day) and insert it without the unit of work, and run the
        ``nearby`` search for its probable duplicates (their rows, as ``nearest_same_category``'s): one statement on
        PostgreSQL (``_taking``), four on SQLite. The incident is then attached to the session as a persistent
        object, so that later changes to it are flushed as usual.

        With a ``claim``, its idempotency key is claimed first (``claim_key``), in the same statement on
        PostgreSQL; (False, no rows), with nothing written, when the key is taken.

        Do this last before the commit: the day's counter row stays locked until then."""
        connection = self.session.connection()
        values = {name: getattr(incident, name) for name in _INCIDENT_FIELDS if name != "number"}
        found: Sequence[Row[*tuple[Any, ...]]]
        if connection.dialect.name == "postgresql":
            query, searching = nearby.query() if nearby is not None else (None, {})
            numbering = {"prefix": prefix, "day": day, "number_stem": _number_stem(prefix, day)}
            claiming = (
                {} if claim is None else {"key": claim.key, "request_hash": claim.request_hash, "created_at": claim.at}
            )
            statement = _taking(claiming=claim is not None, nearby=query, scope=self.scope)
            rows = connection.execute(statement, values | numbering | claiming | searching).all()
            if not rows:
                return False, []
            incident.id, incident.number = rows[0].new_id, rows[0].new_number
            found = [row for row in rows if row.id is not None] if nearby is not None else []
        else:
            found = self.nearest_same_category(nearby) if nearby is not None else []
            if claim is not None and not self.claim_key(claim.key, claim.request_hash, claim.at):
                return False, []
            incident.number = format_number(prefix, day, self.next_number(prefix, day))
            incident.id = connection.execute(_INSERT_INCIDENT, values | {"number": incident.number}).scalar_one()
        values["number"] = incident.number
        make_transient_to_detached(incident)
        self.session.add(incident)
        for name, value in values.items():  # as written: reading one must not load the row back
            set_committed_value(incident, name, value)
        return True, found

    def by_id(self, incident_id: int, *, for_update: bool = False) -> Incident | None:
        query = self._visible(select(Incident).where(Incident.id == incident_id))
        return self.session.scalar(query.with_for_update(of=Incident) if for_update else query)

    def list(
        self,
        *,
        org_ids: Sequence[int] | None,
        statuses: Sequence[str] | None,
        called_from: datetime | None,
        called_to: datetime | None,
        limit: int,
        offset: int,
    ) -> Sequence[Incident]:
        query = self._filtered(self._visible(select(Incident)), org_ids, statuses, called_from, called_to)
        return self.session.scalars(
            query.order_by(Incident.priority, Incident.called_at.desc(), Incident.id).limit(limit).offset(offset)
        ).all()

    def _filtered(
        self,
        query: Select[Incident],
        org_ids: Sequence[int] | None,
        statuses: Sequence[str] | None,
        called_from: datetime | None,
        called_to: datetime | None,
    ) -> Select[Incident]:
        if org_ids is not None:
            query = query.where(Incident.org_id.in_(org_ids))
        if statuses:
            query = query.where(Incident.status.in_(statuses))
        if called_from is not None:
            query = query.where(Incident.called_at >= called_from)
        if called_to is not None:
            query = query.where(Incident.called_at < called_to)
        return query

    def nearest_same_category(self, nearby: Nearby) -> Sequence[Row[*tuple[Any, ...]]]:
        """The ``nearby`` search's incidents in the scope: id, number, status, type_code, lon, lat, called_at."""
        query, params = nearby.query()
        return self.session.connection().execute(self._visible(query), params).all()

    def existing_refs(self, refs: Sequence[str]) -> set[str]:
        self._whole_city("checking an import for records already loaded")
        rows = self.session.scalars(select(Incident.external_ref).where(Incident.external_ref.in_(refs)))
        return {r for r in rows if r is not None}

    # numbering
    def next_number(self, prefix: str, day: date) -> int:
        """The next sequence number for a prefix and day, in one atomic upsert (safe under concurrent calls)."""
        connection = self.session.connection()
        upsert = _NEXT_NUMBER[connection.dialect.name]
        return int(connection.execute(upsert, {"prefix": prefix, "day": day}).scalar_one())

    def counters(self, keys: Sequence[tuple[str, date]]) -> dict[tuple[str, date], IncidentCounter]:
        prefixes = {p for p, _ in keys}
        rows = self.session.scalars(select(IncidentCounter).where(IncidentCounter.prefix.in_(prefixes)))
        wanted = set(keys)
        return {(c.prefix, c.day): c for c in rows if (c.prefix, c.day) in wanted}

    # idempotency
    def idempotency_key(self, key: str) -> IdempotencyKey | None:
        return self.session.get(IdempotencyKey, key)

    def by_idempotency_key(self, key: str, made_by: str) -> Incident | None:
        """The incident a key made, if the scope sees it or ``made_by`` took it: a retry gets back what its first
        attempt made, even a call that landed outside its caller's scope (a point outside every jurisdiction)."""
        query = select(Incident).where(Incident.idempotency_key == key)
        if self._in_scope is not None:
            query = query.where(or_(self._in_scope, Incident.created_by == made_by))
        return self.session.scalar(query)

    def claim_key(self, key: str, request_hash: str, now: datetime) -> bool:
        """Take an idempotency key in one statement; False when it is taken. A request holding the same key
        uncommitted makes this wait until it ends, so a retry never runs beside the first attempt."""
        connection = self.session.connection()
        claim = _CLAIM_KEY[connection.dialect.name]
        claimed = connection.execute(claim, {"key": key, "request_hash": request_hash, "created_at": now}).scalar()
        return claimed is not None

    # retention (decision 0009)
    def closed_holding_personal_data(self, closed_before: datetime) -> Row[Any]:
        """How many incidents closed before a time still hold personal data, their earliest and latest closing, and
        how many values each personal field holds among them (labelled by the field's name)."""
        self._whole_city("retention")
        return self.session.execute(
            select(
                func.count().label("records"),
                func.min(_INCIDENTS.c.closed_at).label("oldest"),
                func.max(_INCIDENTS.c.closed_at).label("newest"),
                *(func.count(column).label(column.name) for column in _PERSONAL),
            ).where(_closed_holding_personal_data(closed_before))
        ).one()

    def lock_closed_holding_personal_data(self, closed_before: datetime, limit: int) -> Sequence[Row[Any]]:
        """Up to ``limit`` of those incidents, locked (on PostgreSQL, one another transaction holds is skipped): id,
        closing time, and for each personal field (by its name) whether it holds a value — never the value."""
        self._whole_city("retention")
        query = (
            select(
                _INCIDENTS.c.id,
                _INCIDENTS.c.closed_at,
                *(column.is_not(None).label(column.name) for column in _PERSONAL),
            )
            .where(_closed_holding_personal_data(closed_before))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return self.session.execute(query).all()

    def set_personal_fields(self, incident_ids: Sequence[int], values: dict[str, None]) -> int:
        """One UPDATE of the personal fields of many incidents, around the unit of work (an incident already loaded
        in this session keeps its old values in memory). Returns how many rows changed."""
        self._whole_city("retention")
        result = self.session.connection().execute(
            update(_INCIDENTS).where(_INCIDENTS.c.id.in_(incident_ids)).values(values)
        )
        return int(result.rowcount)

    # orders
    def dispatch_by_id(self, dispatch_id: int, *, for_update: bool = False) -> Dispatch | None:
        query = self._orders().where(Dispatch.id == dispatch_id)
        return self.session.scalar(query.with_for_update(of=Dispatch) if for_update else query)

    def dispatches_of(self, incident_id: int) -> Sequence[Dispatch]:
        """Every order of an incident in scope (a terminal sees the others sent with it too: its incident's state
        follows from them all)."""
        query = self._of_incidents_in_scope(select(Dispatch), Dispatch.incident_id)
        return self.session.scalars(query.where(Dispatch.incident_id == incident_id).order_by(Dispatch.id)).all()

    def unacknowledged_since(self, ordered_before: datetime, limit: int) -> Sequence[Dispatch]:
        """Orders still only ``ordered`` since before a time and not flagged yet, locked for flagging (on
        PostgreSQL a row another job holds is skipped, so two job workers never flag one order twice)."""
        self._whole_city("flagging overdue orders")
        query = (
            select(Dispatch)
            .where(Dispatch.status == "ordered", Dispatch.overdue_at.is_(None), Dispatch.ordered_at <= ordered_before)
            .order_by(Dispatch.ordered_at, Dispatch.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return self.session.scalars(query).all()

    def dispatches_in_status(
        self, statuses: Sequence[str], org_ids: Sequence[int] | None, unit_id: int | None = None
    ) -> Sequence[Dispatch]:
        query = self._orders(joined=org_ids is not None).where(Dispatch.status.in_(statuses))
        if org_ids is not None:
            query = query.where(Incident.org_id.in_(org_ids))
        if unit_id is not None:
            query = query.where(Dispatch.unit_id == unit_id)
        return self.session.scalars(query.order_by(Dispatch.id)).all()

    def orders_since(self, since: datetime) -> dict[int, int]:
        """How many orders each unit has had since a time, across every org: a count per unit, no incident's
        details, and a unit's workload is the same whoever asks."""
        rows = self.session.execute(
            select(Dispatch.unit_id, func.count()).where(Dispatch.ordered_at >= since).group_by(Dispatch.unit_id)
        )
        return {int(unit_id): int(count) for unit_id, count in rows}

    def points(self, org_ids: Sequence[int]) -> Sequence[Row[int | None, float | None, float | None]]:
        return self.session.execute(
            self._visible(
                select(Incident.org_id, Incident.lon, Incident.lat).where(
                    Incident.org_id.in_(org_ids), Incident.lon.is_not(None), Incident.status != "merged"
                )
            )
        ).all()

    # timeline
    def add_event(
        self, *, incident_id: int, dispatch_id: int | None, kind: str, at: datetime, actor: str, data: dict[str, Any]
    ) -> None:
        """Append one event (written with the commit): events are never read back in the request that writes them,
        nor changed after."""
        append(
            self.session,
            _EVENTS,
            {
                "incident_id": incident_id,
                "dispatch_id": dispatch_id,
                "kind": kind,
                "at": at,
                "actor": actor,
                "data": data,
            },
        )

    def events_of(self, incident_id: int) -> Sequence[IncidentEvent]:
        query = self._of_incidents_in_scope(select(IncidentEvent), IncidentEvent.incident_id)
        return self.session.scalars(
            query.where(IncidentEvent.incident_id == incident_id).order_by(IncidentEvent.id)
        ).all()

    def times_in_period(
        self, org_ids: Sequence[int] | None, called_from: datetime, called_to: datetime
    ) -> Sequence[Row[str, int, datetime, datetime, datetime | None, datetime | None]]:
        """For incidents called in a period (merged ones left out): type, priority, time of call, time taken,
        and the first order and first arrival from the timeline."""

        def first(kind: str) -> Any:
            return (
                select(IncidentEvent.incident_id, func.min(IncidentEvent.at).label("at"))
                .where(IncidentEvent.kind == kind)
                .group_by(IncidentEvent.incident_id)
                .subquery(kind)
            )

        ordered, arrived = first("dispatched"), first("on_scene")
        query = (
            select(
                Incident.type_code,
                Incident.priority,
                Incident.called_at,
                Incident.taken_at,
                ordered.c.at,
                arrived.c.at,
            )
            .outerjoin(ordered, ordered.c.incident_id == Incident.id)
            .outerjoin(arrived, arrived.c.incident_id == Incident.id)
            .where(Incident.status != "merged", Incident.called_at >= called_from, Incident.called_at < called_to)
        )
        if org_ids is not None:
            query = query.where(Incident.org_id.in_(org_ids))
        return self.session.execute(self._visible(query)).all()

    # catalogue
    def types(self) -> Sequence[IncidentType]:
        return self.session.scalars(select(IncidentType).order_by(IncidentType.code)).all()
