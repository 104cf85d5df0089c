"""Retention: past PRECINCT_RETENTION_DAYS a closed or merged incident loses its caller's details, by a job or
``precinct retention``; a dry run reports the same and changes nothing; open and recent incidents keep theirs."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from tests.conftest import Clock, Templates
from typer.testing import CliRunner

from precinct.cli.main import app as cli
from precinct.core.privacy import PERSONAL_FIELDS
from precinct.domains import retention
from precinct.domains.incidents import retention as incident_retention
from precinct.domains.incidents import service as incidents
from precinct.domains.incidents.models import Incident
from precinct.domains.incidents.repository import _closed_holding_personal_data
from precinct.domains.incidents.schemas import IncidentCreate
from precinct.domains.jobs import JOBS
from precinct.platform import audit, migrate
from precinct.platform.config import Settings
from precinct.platform.db import Database

KEPT_DAYS = 1825  # the default
DOWNTOWN = (-122.6765, 45.5231)
NAME, PHONE = "张三丰", "13812345678"


def take_call(ctx_factory: Callable[[], Any], name: str | None = NAME, phone: str | None = PHONE) -> int:
    with ctx_factory() as ctx:
        data = IncidentCreate(
            type_code="01020100", lon=DOWNTOWN[0], lat=DOWNTOWN[1], caller_name=name, caller_phone=phone
        )
        return incidents.create_incident(ctx, data).incident.id


def close(ctx_factory: Callable[[], Any], incident_id: int) -> None:
    with ctx_factory() as ctx:
        incidents.close(ctx, incident_id)


def callers(db: Database) -> dict[int, tuple[str | None, str | None]]:
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(Incident.id, Incident.caller_name, Incident.caller_phone))
        return {row.id: (row.caller_name, row.caller_phone) for row in rows}


@dataclass
class Station:
    """Incidents of every kind the rule tells apart, 1,826 days after the first were closed."""

    closed: int  # closed 1,826 days ago
    merged: int  # merged into ``open`` 1,826 days ago
    phone_only: int  # closed 1,826 days ago; the caller gave no name
    no_caller: int  # closed 1,826 days ago; no personal data
    open: int  # taken 1,826 days ago, never closed
    reopened: int  # closed 1,826 days ago, then reopened
    recent: int  # closed 11 days ago: inside its retention
    closed_at: datetime  # when the old ones closed

    @property
    def expired(self) -> set[int]:
        return {self.closed, self.merged, self.phone_only}


@pytest.fixture
def station(ctx_factory: Callable[[], Any], clock: Clock) -> Station:
    closed, merged, phone_only = take_call(ctx_factory), take_call(ctx_factory), take_call(ctx_factory, name=None)
    no_caller, still_open, reopened = take_call(ctx_factory, None, None), take_call(ctx_factory), take_call(ctx_factory)
    for incident_id in (closed, phone_only, no_caller, reopened):
        close(ctx_factory, incident_id)
    with ctx_factory() as ctx:
        incidents.merge(ctx, merged, still_open)
    closed_at = clock.now
    clock.advance(3600)
    with ctx_factory() as ctx:
        incidents.reopen(ctx, reopened)
    clock.now = closed_at + timedelta(days=KEPT_DAYS - 10)
    recent = take_call(ctx_factory)
    close(ctx_factory, recent)
    clock.now = closed_at + timedelta(days=KEPT_DAYS + 1)
    return Station(closed, merged, phone_only, no_caller, still_open, reopened, recent, closed_at)


def run(ctx_factory: Callable[[], Any], *, dry_run: bool = False) -> retention.RetentionReport:
    with ctx_factory() as ctx:
        return retention.apply_retention(ctx, dry_run=dry_run)


def test_a_dry_run_changes_nothing_and_reports_exactly_what_the_run_then_erases(
    ctx_factory: Callable[[], Any], db: Database, station: Station
) -> None:
    before = callers(db)
    dry = run(ctx_factory, dry_run=True)
    assert callers(db) == before
    [incident] = dry.kinds
    assert (incident.record, incident.retention_days, incident.records) == ("incident", KEPT_DAYS, 3)
    assert incident.oldest == incident.newest == station.closed_at
    assert incident.fields == {"caller_name": 2, "caller_phone": 3}

    done = run(ctx_factory)
    assert done.kinds == dry.kinds
    assert dry.dry_run
    assert not done.dry_run
    after = callers(db)
    assert {i for i, values in after.items() if values != before[i]} == station.expired
    assert all(after[i] == (None, None) for i in station.expired)


def test_open_reopened_and_recent_incidents_keep_their_callers(
    ctx_factory: Callable[[], Any], db: Database, station: Station
) -> None:
    run(ctx_factory)
    after = callers(db)
    for kept in (station.open, station.reopened, station.recent):
        assert after[kept] == (NAME, PHONE)
    with ctx_factory() as ctx:
        assert incidents.get_incident(ctx, station.open).status == "received"  # 1,826 days old, still open


def test_the_retention_is_counted_from_the_closing_to_the_second(
    ctx_factory: Callable[[], Any], clock: Clock, station: Station
) -> None:
    clock.now = station.closed_at + timedelta(days=KEPT_DAYS)
    assert run(ctx_factory, dry_run=True).records == 0
    clock.advance(1)
    assert run(ctx_factory, dry_run=True).records == 3


def test_a_second_run_finds_nothing(ctx_factory: Callable[[], Any], db: Database, station: Station) -> None:
    assert run(ctx_factory).records == 3
    before = callers(db)
    again = run(ctx_factory)
    assert again.records == 0
    assert (again.kinds[0].fields, again.kinds[0].oldest) == ({}, None)
    assert run(ctx_factory, dry_run=True).records == 0
    assert callers(db) == before


def test_many_batches_report_as_one(ctx_factory: Callable[[], Any], db: Database, station: Station) -> None:
    with ctx_factory() as ctx:
        dry = incident_retention.anonymise_expired(ctx, KEPT_DAYS, dry_run=True)
    with ctx_factory() as ctx:
        assert incident_retention.anonymise_expired(ctx, KEPT_DAYS, batch=2) == dry
    assert all(callers(db)[i] == (None, None) for i in station.expired)


def test_a_kind_left_out_of_the_setting_is_never_anonymised(
    ctx_factory: Callable[[], Any], db: Database, settings: Settings, station: Station
) -> None:
    settings.retention_days = {}
    before = callers(db)
    report = run(ctx_factory)
    assert [(k.record, k.retention_days, k.records) for k in report.kinds] == [("incident", None, 0)]
    assert callers(db) == before


def test_the_job_anonymises_and_leaves_one_audit_entry_only_when_it_did(
    ctx_factory: Callable[[], Any], station: Station
) -> None:
    assert retention.anonymise_expired_records in JOBS
    with ctx_factory() as ctx:
        assert retention.anonymise_expired_records(ctx) == 3
    with ctx_factory() as ctx:
        assert retention.anonymise_expired_records(ctx) == 0
    with ctx_factory() as ctx:
        entries = [e for e in audit.recent_entries(ctx.session) if e.action.startswith("job ")]
    assert [(e.kind, e.action, e.path_params, e.actor) for e in entries] == [
        ("write", "job anonymise_expired_records", {"incident": "3"}, "test")
    ]


def test_every_kind_with_personal_fields_has_an_anonymiser() -> None:
    assert set(retention.ANONYMISERS) == set(PERSONAL_FIELDS)


def test_a_bad_retention_setting_is_refused_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="'incidents' is not a kind of record that holds personal data; use "):
        Settings(retention_days={"incidents": 30}, _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        Settings(retention_days={"incident": 0}, _env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("PRECINCT_RETENTION_DAYS", '{"incident": 30}')
    assert Settings(_env_file=None).retention_days == {"incident": 30}  # type: ignore[call-arg]
    refused = CliRunner().invoke(cli, ["retention"], env={"PRECINCT_RETENTION_DAYS": '{"persons": 30}'})
    assert refused.exit_code == 2
    assert "PRECINCT_RETENTION_DAYS: 'persons' is not a kind of record that holds personal data" in refused.output


def test_the_cli_prints_the_report_and_audits_the_run(
    ctx_factory: Callable[[], Any], db: Database, settings: Settings, clock: Clock
) -> None:
    # The command runs on the real clock: the incidents close 20 days before it, with a retention of 10 days.
    clock.now = datetime.now(UTC) - timedelta(days=20)
    expired = take_call(ctx_factory)
    close(ctx_factory, expired)
    env = {"PRECINCT_DATABASE_URL": settings.database_url, "PRECINCT_RETENTION_DAYS": '{"incident": 10}'}
    runner = CliRunner()

    table = runner.invoke(cli, ["retention", "--dry-run"], env=env)
    assert table.exit_code == 0, table.output
    assert "would anonymise (dry run) 1 record(s)" in table.output
    rows = [line.split() for line in table.output.splitlines()]
    closed_on = clock.now.astimezone(ZoneInfo(settings.timezone)).date().isoformat()  # shown in the local zone
    assert ["incident", "10", "1", closed_on, closed_on, "caller_name", "1"] in rows
    assert ["caller_phone", "1"] in rows
    assert callers(db)[expired] == (NAME, PHONE)

    done = runner.invoke(cli, ["retention", "--json"], env=env, terminal_width=200)
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert (report["dry_run"], report["records"]) == (False, 1)
    [incident] = report["kinds"]
    assert incident["fields"] == {"caller_name": 1, "caller_phone": 1}
    assert incident["retention_days"] == 10
    assert datetime.fromisoformat(incident["oldest"]) == clock.now
    assert callers(db)[expired] == (None, None)

    again = runner.invoke(cli, ["retention"], env=env)
    assert "anonymised 0 record(s)" in again.output
    with ctx_factory() as ctx:
        actions = [e.action for e in audit.recent_entries(ctx.session)]
    assert actions.count("precinct retention") == 2  # each run that may write; never the dry run


def test_the_look_for_expired_incidents_uses_the_partial_index(templates: Templates, tmp_path: Path) -> None:
    """SQLite keeps no statistics: the condition must let it choose the small partial index over the status one."""
    url = templates.fresh("sqlite", seeded=False)
    migrate.upgrade(url)
    engine = sa.create_engine(url)
    query = sa.select(Incident.id).where(_closed_holding_personal_data(datetime(2026, 1, 1, tzinfo=UTC))).limit(10)
    with engine.connect() as conn:
        sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
    engine.dispose()
    assert "ix_incidents_closed_personal" in plan, plan
