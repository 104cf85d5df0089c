"""Queries on orgs and grids."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from precinct.domains.orgs.models import Grid, Org


class OrgRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_id(self, org_id: int) -> Org | None:
        return self.session.get(Org, org_id)

    def by_code(self, code: str) -> Org | None:
        return self.session.scalar(select(Org).where(Org.code == code))

    def all(self) -> Sequence[Org]:
        return self.session.scalars(select(Org).order_by(Org.id)).all()

    def parents(self) -> dict[int, int | None]:
        """Every org's id and its parent's (the tree without its boundaries)."""
        return {int(org_id): parent_id for org_id, parent_id in self.session.execute(select(Org.id, Org.parent_id))}

    def grids(self, org_ids: Sequence[int] | None = None, *, with_boundary: bool = False) -> Sequence[Grid]:
        query = select(Grid).order_by(Grid.id)
        if with_boundary:
            query = query.options(undefer(Grid.boundary))
        if org_ids is not None:
            query = query.where(Grid.org_id.in_(org_ids))
        return self.session.scalars(query).all()

    def grid_by_code(self, code: str) -> Grid | None:
        return self.session.scalar(select(Grid).where(Grid.code == code))

    def grid_by_id(self, grid_id: int) -> Grid | None:
        return self.session.get(Grid, grid_id)
