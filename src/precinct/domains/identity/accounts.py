"""Managing who may sign in (the ``precinct users`` commands and the demo): staff with a password, the identities
of unit terminals and other systems with their bearer tokens, disabling and new passwords."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

from precinct.domains.identity import credentials
from precinct.domains.identity.models import KINDS, ROLES, ApiToken, User
from precinct.domains.identity.repository import IdentityRepository
from precinct.domains.orgs import service as orgs
from precinct.domains.units import service as units
from precinct.platform import reference
from precinct.platform.config import Settings
from precinct.platform.context import Ctx
from precinct.platform.errors import Conflict, InvalidInput, NotFound

_LOGIN = re.compile(r"[a-z][a-z0-9._-]{1,63}")
_SYSTEM_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,55}")


def create_user(
    ctx: Ctx, *, login: str, role: str, org_code: str, password: str, display_name: str | None = None
) -> User:
    """A staff member with one role in an org."""
    login = login.strip().lower()
    if not _LOGIN.fullmatch(login):
        raise InvalidInput(f"login {login!r} must be 2–64 of a–z, 0–9 and . _ -, starting with a letter")
    if role not in ROLES:
        raise InvalidInput(f"role {role!r} is not one of {', '.join(ROLES)}")
    repo = IdentityRepository(ctx.session)
    if repo.user_by_login(login) is not None:
        raise Conflict(f"a user with login {login!r} already exists")
    org = orgs.get_org_by_code(ctx, org_code)
    now = ctx.now()
    user = User(
        kind="staff",
        login=login,
        display_name=(display_name or login).strip()[:200] or login,
        role=role,
        org_id=org.id,
        password_hash=_new_password_hash(ctx.settings, login, password),
        active=True,
        failed_sign_ins=0,
        created_at=now,
        updated_at=now,
    )
    ctx.session.add(user)
    ctx.session.flush()
    return user


def _new_password_hash(settings: Settings, login: str, password: str) -> str:
    problem = credentials.password_problem(password, login)
    if problem is not None:
        raise InvalidInput(problem)
    return credentials.hash_password(settings, password)


def get_user(ctx: Ctx, login: str, *, for_update: bool = False) -> User:
    """A user by login: staff and system logins are lower case, a terminal's is ``device:`` and its unit's call sign
    as the unit spells it (``device:CE-P1``)."""
    login = login.strip()
    wanted = login if login.startswith("device:") else login.lower()
    user = IdentityRepository(ctx.session).user_by_login(wanted, for_update=for_update)
    if user is None:
        raise NotFound(f"no user with login {login!r}; precinct users list shows them")
    return user


def list_users(ctx: Ctx) -> Sequence[User]:
    return IdentityRepository(ctx.session).users()


def disable_user(ctx: Ctx, login: str) -> User:
    """The user can no longer sign in, and their sessions and tokens stop working at once."""
    user = get_user(ctx, login, for_update=True)
    user.active = False
    user.updated_at = ctx.now()
    IdentityRepository(ctx.session).end_sessions_of(user.id)
    reference.bump(ctx, reference.CREDENTIALS)
    ctx.session.flush()
    return user


def enable_user(ctx: Ctx, login: str) -> User:
    """A disabled user may sign in again (a terminal with a token made after, or not revoked before, it was
    disabled); any lock from failed sign-ins is lifted with it."""
    user = get_user(ctx, login, for_update=True)
    user.active = True
    user.failed_sign_ins, user.failed_since, user.locked_until = 0, None, None
    user.updated_at = ctx.now()
    ctx.session.flush()
    return user


def set_password(ctx: Ctx, login: str, password: str) -> User:
    """A new password; it unlocks the account and ends its sessions."""
    user = get_user(ctx, login, for_update=True)
    if user.kind not in ("staff", "public"):
        raise InvalidInput(f"{user.login} is a {user.kind}: it signs in with a token (precinct users token add)")
    user.password_hash = _new_password_hash(ctx.settings, user.login, password)
    user.failed_sign_ins, user.failed_since, user.locked_until = 0, None, None
    user.updated_at = ctx.now()
    IdentityRepository(ctx.session).end_sessions_of(user.id)
    reference.bump(ctx, reference.CREDENTIALS)
    ctx.session.flush()
    return user


def add_token(
    ctx: Ctx,
    *,
    unit_call_sign: str | None = None,
    system_name: str | None = None,
    org_code: str | None = None,
    role: str | None = None,
    expires_days: int | None = None,
) -> tuple[ApiToken, str]:
    """A bearer token for a unit's terminal or for another system (its identity is made on first use, acting in
    ``role`` if given: a dispatch bridge, the simulator); returns the token's row and the token itself, which is
    shown once and never stored."""
    if (unit_call_sign is None) == (system_name is None):
        raise InvalidInput("name either a unit (its call sign) or a system")
    if role is not None and (system_name is None or role not in ROLES):
        raise InvalidInput(f"only a system acts in a role, one of {', '.join(ROLES)}")
    if expires_days is not None and not 1 <= expires_days <= 3650:
        raise InvalidInput("a token expires after 1 to 3650 days")
    owner = (
        _device(ctx, unit_call_sign) if unit_call_sign is not None else _system(ctx, system_name or "", org_code, role)
    )
    token, prefix = credentials.new_bearer_token()
    now = ctx.now()
    row = ApiToken(
        user_id=owner.id,
        prefix=prefix,
        token_hash=credentials.token_hash(token),
        created_at=now,
        expires_at=now + timedelta(days=expires_days) if expires_days is not None else None,
    )
    ctx.session.add(row)
    ctx.session.flush()
    return row, token


def _device(ctx: Ctx, call_sign: str) -> User:
    unit = next((u for u in units.list_units(ctx) if u.call_sign == call_sign), None)
    if unit is None:
        raise NotFound(f"no unit with call sign {call_sign!r}")
    repo = IdentityRepository(ctx.session)
    existing = repo.user_by_unit(unit.id)
    if existing is not None:
        return existing
    return _add_identity(ctx, "device", f"device:{unit.call_sign}", unit.call_sign, unit.home_org_id, unit.id)


def _system(ctx: Ctx, name: str, org_code: str | None, role: str | None) -> User:
    name = name.strip().lower()
    if not _SYSTEM_NAME.fullmatch(name):
        raise InvalidInput(f"system name {name!r} must be 1–56 of a–z, 0–9 and . _ -")
    existing = IdentityRepository(ctx.session).user_by_login(f"system:{name}")
    if existing is not None:
        if org_code is not None and existing.org_id != orgs.get_org_by_code(ctx, org_code).id:
            raise Conflict(f"system {name} already serves another org; give no --org or that org's code")
        if role is not None and existing.role != role:
            raise Conflict(f"system {name} already acts as {existing.role or 'a system'}; give no --role or that one")
        return existing
    if org_code is None:
        raise InvalidInput(f"system {name} is new: give --org, the code of the org whose data it serves")
    org_id = orgs.get_org_by_code(ctx, org_code).id
    return _add_identity(ctx, "system", f"system:{name}", name, org_id, None, role)


def _add_identity(
    ctx: Ctx, kind: str, login: str, name: str, org_id: int, unit_id: int | None, role: str | None = None
) -> User:
    assert kind in KINDS
    now = ctx.now()
    user = User(
        kind=kind,
        login=login,
        display_name=name,
        role=role,
        org_id=org_id,
        unit_id=unit_id,
        active=True,
        failed_sign_ins=0,
        created_at=now,
        updated_at=now,
    )
    ctx.session.add(user)
    ctx.session.flush()
    return user


def revoke_token(ctx: Ctx, token_id: int) -> ApiToken:
    token = IdentityRepository(ctx.session).token(token_id)
    if token is None:
        raise NotFound(f"no token with id {token_id}; precinct users list shows them")
    if token.revoked_at is None:
        token.revoked_at = ctx.now()
        reference.bump(ctx, reference.CREDENTIALS)
        ctx.session.flush()
    return token


def list_tokens(ctx: Ctx) -> Sequence[tuple[ApiToken, str]]:
    """Every token with its owner's login (never the token: it is not stored)."""
    return IdentityRepository(ctx.session).tokens()
