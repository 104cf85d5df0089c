"""Identity: who is asking (``authenticate``: a session cookie or a bearer token, each one indexed lookup), signing
in with lockout and a per-address limit, signing out, and the CSRF check of cookie requests (decision 0008). Managing
users and tokens is ``accounts``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial

from fastapi import Request
from starlette.requests import HTTPConnection

from precinct.domains.access import service as access
from precinct.domains.identity import credentials
from precinct.domains.identity.models import SignInThrottle, User, UserSession
from precinct.domains.identity.repository import IdentityRepository
from precinct.domains.identity.schemas import Me, SignIn
from precinct.domains.orgs import service as orgs
from precinct.platform import reference
from precinct.platform.config import Settings
from precinct.platform.context import Ctx, Principal
from precinct.platform.errors import Forbidden, InvalidInput, TooManyRequests, Unauthorized
from precinct.platform.http import AppState, NeedsIO, app_state, client_address

log = logging.getLogger("precinct")

SESSION_COOKIE = "precinct_session"
CSRF_COOKIE = "precinct_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A session's last use is written at most this often: a write on every request would make every read a write.
# The idle timeout is therefore exact to within this.
TOUCH_S = 60
UNKNOWN_ACTOR = "sign-in:unknown-login"  # never the text typed: a login that matches no one may be a password
SIGN_IN_REFUSED = Unauthorized(
    "the login or password is wrong, or the account is locked for a while after repeated failures; try again "
    "later or ask an administrator"
)


# --- who is asking -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Known:
    """A principal this process has authenticated, kept until its revision of the credentials changes."""

    principal: Principal
    tree: orgs.OrgTree  # the org tree its scope was worked out on: a new tree, a new scope
    ends_at: datetime | None  # the token's or the session's absolute end, or a grant's in its scope
    last_seen_at: datetime | None  # a session's: its idle timeout counts from here


# Principals by the hash of the secret that proved them, per database and revision of the credentials (decision
# 0012): a request of a known principal reads nothing. Whatever ends or narrows a principal raises the revision
# (``reference.CREDENTIALS``), so this process forgets at once and the others within ``reference_check_s``.
_KNOWN: reference.ReferenceCache[dict[str, _Known]] = reference.ReferenceCache(reference.CREDENTIALS)
_KNOWN_LIMIT = 10_000


def authenticate(request: HTTPConnection, io: bool = True) -> Principal | None:
    """The principal of ``request`` from its bearer token (``Authorization: Bearer …``) or else its session cookie,
    with its scope; ``None`` when it has neither or they are not valid (unknown, expired, revoked, or the user is
    disabled). A principal this process knows already costs no query; otherwise one, in a short transaction of its
    own, so that it can run as a dependency before the route's. With ``io=False``, only a principal known (and
    still valid by the clock) is answered; anything else raises ``NeedsIO``."""
    state = app_state(request)
    now = state.clock()
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    look_up: Callable[[Ctx], _Known | None]
    if scheme.lower() == "bearer":
        secret = bearer.strip()
        prefix = credentials.bearer_prefix(secret)
        if prefix is None:
            return None
        secret_hash = credentials.token_hash(secret)
        look_up = partial(_by_token, prefix=prefix, token_hash=secret_hash, now=now)
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie or len(cookie) > 128:
            return None
        secret_hash = credentials.token_hash(cookie)
        look_up = partial(_by_session, session_hash=secret_hash, now=now)
    if not io:
        return _known_now(state, now, secret_hash)
    return _known_or(state, now, secret_hash, look_up)


def _known_now(state: AppState, now: datetime, secret_hash: str) -> Principal:
    """The principal this process holds for a secret, without reading anything: the revisions it last read are
    recent enough to trust, the principal is still valid by the clock and its session needs no touch."""
    check_s = state.settings.reference_check_s
    database = reference.database_key(state.db.engine)
    known = _KNOWN.peek(database, check_s)
    found = known.get(secret_hash) if known is not None else None
    # A session unused for TOUCH_S is to be touched: a write, so not from here.
    if found is None or not _holds(found, now, orgs.known_tree(database, check_s), timedelta(seconds=TOUCH_S)):
        raise NeedsIO
    return found.principal


def _known_or(
    state: AppState, now: datetime, secret_hash: str, look_up: Callable[[Ctx], _Known | None]
) -> Principal | None:
    with state.db.transaction(write=False) as session:  # a session only: a known principal opens no connection
        ctx = Ctx(session, state.settings, "authenticate", state.clock)
        known = _KNOWN.get(ctx, dict)
        found = known.get(secret_hash)
        idle = timedelta(seconds=state.settings.session_idle_s)
        if found is None or not _holds(found, now, orgs.tree(ctx), idle):
            found = look_up(ctx)
            if found is None:
                known.pop(secret_hash, None)
                return None
            if len(known) >= _KNOWN_LIMIT:
                known.clear()
            known[secret_hash] = found
    if found.last_seen_at is not None and now - found.last_seen_at >= timedelta(seconds=TOUCH_S):
        assert found.principal.session_id is not None
        with state.db.transaction() as session:
            IdentityRepository(session).touch_session(found.principal.session_id, now)
        known[secret_hash] = replace(found, last_seen_at=now)
    return found.principal


def _holds(found: _Known, now: datetime, tree: orgs.OrgTree | None, idle: timedelta) -> bool:
    """Whether what this process knows of a principal still holds: by the clock (its end; a session's last use
    within ``idle``, as far as this process knows — in doubt, the database is asked again, since another process may
    have seen the session since) and on the org tree its scope was worked out on."""
    if found.ends_at is not None and now >= found.ends_at:
        return False
    if found.last_seen_at is not None and now >= found.last_seen_at + idle:
        return False
    return found.tree is tree


def _by_token(ctx: Ctx, prefix: str, token_hash: str, now: datetime) -> _Known | None:
    row = IdentityRepository(ctx.session).token_principal(prefix)
    if row is None or row.revoked_at is not None or (row.expires_at is not None and now >= row.expires_at):
        return None
    if not credentials.same_secret(token_hash, row.token_hash):
        return None
    principal = Principal(
        row.kind, row.id, row.login, row.role, row.org_id, row.unit_id, via="token", token_id=row.token_id
    )
    return _scoped(ctx, principal, row.expires_at, None)


def _by_session(ctx: Ctx, session_hash: str, now: datetime) -> _Known | None:
    row = IdentityRepository(ctx.session).session_principal(session_hash, now)
    if row is None or now >= row.expires_at or now >= row.last_seen_at + timedelta(seconds=ctx.settings.session_idle_s):
        return None
    principal = Principal(
        row.kind, row.id, row.login, row.role, row.org_id, row.unit_id, "session", row.session_id, row.csrf_token
    )
    ends_at = row.expires_at if row.token_expires_at is None else min(row.expires_at, row.token_expires_at)
    return _scoped(ctx, principal, ends_at, row.last_seen_at)


def _scoped(ctx: Ctx, principal: Principal, ends_at: datetime | None, last_seen_at: datetime | None) -> _Known:
    """The principal with what it may see, worked out in the same read (decision 0011)."""
    tree = orgs.tree(ctx)
    scope = access.scope_of(ctx, principal)
    if scope.until is not None:
        ends_at = scope.until if ends_at is None else min(ends_at, scope.until)
    return _Known(replace(principal, scope=scope), tree, ends_at, last_seen_at)


def check_csrf(request: HTTPConnection, principal: Principal) -> None:
    """Refuse a request that changes something with the session cookie unless its X-CSRF-Token header is the
    session's token: another site's page can make the browser send the cookie, never read the token. A WebSocket
    opened with the cookie must come from a page of this server (its Origin): a browser sends no custom header
    with one, and it would otherwise let another site's page read the feed."""
    if principal.via != "session":
        return
    if request.scope["type"] == "websocket":
        origin = request.headers.get("origin")
        if origin is not None and origin.partition("://")[2] != request.headers.get("host"):
            raise Forbidden("a live feed opened with the session cookie must come from this server's own pages")
        return
    if request.scope["method"] in SAFE_METHODS:
        return
    given = request.headers.get(CSRF_HEADER)
    if given is None or principal.csrf_token is None or not credentials.same_secret(given, principal.csrf_token):
        raise Forbidden(
            f"a request made with the session cookie needs the {CSRF_HEADER} header: send the token sign-in "
            f"returned (also in the {CSRF_COOKIE} cookie)"
        )


# --- signing in and out --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignInAttempt:
    """A password checked before the route's transaction: hashing takes tens of milliseconds, which must not be
    spent holding a writer's turn (or SQLite's write lock)."""

    login: str
    client_address: str | None
    matches: bool
    verified_hash: str | None = field(repr=False)  # what it matched: a password changed since does not count
    new_hash: str | None = field(default=None, repr=False)


def check_sign_in(request: Request, body: SignIn) -> SignInAttempt:
    """A dependency of the sign-in route: refuse an address over its limit before any hashing, then verify the
    password (a dummy hash when the login is unknown, so both take as long)."""
    state = app_state(request)
    address = client_address(request)
    login = body.login.strip().lower()
    with state.db.transaction(write=False) as session:
        repo = IdentityRepository(session)
        if address is not None:
            _refuse_over_limit(repo.throttle(address), state.settings, state.clock())
        user = repo.user_by_login(login)
        stored = user.password_hash if user is not None and user.active else None
    check = credentials.check_password(state.settings, stored, body.password)
    return SignInAttempt(login, address, check.matches, stored if check.matches else None, check.new_hash)


@dataclass(frozen=True)
class NewSession:
    me: Me
    token: str = field(repr=False)
    csrf_token: str = field(repr=False)


def sign_in(ctx: Ctx, attempt: SignInAttempt) -> NewSession | None:
    """Count the attempt, and start a session when the password matched and the account is active and not locked;
    ``None`` when refused. A refusal is an answer, not an error: its count (and audit entry) must be committed."""
    repo = IdentityRepository(ctx.session)
    now = ctx.now()
    if attempt.client_address is not None:
        _count_attempt(ctx, repo, attempt.client_address, now)
    user = repo.user_by_login(attempt.login, for_update=True)
    ctx.actor = user.login if user is not None else UNKNOWN_ACTOR
    if user is None or not user.active or user.password_hash is None:
        return None
    if user.locked_until is not None and now < user.locked_until:
        return None
    if not attempt.matches or attempt.verified_hash != user.password_hash:
        _count_failure(user, ctx.settings, now)
        return None
    user.failed_sign_ins, user.failed_since, user.locked_until = 0, None, None
    if attempt.new_hash is not None:
        user.password_hash = attempt.new_hash  # the hashing parameters changed since it was stored
    return _start_session(ctx, user, attempt.client_address)


def sign_in_terminal(ctx: Ctx, principal: Principal, client_address: str | None) -> NewSession:
    """A browser session for the unit terminal whose bearer token the page sent once: from then on the page works
    with the cookie (which the live feed needs: a browser cannot put a header on a WebSocket) and keeps no token.
    The session lasts no longer than that token: revoked or expired, it ends the session too."""
    user = IdentityRepository(ctx.session).user_by_login(principal.login, for_update=True)
    if user is None or not user.active:
        raise Unauthorized("this terminal's identity is disabled")
    return _start_session(ctx, user, client_address, api_token_id=principal.token_id)


def _start_session(ctx: Ctx, user: User, client_address: str | None, api_token_id: int | None = None) -> NewSession:
    now = ctx.now()
    IdentityRepository(ctx.session).end_sessions_of(user.id, ended_by=now)
    token, csrf_token = credentials.new_secret(), credentials.new_secret()
    ctx.session.add(
        UserSession(
            user_id=user.id,
            token_hash=credentials.token_hash(token),
            csrf_token=csrf_token,
            created_at=now,
            expires_at=now + timedelta(seconds=ctx.settings.session_lifetime_s),
            last_seen_at=now,
            client_address=client_address,
            api_token_id=api_token_id,
        )
    )
    ctx.session.flush()
    return NewSession(describe(ctx, user), token, csrf_token)


def _refuse_over_limit(row: SignInThrottle | None, settings: Settings, now: datetime) -> None:
    window = timedelta(seconds=settings.sign_in_address_window_s)
    if row is not None and now - row.window_start < window and row.attempts >= settings.sign_in_address_limit:
        wait_s = int((row.window_start + window - now).total_seconds()) + 1
        raise TooManyRequests(
            f"too many sign-in attempts from this address; wait {wait_s} s and try again", retry_after_s=wait_s
        )


def _count_attempt(ctx: Ctx, repo: IdentityRepository, address: str, now: datetime) -> None:
    row = repo.throttle(address, for_update=True)
    if row is None:
        ctx.session.add(SignInThrottle(client_address=address, window_start=now, attempts=1))
        return
    if now - row.window_start >= timedelta(seconds=ctx.settings.sign_in_address_window_s):
        row.window_start, row.attempts = now, 0
    _refuse_over_limit(row, ctx.settings, now)  # raised here, the transaction rolls back: a refusal is not counted
    row.attempts += 1


def _count_failure(user: User, settings: Settings, now: datetime) -> None:
    if user.failed_since is None or now - user.failed_since >= timedelta(seconds=settings.sign_in_failure_window_s):
        user.failed_sign_ins, user.failed_since = 0, now
    user.failed_sign_ins += 1
    if user.failed_sign_ins >= settings.sign_in_max_failures:
        user.locked_until = now + timedelta(seconds=settings.sign_in_lockout_s)
        user.failed_sign_ins, user.failed_since = 0, None
        log.warning("account %s locked for %d s after repeated failed sign-ins", user.login, settings.sign_in_lockout_s)


def sign_out(ctx: Ctx, principal: Principal | None) -> bool:
    """End the principal's session (delete it: the cookie is dead at once). False when there was none."""
    if principal is None:
        return False
    ctx.actor = principal.login
    if principal.session_id is None:
        return False
    reference.bump(ctx, reference.CREDENTIALS)
    return IdentityRepository(ctx.session).end_session(principal.session_id)


def whoami(ctx: Ctx, principal: Principal) -> Me:
    user = ctx.session.get(User, principal.user_id)
    if user is None:  # deleted between authenticating and now
        raise Unauthorized("this account no longer exists")
    return describe(ctx, user)


def describe(ctx: Ctx, user: User) -> Me:
    org_code = orgs.get_org(ctx, user.org_id).code if user.org_id is not None else None
    return Me(
        id=user.id,
        kind=user.kind,
        login=user.login,
        display_name=user.display_name,
        role=user.role,
        org_id=user.org_id,
        org_code=org_code,
        unit_id=user.unit_id,
    )


def prune_sign_ins(ctx: Ctx) -> int:
    """A job: delete sessions that can no longer sign anyone in and sign-in windows that have passed, so that neither
    table grows with every browser and address ever seen. Returns how many rows went."""
    now, settings = ctx.now(), ctx.settings
    repo = IdentityRepository(ctx.session)
    sessions = repo.delete_dead_sessions(now, now - timedelta(seconds=settings.session_idle_s))
    throttles = repo.delete_old_throttles(now - timedelta(seconds=settings.sign_in_address_window_s))
    return sessions + throttles


def check_staff_member(ctx: Ctx, user_id: int) -> None:
    """That ``user_id`` is an active staff member (whom, say, a grant can name); an ``InvalidInput`` if not."""
    user = ctx.session.get(User, user_id)
    if user is None or user.kind != "staff" or not user.active:
        raise InvalidInput(f"user {user_id} is not an active staff member")
