"""Secrets and their hashes: argon2id for passwords (slow on purpose), SHA-256 for random tokens (already
unguessable, so a fast hash is enough and lookup stays one indexed query), and the password rules."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from precinct.platform.config import Settings

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024  # hashing is the costly part of a sign-in; the input need not be unbounded
TOKEN_PREFIX = "pct"  # marks a precinct bearer token, so secret scanners and people can tell one when they see it
_PARALLELISM = 4


def hasher(settings: Settings) -> PasswordHasher:
    return _hasher(settings.password_hash_time_cost, settings.password_hash_memory_kib)


@functools.cache
def _hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=_PARALLELISM, type=Type.ID)


@functools.cache
def _dummy_hash(time_cost: int, memory_kib: int) -> str:
    return _hasher(time_cost, memory_kib).hash(secrets.token_urlsafe(16))


def password_problem(password: str, login: str) -> str | None:
    """What is wrong with ``password`` for ``login``, or ``None`` when it may be used."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"the password must be at least {MIN_PASSWORD_CHARS} characters long"
    if len(password) > MAX_PASSWORD_CHARS:
        return f"the password must be at most {MAX_PASSWORD_CHARS} characters long"
    if password.strip().casefold() == login.strip().casefold():
        return "the password must not be the login name"
    return None


def hash_password(settings: Settings, password: str) -> str:
    return hasher(settings).hash(password)


@dataclass(frozen=True)
class PasswordCheck:
    matches: bool
    new_hash: str | None = None  # set when it matched under older parameters: store this one instead


def check_password(settings: Settings, stored_hash: str | None, password: str) -> PasswordCheck:
    """Verify ``password`` against ``stored_hash``. With no hash (an unknown login, or a device) a dummy hash is
    verified instead, so a wrong login takes as long as a wrong password."""
    ph = hasher(settings)
    if stored_hash is None:
        with contextlib.suppress(VerificationError):
            ph.verify(_dummy_hash(settings.password_hash_time_cost, settings.password_hash_memory_kib), password)
        return PasswordCheck(matches=False)
    try:
        ph.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return PasswordCheck(matches=False)
    return PasswordCheck(matches=True, new_hash=ph.hash(password) if ph.check_needs_rehash(stored_hash) else None)


def new_secret() -> str:
    """32 random bytes, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_bearer_token() -> tuple[str, str]:
    """A new bearer token and its prefix (the token's id in lookups and listings)."""
    prefix = secrets.token_hex(6)
    return f"{TOKEN_PREFIX}_{prefix}_{new_secret()}", prefix


def bearer_prefix(token: str) -> str | None:
    """The prefix of a well-formed bearer token, else ``None``."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or len(parts[1]) != 12 or len(parts[2]) < 40:
        return None
    return parts[1]


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison, so the time taken tells nothing about how much of ``given`` was right."""
    return hmac.compare_digest(given.encode(), expected.encode())
