"""The outbox: side effects (pushes, alerts) are written as rows in the same transaction as the change that
causes them, and a relay publishes them after commit, so nothing is sent for work that was rolled back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, insert
from sqlalchemy.orm import Mapped, mapped_column

from precinct.platform.context import Ctx
from precinct.platform.db import Base, IdType, JSONType, UTCDateTime, table_of


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_unpublished", "published_at", "id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    topic: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


_ADD = insert(table_of(OutboxMessage))


def emit(ctx: Ctx, topic: str, payload: dict[str, Any]) -> None:
    """Queue an event for publication once the current transaction commits (written at once, without the unit of
    work: an outbox row is never read back in the transaction that writes it)."""
    ctx.session.connection().execute(_ADD, {"topic": topic, "payload": payload, "created_at": ctx.now()})
