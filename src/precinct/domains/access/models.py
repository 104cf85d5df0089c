"""Cross-org grants. A grant is never deleted or edited but to stamp its revocation, so the table is its own log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from precinct.platform.db import Base, UTCDateTime


class AccessGrant(Base):
    """For a while, one user — or the staff of an org and of the orgs below it — see the records of another org's
    subtree (``incident_id`` empty), or one incident of that org (``org_id`` is then the incident's, empty for one
    outside every jurisdiction). Whoever sees that org sees the grant and may revoke it."""

    __tablename__ = "access_grants"
    __table_args__ = (
        CheckConstraint("(grantee_user_id IS NULL) <> (grantee_org_id IS NULL)", name="one_grantee"),
        CheckConstraint("org_id IS NOT NULL OR incident_id IS NOT NULL", name="has_a_target"),
        CheckConstraint("expires_at > granted_at", name="ends_after_it_starts"),
        CheckConstraint("length(reason) > 0", name="has_a_reason"),
        CheckConstraint("(revoked_at IS NULL) = (revoked_by IS NULL)", name="revoked_by_someone"),
        Index("ix_access_grants_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grantee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    grantee_org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id", ondelete="RESTRICT"), index=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id", ondelete="RESTRICT"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="RESTRICT"))
    reason: Mapped[str] = mapped_column(String(500))
    granted_by: Mapped[str] = mapped_column(String(100))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(100))
