"""Queries on cross-org grants."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Row, false, or_, select
from sqlalchemy.orm import Session

from precinct.domains.access.models import AccessGrant
from precinct.platform.context import Scope


class AccessRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def in_force_for(
        self, user_id: int, org_ids: Sequence[int], now: datetime
    ) -> Sequence[Row[int | None, int | None, datetime]]:
        """The org, incident and end of each grant in force now for a user, or for any of the given orgs (the
        user's own and those above it)."""
        query = select(AccessGrant.org_id, AccessGrant.incident_id, AccessGrant.expires_at).where(
            or_(AccessGrant.grantee_user_id == user_id, AccessGrant.grantee_org_id.in_(org_ids)),
            AccessGrant.revoked_at.is_(None),
            AccessGrant.expires_at > now,
        )
        return self.session.execute(query).all()

    def by_id(self, grant_id: int, *, for_update: bool = False) -> AccessGrant | None:
        query = select(AccessGrant).where(AccessGrant.id == grant_id)
        return self.session.scalar(query.with_for_update() if for_update else query)

    def listed(self, scope: Scope, *, in_force_at: datetime | None, limit: int) -> Sequence[AccessGrant]:
        """Grants that open an org the scope sees (``Scope.sees_org``), newest first: only those in force at a
        time, when one is given."""
        query = select(AccessGrant)
        seen = _grants_seen(scope)
        if seen is not None:
            query = query.where(seen)
        if in_force_at is not None:
            query = query.where(AccessGrant.revoked_at.is_(None), AccessGrant.expires_at > in_force_at)
        return self.session.scalars(query.order_by(AccessGrant.id.desc()).limit(limit)).all()


def _grants_seen(scope: Scope) -> ColumnElement[bool] | None:
    """``Scope.sees_org`` of a grant's org, as a condition (None: no condition)."""
    if scope.unit_id is not None:
        return false()
    if scope.org_ids is None:
        return None if scope.unassigned else AccessGrant.org_id.is_not(None)
    conditions = [AccessGrant.org_id.in_(sorted(scope.org_ids))] if scope.org_ids else []
    if scope.unassigned:
        conditions.append(AccessGrant.org_id.is_(None))
    return or_(*conditions) if conditions else false()
