"""The audit trail: every write and every reveal of personal data, with who, when, from where and in which request.

A writing request or command appends one entry in its own transaction (one Core INSERT and no lock, so a rolled-back
request leaves none). A job later seals the settled entries in id order into a hash chain (``audit_seals``), and
``verify`` walks that chain to find an entry edited, deleted or inserted since. The database refuses UPDATE and DELETE
on both tables (decision 0007)."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ColumnElement,
    Select,
    String,
    UniqueConstraint,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from precinct.platform.bus import GAP_WAIT_S
from precinct.platform.context import Ctx
from precinct.platform.db import Base, IdType, JSONType, UTCDateTime, append, table_of
from precinct.platform.errors import InvalidInput, NotFound

# An entry is sealed once it is this old: on PostgreSQL a lower id can commit after a higher one, and an id still
# missing by then belongs to a transaction that rolled back (the figure the live feed waits for a gap, too).
SETTLE_S = GAP_WAIT_S
SEAL_BATCH = 5000  # entries sealed per run at most: 1,000/s at the default interval, over three times the target load
MAX_REASON_CHARS = 500
GENESIS = ""  # the "previous hash" of the first entry
_SEAL_LOCK = 0x70726563696E6374  # pg_advisory_xact_lock key: one sealer at a time across processes

_WELL_FORMED_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{8,64}")


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint("kind IN ('write', 'reveal')", name="kind"),
        CheckConstraint(
            "kind <> 'reveal' OR (subject IS NOT NULL AND field IS NOT NULL AND reason IS NOT NULL "
            "AND length(trim(reason)) > 0)",
            name="reveal_names_field_and_reason",
        ),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(200))  # the route template, or the command
    method: Mapped[str | None] = mapped_column(String(10))  # HTTP only
    path_params: Mapped[dict[str, str] | None] = mapped_column(JSONType)  # ids in the route, never a body
    result_id: Mapped[int | None] = mapped_column(BigInteger)  # the id of the record the route answered with
    subject: Mapped[str | None] = mapped_column(String(200))  # reveals: whose data, e.g. "incident:42"
    field: Mapped[str | None] = mapped_column(String(100))  # reveals: which field, e.g. "caller_phone"
    reason: Mapped[str | None] = mapped_column(String(MAX_REASON_CHARS))  # reveals: typed by the user
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(64))


class AuditSeal(Base):
    """An entry's link in the chain: hash = sha256(previous seal's hash + the entry's canonical JSON). No foreign key
    on purpose: a seal outlives a deleted entry, which is how the deletion is found."""

    __tablename__ = "audit_seals"
    __table_args__ = (
        UniqueConstraint("previous_entry_id"),  # the chain cannot fork
        CheckConstraint("previous_entry_id < entry_id", name="links_backward"),
        CheckConstraint("length(hash) = 64", name="sha256_hex"),
    )

    entry_id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=False)
    previous_entry_id: Mapped[int | None] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime())


_LOG = table_of(AuditEntry)
_SEALS = table_of(AuditSeal)
_ADD_SEALS = insert(_SEALS)
# What a seal covers, in a fixed order: a new column joins the hash only with a new version of this list.
HASHED_COLUMNS = (
    "id",
    "kind",
    "at",
    "actor",
    "action",
    "method",
    "path_params",
    "result_id",
    "subject",
    "field",
    "reason",
    "request_id",
    "client_address",
)
_ENTRY_COLUMNS = [_LOG.c[name] for name in HASHED_COLUMNS]


@dataclass(frozen=True)
class Origin:
    """Where a write came from: a request (route template, its ids, the caller's address and the request id) or a
    command."""

    action: str
    method: str | None = None
    path_params: dict[str, str] | None = None
    request_id: str | None = None
    client_address: str | None = None


def request_id(given: str | None) -> str:
    """The caller's request id when it is well-formed (8–64 of letters, digits and ``._:-``), else a new one."""
    if given is not None and _WELL_FORMED_REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def record_write(ctx: Ctx, origin: Origin, *, result_id: int | None = None) -> None:
    """Append the entry of a write in the current transaction: it commits or rolls back with the write itself."""
    _append(ctx, "write", origin, result_id=result_id)


def record_job_write(ctx: Ctx, job: str, changed: Mapping[str, int]) -> None:
    """Append the entry of a background job's write, for a job whose change leaves no other trace (personal data
    erased): ``job <name>`` as the action, and in place of a route's ids how many records of each kind it changed
    (``{"incident": "42"}``), never which ones nor their values. Most jobs write none (decision 0007)."""
    _append(ctx, "write", Origin(action=f"job {job}", path_params={kind: str(n) for kind, n in changed.items()}))


def record_reveal(ctx: Ctx, subject: str, field: str, reason: str) -> None:
    """Append the entry of a reveal: ``ctx.actor`` was shown ``field`` of ``subject`` (ids such as
    ``"incident:42"`` and ``"caller_phone"``, never the value) for the ``reason`` they typed."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("say why you need to see this data: the reason is recorded in the audit trail")
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidInput(f"the reason is over {MAX_REASON_CHARS} characters; shorten it")
    if not subject or len(subject) > 200 or not field or len(field) > 100:
        raise ValueError("a reveal names its subject (≤ 200 characters) and field (≤ 100) by id")
    origin: Origin | None = getattr(ctx, "origin", None)  # a request's context carries one
    _append(ctx, "reveal", origin or Origin(action="reveal"), subject=subject, field=field, reason=reason)


def _append(
    ctx: Ctx,
    kind: Literal["write", "reveal"],
    origin: Origin,
    *,
    result_id: int | None = None,
    subject: str | None = None,
    field: str | None = None,
    reason: str | None = None,
) -> None:
    append(
        ctx.session,
        _LOG,
        {
            "kind": kind,
            "at": ctx.now(),
            "actor": ctx.actor,
            "action": origin.action,
            "method": origin.method,
            "path_params": origin.path_params or None,
            "result_id": result_id,
            "subject": subject,
            "field": field,
            "reason": reason,
            "request_id": origin.request_id,
            "client_address": origin.client_address,
        },
    )


# --- the chain -------------------------------------------------------------------------------------------------


def canonical(entry: Any) -> bytes:
    """An entry's content as the chain hashes it: its hashed columns as compact JSON with sorted keys, the time in
    UTC to the microsecond (what both backends store)."""
    content = {name: getattr(entry, name) for name in HASHED_COLUMNS}
    content["at"] = entry.at.astimezone(UTC).isoformat(timespec="microseconds")
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link(previous_hash: str, entry: Any) -> str:
    return hashlib.sha256(previous_hash.encode("ascii") + canonical(entry)).hexdigest()


def seal_audit_log(ctx: Ctx) -> int:
    """A job: seal, in id order, the entries after the last seal that are older than ``SETTLE_S``, stopping at the
    first younger one (a lower id may still commit). An id missing below a settled entry is a rolled-back
    transaction's, and the chain steps over it. Returns how many were sealed."""
    session = ctx.session
    if session.get_bind().dialect.name == "postgresql" and not session.scalar(
        select(func.pg_try_advisory_xact_lock(_SEAL_LOCK))
    ):
        return 0  # another process is sealing; SQLite lets one writer in anyway
    head = session.execute(select(_SEALS.c.entry_id, _SEALS.c.hash).order_by(_SEALS.c.entry_id.desc()).limit(1)).first()
    previous_id, previous_hash = (head.entry_id, head.hash) if head is not None else (None, GENESIS)
    query = select(*_ENTRY_COLUMNS).order_by(_LOG.c.id).limit(SEAL_BATCH)
    if previous_id is not None:
        query = query.where(_LOG.c.id > previous_id)
    now = ctx.now()
    settled_before = now - timedelta(seconds=SETTLE_S)
    seals: list[dict[str, Any]] = []
    for entry in session.execute(query):
        if entry.at >= settled_before:
            break
        previous_hash = link(previous_hash, entry)
        seals.append({"entry_id": entry.id, "previous_entry_id": previous_id, "hash": previous_hash, "sealed_at": now})
        previous_id = entry.id
    if seals:
        session.connection().execute(_ADD_SEALS, seals)
    return len(seals)


Problem = Literal["edited", "deleted", "inserted", "broken_link"]


@dataclass(frozen=True)
class Finding:
    entry_id: int
    problem: Problem
    message: str


@dataclass
class Verification:
    sealed: int = 0  # seals checked
    waiting: int = 0  # entries after the last seal, not sealed yet
    head_entry_id: int | None = None
    head_hash: str | None = None  # record it elsewhere: a later run that shows another hash here was rewritten
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def verify(session: Session, batch: int = 10_000) -> Verification:
    """Walk the seals and the entries together in id order and recompute each link. Each link is checked against
    the stored hash of the seal before it, so one tampered entry is one finding, not a broken tail."""
    result = Verification()
    entries = _in_id_order(session, select(*_ENTRY_COLUMNS), _LOG.c.id, batch)
    seals = _in_id_order(session, select(*_SEALS.c), _SEALS.c.entry_id, batch)
    previous_id, previous_hash = None, GENESIS
    entry = next(entries, None)
    for seal in seals:
        while entry is not None and entry.id < seal.entry_id:
            result.findings.append(
                Finding(
                    entry.id,
                    "inserted",
                    f"entry {entry.id} lies inside the sealed chain but has no seal: it was inserted afterwards (or "
                    f"its transaction committed more than {SETTLE_S:g} s after it was written)",
                )
            )
            entry = next(entries, None)
        present = entry is not None and entry.id == seal.entry_id
        if seal.previous_entry_id != previous_id:
            result.findings.append(
                Finding(
                    seal.entry_id,
                    "broken_link",
                    f"the seal of entry {seal.entry_id} follows entry {seal.previous_entry_id}, but the seal before "
                    f"it is entry {previous_id}: seals were deleted or inserted between them, and this entry's "
                    "content cannot be checked",
                )
            )
        elif present and link(previous_hash, entry) != seal.hash:
            result.findings.append(
                Finding(seal.entry_id, "edited", f"entry {seal.entry_id} no longer matches its seal: it was changed")
            )
        if present:
            entry = next(entries, None)
        else:
            result.findings.append(
                Finding(seal.entry_id, "deleted", f"entry {seal.entry_id} is sealed but missing: it was deleted")
            )
        previous_id, previous_hash = seal.entry_id, seal.hash
        result.sealed += 1
    result.head_entry_id, result.head_hash = previous_id, (previous_hash or None)
    while entry is not None:
        result.waiting += 1
        entry = next(entries, None)
    return result


def _in_id_order(session: Session, query: Select[Any], key: ColumnElement[int], batch: int) -> Iterator[Any]:
    """Every row of ``query`` in ``key`` order, a batch at a time (keyset paging: memory stays flat)."""
    last: int | None = None
    while True:
        page = query.order_by(key).limit(batch)
        if last is not None:
            page = page.where(key > last)
        rows = session.execute(page).all()
        yield from rows
        if len(rows) < batch:
            return
        last = rows[-1]._mapping[key]


# --- reading -----------------------------------------------------------------------------------------------------


def recent_entries(
    session: Session, *, since: datetime | None = None, actor: str | None = None, limit: int = 50
) -> list[Any]:
    """The newest ``limit`` entries (written at or after ``since``, by ``actor``), oldest first."""
    query = select(*_ENTRY_COLUMNS).order_by(_LOG.c.id.desc()).limit(limit)
    if since is not None:
        query = query.where(_LOG.c.at >= since)
    if actor is not None:
        query = query.where(_LOG.c.actor == actor)
    return list(reversed(session.execute(query).all()))


# --- the application's database role -----------------------------------------------------------------------------

_ROLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def restrict_app_role(session: Session, role: str) -> None:
    """PostgreSQL: let ``role`` (the one the application runs as, not the tables' owner) add to the trail and read
    it, never update, delete or truncate it: what the migration does for ``PRECINCT_DB_APP_ROLE``, for a role made
    after it ran."""
    if not _ROLE_NAME.fullmatch(role):
        raise InvalidInput(f"{role!r} is not a plain role name (letters, digits and _, at most 63)")
    if session.get_bind().dialect.name != "postgresql":
        raise InvalidInput("database roles are PostgreSQL's; SQLite has no users to restrict")
    connection = session.connection()
    if connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}).first() is None:
        raise NotFound(f"the database server has no role {role}; create it (CREATE ROLE {role} LOGIN) first")
    connection.exec_driver_sql(f'GRANT SELECT, INSERT ON audit_log, audit_seals TO "{role}"')
    connection.exec_driver_sql(f'GRANT USAGE ON SEQUENCE audit_log_id_seq TO "{role}"')
    connection.exec_driver_sql(f'REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_seals FROM "{role}"')
