"""What every service call carries: the session of the request or job that owns the transaction, the settings,
who is acting (and, for a request, the principal it was authenticated as), and the server's clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy.orm import Session

from precinct.platform.config import Settings


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Scope:
    """What a principal may see of the records kept per organisation (decision 0011): the orgs whose incidents and
    units it sees (``None``: every org), whether it sees incidents outside every jurisdiction, incidents granted one
    by one, and — for a unit's terminal — the one unit whose orders are all it sees. Repositories apply it in their
    base queries."""

    org_ids: frozenset[int] | None
    unassigned: bool = False
    incident_ids: frozenset[int] = frozenset()
    unit_id: int | None = None
    until: datetime | None = None  # when a grant it includes runs out: compute it again after that

    @property
    def everything(self) -> bool:
        return self.org_ids is None and self.unit_id is None

    def sees_org(self, org_id: int | None) -> bool:
        """Whether records of this org (``None``: of no jurisdiction) are in the scope as a whole."""
        if self.unit_id is not None:
            return False
        if org_id is None:
            return self.unassigned
        return self.org_ids is None or org_id in self.org_ids


EVERYTHING = Scope(org_ids=None, unassigned=True)  # jobs, the CLI and imports, and the city's own staff
NOTHING = Scope(org_ids=frozenset())


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: a staff member, a unit's terminal, another system or a member of the public."""

    kind: str
    user_id: int
    login: str
    role: str | None
    org_id: int | None
    unit_id: int | None
    via: Literal["session", "token"]
    session_id: int | None = None
    csrf_token: str | None = field(default=None, repr=False)
    token_id: int | None = None  # the bearer token it presented
    scope: Scope = NOTHING  # filled in by identity when it authenticates; nothing until then

    @property
    def subject(self) -> str:
        """What the permission table knows it by: a staff member's role, the role a system acts in, or the kind."""
        return self.role if self.role is not None else self.kind


@dataclass
class Ctx:
    session: Session
    settings: Settings
    actor: str
    clock: Callable[[], datetime] = field(default=system_clock)
    principal: Principal | None = None  # a request's; None for jobs, the CLI and imports, which act as themselves

    def now(self) -> datetime:
        return self.clock()

    @property
    def scope(self) -> Scope:
        """What this call may see: the principal's scope, or everything for a job, the CLI or an import."""
        return self.principal.scope if self.principal is not None else EVERYTHING
