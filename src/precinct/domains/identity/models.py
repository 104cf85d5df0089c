"""Who may act: users (staff with a role in an org, unit terminals, other systems, members of the public), browser
sessions, bearer tokens, and the sign-in attempts counted per client address. Secrets are stored only as hashes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from precinct.platform.db import Base, IdType, UTCDateTime

ROLES = (
    "call_taker",
    "dispatcher",
    "duty_commander",
    "station_chief",
    "community_officer",
    "grid_worker",
    "mediator",
    "case_officer",
    "legal_reviewer",  # 法制员
    "analyst",
    "administrator",
)
KINDS = ("staff", "device", "system", "public")


def _one_of(values: tuple[str, ...]) -> str:
    return ", ".join(repr(v) for v in values)


class User(Base):
    """Anyone or anything that signs in. What a kind must and must not have is held by the database as well:

    staff: a role and an org; a device (a unit's terminal): its unit and that unit's org; a system: an org, the
    subtree it serves, and the role it acts in (none: it may only do what the permission table allows systems);
    the public: none of them. Only staff and the public have passwords; devices and systems
    present bearer tokens."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_one_of(KINDS)})", name="kind"),
        CheckConstraint(f"role IS NULL OR role IN ({_one_of(ROLES)})", name="role"),
        CheckConstraint(
            "kind <> 'staff' OR (role IS NOT NULL AND org_id IS NOT NULL AND unit_id IS NULL)",
            name="staff_has_role_and_org",
        ),
        CheckConstraint(
            "kind <> 'device' OR (unit_id IS NOT NULL AND org_id IS NOT NULL AND role IS NULL)",
            name="device_has_unit",
        ),
        CheckConstraint("kind <> 'system' OR (org_id IS NOT NULL AND unit_id IS NULL)", name="system_has_org"),
        CheckConstraint(
            "kind <> 'public' OR (org_id IS NULL AND unit_id IS NULL AND role IS NULL)", name="public_has_no_org"
        ),
        CheckConstraint("password_hash IS NULL OR kind IN ('staff', 'public')", name="only_people_have_passwords"),
        CheckConstraint("failed_sign_ins >= 0", name="failures_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    login: Mapped[str] = mapped_column(String(64), unique=True)  # staff: a name; device:<call sign>; system:<name>
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(24))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id", ondelete="RESTRICT"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))  # argon2id, PHC string
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Lockout, counted here so that it holds across workers: failures since failed_since, and the lock they set.
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    failed_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UserSession(Base):
    """A browser's sign-in. The cookie holds a random token; only its SHA-256 is kept, so a copy of the table signs
    no one in. Signing out deletes the row."""

    __tablename__ = "user_sessions"
    __table_args__ = (CheckConstraint("length(token_hash) = 64", name="sha256_hex"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))  # also sent readable to the page: no secret beyond the session
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the absolute end
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the idle timeout counts from here
    client_address: Mapped[str | None] = mapped_column(String(64))
    # A terminal's session, traded for its bearer token: it ends when that token is revoked or expires.
    api_token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True)


class ApiToken(Base):
    """A bearer token of a device or a system: ``pct_<prefix>_<secret>``. The prefix finds the row by a unique index;
    the SHA-256 of the whole token proves it. Shown once, when made."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint("length(token_hash) = 64", name="sha256_hex"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SignInThrottle(Base):
    """Sign-in attempts from one client address in its current window (a fixed window, reset when it has passed)."""

    __tablename__ = "sign_in_throttle"
    __table_args__ = (CheckConstraint("attempts >= 0", name="attempts_not_negative"),)

    client_address: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer)
