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
    def terminal_unit_id(self) -> int | None:
        """The unit whose terminal is asking, if one is: it may see and move that unit and its orders only."""
        return self.principal.unit_id if self.principal is not None else None
