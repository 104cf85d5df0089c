"""Queries on cross-org grants."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, or_, select
from sqlalchemy.orm import Session

from precinct.domains.access.models import AccessGrant


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

    def listed(self, *, in_force_at: datetime | None, limit: int) -> Sequence[AccessGrant]:
        """Grants, newest first: only those in force at a time, when one is given."""
        query = select(AccessGrant)
        if in_force_at is not None:
            query = query.where(AccessGrant.revoked_at.is_(None), AccessGrant.expires_at > in_force_at)
        return self.session.scalars(query.order_by(AccessGrant.id.desc()).limit(limit)).all()
