"""The outbox: side effects (pushes, alerts) are written as rows in the same transaction as the change that
causes them, and leave only once it commits, so nothing is sent for work that was rolled back. Each row's id is the
event's id: clients use it to ignore repeats and to ask for what they missed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Index, String, bindparam, delete, event, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from precinct.platform.context import Ctx
from precinct.platform.db import Base, IdType, JSONType, UTCDateTime, append, table_of


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_unpublished", "published_at", "id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    topic: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


@dataclass(frozen=True)
class Event:
    id: int
    topic: str
    at: datetime
    payload: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "topic": self.topic, "at": self.at.isoformat(), "payload": self.payload}


_OUTBOX = table_of(OutboxMessage)
_EMITTED = "precinct.emitted"  # key in Session.info: this transaction wrote outbox rows
_COLUMNS = (_OUTBOX.c.id, _OUTBOX.c.topic, _OUTBOX.c.created_at, _OUTBOX.c.payload)
_committed_listeners: list[Callable[[], None]] = []


def emit(ctx: Ctx, topic: str, payload: dict[str, Any]) -> None:
    """Queue an event for publication once the current transaction commits (an appended row: it is never read back
    in the transaction that writes it)."""
    append(ctx.session, _OUTBOX, {"topic": topic, "payload": payload, "created_at": ctx.now()})
    ctx.session.info[_EMITTED] = True


def on_events_committed(listener: Callable[[], None]) -> Callable[[], None]:
    """Call ``listener`` (from the committing thread) after each commit in this process that wrote events; returns a
    function that removes it."""
    _committed_listeners.append(listener)
    return lambda: _committed_listeners.remove(listener)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_EMITTED, False):
        for listener in list(_committed_listeners):
            listener()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_EMITTED, None)


def _events(rows: Sequence[Any]) -> list[Event]:
    return [Event(id=r.id, topic=r.topic, at=r.created_at, payload=r.payload) for r in rows]


def last_event_id(session: Session) -> int:
    return int(session.scalar(select(_OUTBOX.c.id).order_by(_OUTBOX.c.id.desc()).limit(1)) or 0)


def events_after(
    session: Session, after_id: int, *, also: Sequence[int] = (), since: datetime | None = None, limit: int = 1000
) -> list[Event]:
    """Events with an id above ``after_id`` in id order, and also those with the ids in ``also`` or written at or
    after ``since``: an id below the highest seen can still appear when its transaction commits later."""
    conditions = [_OUTBOX.c.id > after_id]
    if also:
        conditions.append(_OUTBOX.c.id.in_(also))
    if since is not None:
        conditions.append(_OUTBOX.c.created_at >= since)
    query = select(*_COLUMNS).where(or_(*conditions)).order_by(_OUTBOX.c.id).limit(limit)
    return _events(session.execute(query).all())


RELAY_BATCH = 500


def unpublished(session: Session, limit: int = RELAY_BATCH) -> list[Event]:
    """Events not yet handed to the bus, oldest first."""
    query = select(*_COLUMNS).where(_OUTBOX.c.published_at.is_(None)).order_by(_OUTBOX.c.id).limit(limit)
    return _events(session.execute(query).all())


_MARK = update(_OUTBOX).where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True))).values(published_at=bindparam("at"))


_PRUNE_BATCH = 5000


def prune_outbox(ctx: Ctx) -> int:
    """A job: delete events older than ``outbox_retention_days``, and those of ``outbox_brief_topics`` (unit
    positions: only the latest matters) older than ``outbox_brief_retention_s`` (the timeline keeps the history;
    the outbox only lets pages catch up), a batch at a time; an unpublished row waits for the relay while the NATS
    bus is on. Returns how many went."""
    now, settings = ctx.now(), ctx.settings
    expired = _OUTBOX.c.created_at < now - timedelta(days=settings.outbox_retention_days)
    if settings.outbox_brief_topics:
        expired = or_(
            expired,
            _OUTBOX.c.topic.in_(settings.outbox_brief_topics)
            & (_OUTBOX.c.created_at < now - timedelta(seconds=settings.outbox_brief_retention_s)),
        )
    old = select(_OUTBOX.c.id).where(expired).order_by(_OUTBOX.c.id).limit(_PRUNE_BATCH)
    if ctx.settings.event_bus == "nats":
        old = old.where(_OUTBOX.c.published_at.is_not(None))
    ids = list(ctx.session.scalars(old))
    if ids:
        ctx.session.execute(delete(_OUTBOX).where(_OUTBOX.c.id.in_(ids)))
    return len(ids)


def mark_published(session: Session, ids: Sequence[int], at: datetime) -> None:
    if ids:
        session.connection().execute(_MARK, {"ids": list(ids), "at": at})
