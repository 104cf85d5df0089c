"""The API shapes of cross-org grants."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from precinct.platform.schemas import BigId, RequestModel, SmallId


class GrantCreate(RequestModel):
    """To whom (one user, or the staff of an org), what (an org's subtree, or one incident), why and for how long."""

    to_user_id: SmallId | None = None
    to_org_id: SmallId | None = None
    org_id: SmallId | None = None
    incident_id: BigId | None = None
    reason: str = Field(min_length=1, max_length=500, description="Why: written to the grant and its log")
    hours: int = Field(ge=1, le=24 * 31, description="How long it runs (at most PRECINCT_GRANT_MAX_HOURS)")

    @model_validator(mode="after")
    def _one_each(self) -> GrantCreate:
        if (self.to_user_id is None) == (self.to_org_id is None):
            raise ValueError("name one grantee: to_user_id or to_org_id")
        if (self.org_id is None) == (self.incident_id is None):
            raise ValueError("name one thing to grant: org_id or incident_id")
        return self


class GrantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    grantee_user_id: int | None
    grantee_org_id: int | None
    org_id: int | None
    incident_id: int | None
    reason: str
    granted_by: str
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
