"""Queries on units."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from precinct.domains.units.models import Unit


class UnitRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_id(self, unit_id: int, *, for_update: bool = False) -> Unit | None:
        query = select(Unit).where(Unit.id == unit_id)
        if for_update:
            query = query.with_for_update()
        return self.session.scalar(query)

    def by_call_sign(self, call_sign: str) -> Unit | None:
        return self.session.scalar(select(Unit).where(Unit.call_sign == call_sign))

    def list(
        self, *, org_ids: Sequence[int] | None = None, status: str | None = None, on_duty: bool | None = None
    ) -> Sequence[Unit]:
        query = select(Unit).order_by(Unit.id)
        if org_ids is not None:
            query = query.where(Unit.home_org_id.in_(org_ids))
        if status is not None:
            query = query.where(Unit.status == status)
        if on_duty is not None:
            query = query.where(Unit.on_duty == on_duty)
        return self.session.scalars(query).all()
