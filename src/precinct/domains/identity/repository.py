"""Queries on users, sessions, tokens and sign-in attempts. The two that authenticate a request are one indexed
lookup each, joined to the user."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, and_, delete, or_, select, update
from sqlalchemy.orm import Session

from precinct.domains.identity.models import ApiToken, SignInThrottle, User, UserSession

_WHO = (User.id, User.kind, User.login, User.role, User.org_id, User.unit_id)


class IdentityRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- users ---

    def user_by_login(self, login: str, *, for_update: bool = False) -> User | None:
        query = select(User).where(User.login == login)
        if for_update:
            query = query.with_for_update()
        return self.session.scalar(query)

    def user_by_unit(self, unit_id: int) -> User | None:
        return self.session.scalar(select(User).where(User.unit_id == unit_id))

    def users(self) -> Sequence[User]:
        return self.session.scalars(select(User).order_by(User.id)).all()

    # --- sessions ---

    def session_principal(self, token_hash: str, now: datetime) -> Any:
        """The session with this token hash and its active user, or ``None``; a session traded for a bearer token
        only while that token is neither revoked nor expired (and with the token's end)."""
        query = (
            select(
                UserSession.id.label("session_id"),
                UserSession.csrf_token,
                UserSession.expires_at,
                UserSession.last_seen_at,
                ApiToken.expires_at.label("token_expires_at"),
                *_WHO,
            )
            .join(User, User.id == UserSession.user_id)
            .outerjoin(ApiToken, ApiToken.id == UserSession.api_token_id)
            .where(
                UserSession.token_hash == token_hash,
                User.active,
                or_(
                    UserSession.api_token_id.is_(None),
                    and_(ApiToken.revoked_at.is_(None), or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now)),
                ),
            )
        )
        return self.session.execute(query).first()

    def touch_session(self, session_id: int, now: datetime) -> None:
        self.session.execute(update(UserSession).where(UserSession.id == session_id).values(last_seen_at=now))

    def end_session(self, session_id: int) -> bool:
        ended: CursorResult[Any] = self.session.execute(  # type: ignore[assignment]
            delete(UserSession).where(UserSession.id == session_id)
        )
        return bool(ended.rowcount)

    def end_sessions_of(self, user_id: int, *, ended_by: datetime | None = None) -> None:
        """Delete the user's sessions: all of them, or only those already ended by ``ended_by`` (their absolute
        end); an idle one is left to its next use."""
        query = delete(UserSession).where(UserSession.user_id == user_id)
        if ended_by is not None:
            query = query.where(UserSession.expires_at <= ended_by)
        self.session.execute(query)

    # --- tokens ---

    def token_principal(self, prefix: str) -> Any:
        """The token with this prefix and its active user, or ``None``."""
        query = (
            select(ApiToken.id.label("token_id"), ApiToken.token_hash, ApiToken.expires_at, ApiToken.revoked_at, *_WHO)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.prefix == prefix, User.active)
        )
        return self.session.execute(query).first()

    def token(self, token_id: int) -> ApiToken | None:
        return self.session.get(ApiToken, token_id)

    def tokens(self) -> Sequence[tuple[ApiToken, str]]:
        query = select(ApiToken, User.login).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
        return [(token, login) for token, login in self.session.execute(query)]

    # --- sign-in attempts per client address ---

    def throttle(self, client_address: str, *, for_update: bool = False) -> SignInThrottle | None:
        query = select(SignInThrottle).where(SignInThrottle.client_address == client_address)
        if for_update:
            query = query.with_for_update()
        return self.session.scalar(query)

    # --- housekeeping ---

    def delete_dead_sessions(self, now: datetime, idle_before: datetime) -> int:
        """Sessions past their absolute end or idle since before ``idle_before``: they sign no one in any more."""
        done: CursorResult[Any] = self.session.execute(  # type: ignore[assignment]
            delete(UserSession).where((UserSession.expires_at <= now) | (UserSession.last_seen_at <= idle_before))
        )
        return done.rowcount

    def delete_old_throttles(self, started_before: datetime) -> int:
        """Sign-in windows that have passed: the next attempt from those addresses starts a new one anyway."""
        done: CursorResult[Any] = self.session.execute(  # type: ignore[assignment]
            delete(SignInThrottle).where(SignInThrottle.window_start <= started_before)
        )
        return done.rowcount
