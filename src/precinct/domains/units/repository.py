"""Queries on units, kept to a scope (decision 0011): staff see the units of the orgs in it, a terminal its own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, false, select
from sqlalchemy.orm import Session

from precinct.domains.units.models import Unit
from precinct.platform.context import Scope

_S = TypeVar("_S", bound=Select[*tuple[Any, ...]])


def _units_in(scope: Scope) -> ColumnElement[bool] | None:
    if scope.unit_id is not None:
        return Unit.id == scope.unit_id
    if scope.org_ids is None:
        return None
    return Unit.home_org_id.in_(sorted(scope.org_ids)) if scope.org_ids else false()


class UnitRepository:
    def __init__(self, session: Session, scope: Scope) -> None:
        self.session = session
        self._in_scope = _units_in(scope)

    def _visible(self, query: _S) -> _S:
        return query if self._in_scope is None else query.where(self._in_scope)

    def by_id(self, unit_id: int, *, for_update: bool = False) -> Unit | None:
        query = self._visible(select(Unit).where(Unit.id == unit_id))
        if for_update:
            query = query.with_for_update()
        return self.session.scalar(query)

    def call_sign_taken(self, call_sign: str) -> bool:
        """Whether any unit, in scope or not, has this call sign (they are unique across the city)."""
        return self.session.scalar(select(Unit.id).where(Unit.call_sign == call_sign)) is not None

    def list(
        self, *, org_ids: Sequence[int] | None = None, status: str | None = None, on_duty: bool | None = None
    ) -> Sequence[Unit]:
        query = self._visible(select(Unit)).order_by(Unit.id)
        if org_ids is not None:
            query = query.where(Unit.home_org_id.in_(org_ids))
        if status is not None:
            query = query.where(Unit.status == status)
        if on_duty is not None:
            query = query.where(Unit.on_duty == on_duty)
        return self.session.scalars(query).all()
