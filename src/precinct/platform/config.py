"""Settings, read once from the environment (``PRECINCT_*``) or a ``.env`` file, then passed down explicitly. A
secret may come from a file instead (``PRECINCT_DATABASE_URL_FILE=/run/secrets/db``), as container platforms mount
them, so that it appears in no process's environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from precinct.core.privacy import PERSONAL_FIELDS
from precinct.platform.db import DEFAULT_WRITERS

ClockStart = Literal["call", "taken", "ordered"]
RetentionDays = Annotated[int, Field(ge=1, le=36_500)]
ENV_PREFIX = "PRECINCT_"
# The settings that may hold a secret (a password in a database or NATS URL, the demo users' password): each may be
# given as the path of a file that holds it, in PRECINCT_<NAME>_FILE.
SECRETS = ("database_url", "nats_url", "demo_password")


class _SecretFiles(PydanticBaseSettingsSource):
    """``PRECINCT_<NAME>_FILE``: the secret setting read from that file (one trailing newline dropped)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is read at once, in __call__

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in SECRETS:
            variable = f"{ENV_PREFIX}{name.upper()}"
            path = os.environ.get(f"{variable}_FILE")
            if not path:
                continue
            if os.environ.get(variable):
                raise ValueError(f"set {variable} or {variable}_FILE, not both")
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as error:
                raise ValueError(f"{variable}_FILE: cannot read {path}: {error.strerror}") from None
            values[name] = text.removesuffix("\n").removesuffix("\r")
        return values


class Settings(BaseSettings):
    """Everything a deployment may tune. Local practices (DOMAIN.md, marks L and U) live here, not in code."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _SecretFiles(settings_cls), dotenv_settings, file_secret_settings

    database_url: str = Field(
        default="sqlite:///var/precinct.sqlite3",
        description="SQLAlchemy URL; sqlite:///… (default, embedded) or postgresql+psycopg://…",
    )
    timezone: str = Field(default="Asia/Shanghai", description="Zone for incident numbers and display")
    response_clock_start: ClockStart = Field(
        default="call", description="Which timestamp starts the response clock: call, taken or ordered"
    )
    default_response_target_s: int = Field(default=300, gt=0, description="When a type sets none")
    duplicate_radius_m: float = Field(default=300.0, gt=0, le=50_000)
    duplicate_window_s: int = Field(default=1800, gt=0, le=7 * 86400)
    acknowledge_deadline_s: int = Field(default=60, gt=0, description="An order not acknowledged by then is overdue")
    max_narrative_chars: int = Field(default=4000, gt=0)
    max_request_bytes: int = Field(default=1_000_000, gt=0)
    catalogue_path: Path | None = Field(default=None, description="Replaces the default incident-type file")
    run_cards_path: Path | None = Field(default=None, description="Replaces the default run-card file (预案)")
    cache_dir: Path = Field(default=Path("var/cache"), description="Where built road graphs are cached")
    snap_max_distance_m: float = Field(
        default=500.0, gt=0, le=10_000, description="Farthest a point may be from a road"
    )
    recommendation_limit_s: float = Field(default=3600.0, gt=0, le=86_400, description="Units farther are not offered")
    reference_check_s: float = Field(
        default=1.0, ge=0, le=60, description="How stale a process's copy of the catalogue and boundaries may be"
    )
    db_writers: int = Field(
        default=DEFAULT_WRITERS, ge=1, le=100, description="Writing transactions at once per process on PostgreSQL"
    )
    db_app_role: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$",
        description="PostgreSQL: the role the application runs as (not the tables' owner); migrations let it "
        "insert and read the audit trail, never update, delete or truncate it",
    )
    run_jobs: bool = Field(default=True, description="Run the background jobs in each API worker")
    job_interval_s: float = Field(default=5.0, gt=0, le=3600, description="How often the background jobs run")
    outbox_retention_days: int = Field(
        default=7, ge=1, le=3650, description="How long sent events stay for pages that reconnect and catch up"
    )
    outbox_brief_topics: list[str] = Field(
        default=["unit.moved"], description="Events worth keeping only briefly: a page wants the latest position"
    )
    outbox_brief_retention_s: int = Field(default=3600, ge=60, le=7 * 86_400, description="How long those stay")
    retention_days: dict[str, RetentionDays] = Field(
        default={"incident": 1825},
        description="Days a closed record keeps its personal fields, by kind of record (JSON, e.g. "
        '{"incident": 1825}); then a job erases them. A kind left out is never anonymised. 1825 days (5 years) for '
        "incidents is a local policy choice, not a figure set by national rules: set your bureau's own",
    )
    grant_max_hours: int = Field(
        default=72, ge=1, le=24 * 31, description="The longest a cross-org grant may run (decision 0011)"
    )
    assist_grant_hours: int = Field(
        default=12,
        ge=1,
        le=24 * 31,
        description="How long a unit's station sees an incident in another org's area after the unit is sent there",
    )
    event_bus: Literal["local", "nats"] = Field(
        default="local", description="How events reach every worker: each reads the outbox, or through NATS JetStream"
    )
    event_poll_s: float = Field(default=0.5, gt=0, le=60, description="How often a worker looks for others' events")
    nats_url: str = Field(default="nats://127.0.0.1:4222", description="The NATS server, with event_bus=nats")
    nats_stream: str = Field(default="PRECINCT", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="JetStream stream")
    nats_subject_prefix: str = Field(default="precinct", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    web_modules_dir: Path = Field(
        default=Path("node_modules"), description="Where npm put the pages' map and chart libraries (scripts/setup)"
    )
    worker_threads: int = Field(default=40, ge=1, le=1000, description="Threads serving requests in each worker")
    # Identity (decision 0008).
    session_lifetime_s: int = Field(
        default=12 * 3600, ge=60, le=7 * 86_400, description="A browser session ends this long after sign-in"
    )
    session_idle_s: int = Field(
        default=30 * 60, ge=60, le=86_400, description="A browser session unused this long ends"
    )
    cookie_secure: bool = Field(
        default=True, description="Send the session cookies over HTTPS only; false for a plain-HTTP local demo"
    )
    sign_in_max_failures: int = Field(
        default=5, ge=1, le=100, description="Wrong passwords within sign_in_failure_window_s that lock an account"
    )
    sign_in_failure_window_s: int = Field(default=15 * 60, ge=1, le=86_400)
    sign_in_lockout_s: int = Field(default=15 * 60, ge=1, le=86_400, description="How long a locked account stays so")
    sign_in_address_limit: int = Field(
        default=30, ge=1, le=10_000, description="Sign-in attempts one client address may make per window"
    )
    sign_in_address_window_s: int = Field(default=5 * 60, ge=1, le=86_400)
    password_hash_memory_kib: int = Field(
        default=65_536, ge=8, le=4_194_304, description="argon2id memory cost; stored hashes are redone on sign-in"
    )
    password_hash_time_cost: int = Field(default=3, ge=1, le=100, description="argon2id passes")
    demo_password: str = Field(
        default="demo-only-not-a-secret",
        min_length=12,
        description="The password of the users the demo makes (demo credentials, printed by precinct demo)",
    )
    log_sql: bool = False

    @field_validator("retention_days")
    @classmethod
    def _known_record_kinds(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(PERSONAL_FIELDS))
        if unknown:
            raise ValueError(
                f"PRECINCT_RETENTION_DAYS: {', '.join(map(repr, unknown))} is not a kind of record that holds "
                f"personal data; use {', '.join(map(repr, sorted(PERSONAL_FIELDS)))}"
            )
        return value
