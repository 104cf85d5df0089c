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

    def subtree_ids(self, org_id: int) -> list[int]:
        """The org and every org below it, by a recursive query."""
        tree = select(Org.id).where(Org.id == org_id).cte("tree", recursive=True)
        tree = tree.union_all(select(Org.id).where(Org.parent_id == tree.c.id))
        return list(self.session.scalars(select(tree.c.id)).all())

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
