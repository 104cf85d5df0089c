"""The ``precinct`` command: database, imports, incidents, units, users, KPIs, the server and the demo."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import shapely.geometry
import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from precinct.cli import demo as demo_module
from precinct.domains.analytics import service as analytics
from precinct.domains.dispatch import coverage
from precinct.domains.identity import accounts
from precinct.domains.incidents import catalogue, history
from precinct.domains.incidents import service as incidents
from precinct.domains.incidents.schemas import IncidentCreate
from precinct.domains.jobs import JOBS
from precinct.domains.orgs import service as orgs
from precinct.domains.retention import RetentionReport, apply_retention
from precinct.domains.roads import service as roads
from precinct.domains.units import service as units
from precinct.platform import audit, migrate
from precinct.platform.config import Settings
from precinct.platform.context import Ctx, system_clock
from precinct.platform.db import Database
from precinct.platform.errors import PrecinctError
from precinct.platform.jobs import JobRunner
from precinct.simulator import runner as simulator
from precinct.simulator.options import DEFAULT_START, SimulatorOptions, new_run_id, parse_start

app = typer.Typer(help="precinct: the police station and the command centre above it.", no_args_is_help=True)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
import_app = typer.Typer(help="Import boundaries and history.", no_args_is_help=True)
incidents_app = typer.Typer(help="Incidents.", no_args_is_help=True)
units_app = typer.Typer(help="Units.", no_args_is_help=True)
catalogue_app = typer.Typer(help="The incident-type catalogue.", no_args_is_help=True)
orgs_app = typer.Typer(help="The organisation tree.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail: every write and every reveal of personal data.", no_args_is_help=True)
users_app = typer.Typer(help="Who may sign in: staff, unit terminals and other systems.", no_args_is_help=True)
tokens_app = typer.Typer(help="Bearer tokens of unit terminals and other systems.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(incidents_app, name="incidents")
app.add_typer(units_app, name="units")
app.add_typer(catalogue_app, name="catalogue")
app.add_typer(orgs_app, name="orgs")
app.add_typer(audit_app, name="audit")
app.add_typer(users_app, name="users")
users_app.add_typer(tokens_app, name="token")

console = Console()
err = Console(stderr=True)


def actor() -> str:
    return f"cli:{getpass.getuser()}"


def _host() -> str:
    return socket.gethostname()[:64]


@contextmanager
def context(command: str, *, write: bool = True, settings: Settings | None = None) -> Iterator[Ctx]:
    """One transaction for one command, with a readable error and exit code 1 for any domain error. A command that
    may write (the default) leaves an audit entry naming it in the same transaction; one that only reads says so."""
    settings = settings or Settings()
    db = Database(settings.database_url, writers=settings.db_writers)
    try:
        with db.transaction(write=write) as session:
            ctx = Ctx(session=session, settings=settings, actor=actor())
            yield ctx
            if write:
                audit.record_write(ctx, audit.Origin(action=f"precinct {command}", client_address=_host()))
    except PrecinctError as error:
        err.print(f"[red]error:[/red] {error.message}")
        for problem in error.details.get("problems", [])[:50]:
            err.print(f"  - {problem['message'] if isinstance(problem, dict) else problem}")
        raise typer.Exit(1) from None
    finally:
        db.dispose()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest version."""
    settings = Settings()
    migrate.upgrade(settings.database_url)
    console.print(f"schema up to date at {_safe_url(settings.database_url)}")


@catalogue_app.command("load")
def catalogue_load(
    path: Annotated[Path | None, typer.Argument(help="A catalogue CSV; the default file when omitted")] = None,
) -> None:
    """Load (or replace) the incident-type catalogue."""
    with context("catalogue load") as ctx:
        count = catalogue.load_catalogue(ctx, path or ctx.settings.catalogue_path)
    console.print(f"{count} incident types loaded")


@orgs_app.command("add")
def orgs_add(
    code: Annotated[str, typer.Argument(help="A unique code, e.g. 370811-PCS01")],
    name: Annotated[str, typer.Option()],
    level: Annotated[str, typer.Option(help="city, county, station or community")],
    parent: Annotated[str | None, typer.Option(help="Code of the org above")] = None,
    division_code: Annotated[str | None, typer.Option(help="GB/T 2260 division code (6, 9 or 12 digits)")] = None,
) -> None:
    """Add an org to the tree (a city bureau, a county bureau, a station or a community office)."""
    with context("orgs add") as ctx:
        org = orgs.create_org(ctx, code=code, name=name, level=level, parent_code=parent, division_code=division_code)
        console.print(f"{org.level} {org.code} ({org.name}) added, id {org.id}")


@orgs_app.command("list")
def orgs_list() -> None:
    """Print the organisation tree."""
    with context("orgs list", write=False) as ctx:
        every = list(orgs.list_orgs(ctx))
    children: dict[int | None, list[Any]] = {}
    for org in every:
        children.setdefault(org.parent_id, []).append(org)

    def show(parent: int | None, depth: int) -> None:
        for org in children.get(parent, []):
            code = f" [{org.division_code}]" if org.division_code else ""
            console.print(f"{'  ' * depth}{org.code} {org.name} ({org.level}){code}")
            show(org.id, depth + 1)

    show(None, 0)


@import_app.command("grids")
def import_grids(
    path: Annotated[Path, typer.Argument(help="GeoJSON, shapefile or zipped shapefile, any CRS")],
    code_field: Annotated[str, typer.Option(help="Field holding each grid's code")],
    name_field: Annotated[str | None, typer.Option(help="Field holding each grid's name")] = None,
    kind: Annotated[str, typer.Option(help="grid, police_beat or micro_grid")] = "police_beat",
    station: Annotated[str | None, typer.Option(help="Code of the station every grid belongs to")] = None,
    group_field: Annotated[str | None, typer.Option(help="Field naming each grid's station")] = None,
    root: Annotated[str | None, typer.Option(help="Code of the org above the stations (made if missing)")] = None,
    root_name: Annotated[str | None, typer.Option(help="Name of that org, when it is made")] = None,
    root_level: Annotated[str, typer.Option(help="Level of that org")] = "city",
    repair: Annotated[bool, typer.Option(help="Make self-intersecting polygons valid, reporting each")] = False,
    skip_invalid: Annotated[bool, typer.Option(help="Import the good features and report the rest")] = False,
) -> None:
    """Import grid polygons; invalid, overlapping or self-intersecting ones are reported by feature."""
    options = orgs.GridImportOptions(
        code_field=code_field,
        name_field=name_field,
        kind=kind,
        station_code=station,
        group_field=group_field,
        root_code=root,
        root_name=root_name,
        root_level=root_level,
        repair=repair,
        skip_invalid=skip_invalid,
    )
    with context("import grids") as ctx:
        report = orgs.import_grids(ctx, path, options)
    for note in report.repaired:
        err.print(f"[yellow]repaired:[/yellow] {note}")
    for problem in report.problems:
        err.print(f"[yellow]skipped:[/yellow] {problem['message']}")
    console.print(
        f"{report.features} features: {report.created} grids created, {report.updated} updated, "
        f"{len(report.stations_created)} stations created"
    )


@import_app.command("roads")
def import_roads(
    path: Annotated[Path, typer.Argument(help="An OpenStreetMap extract (.osm.pbf)")],
    name: Annotated[str | None, typer.Option(help="A name for the network")] = None,
) -> None:
    """Build the driving graph from an OSM extract (cached by the file's hash) and make it the active network."""
    with context("import roads") as ctx:
        network = roads.import_roads(ctx, path, name=name, progress=True)
        console.print(f"road network {network.name}: {network.nodes} nodes, {network.edges} directed segments")
        for key, value in network.report.items():
            console.print(f"  {key}: {value}")


@import_app.command("calls")
def import_calls(
    path: Annotated[Path, typer.Argument(help="Calls for service: a point file (zipped shapefile, GeoJSON)")],
    mapping: Annotated[Path, typer.Option(help="CSV mapping a source field's values to catalogue types")],
    date_field: Annotated[str, typer.Option(help="Field holding the date of each call")],
    timezone: Annotated[str | None, typer.Option(help="Zone the dates are in (default: the setting)")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=50_000)] = 2000,
) -> None:
    """Load historical calls as closed incidents; resumable, and a second run adds nothing."""
    with context("import calls"):
        pass  # the import commits batch by batch: the entry says who started it, before the first
    settings = Settings()
    db = Database(settings.database_url, writers=settings.db_writers)
    try:
        with _progress() as progress:
            task = progress.add_task("importing calls", total=None)

            def advance(count: int, total: int) -> None:
                progress.update(task, advance=count, total=total)

            report = history.import_calls(
                db,
                settings,
                path,
                mapping,
                date_field=date_field,
                timezone=timezone,
                batch_size=batch_size,
                on_batch=advance,
            )
    except PrecinctError as error:
        err.print(f"[red]error:[/red] {error.message}")
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    console.print(
        f"{report.records} records: {report.imported} imported, {report.already_present} already present, "
        f"{report.unassigned} outside every jurisdiction, {sum(report.skipped.values())} skipped"
    )
    for reason, count in report.skipped.most_common(20):
        console.print(f"  skipped {count}: {reason}")


@incidents_app.command("create")
def incidents_create(
    type_code: Annotated[str, typer.Option("--type", help="8-character catalogue code")],
    lon: Annotated[float | None, typer.Option()] = None,
    lat: Annotated[float | None, typer.Option()] = None,
    address: Annotated[str | None, typer.Option()] = None,
    narrative: Annotated[str, typer.Option()] = "",
    source: Annotated[str, typer.Option()] = "phone_110",
    priority: Annotated[int | None, typer.Option(min=1, max=4)] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="Retry-safe key")] = None,
) -> None:
    """Take a call from the command line."""
    try:
        data = IncidentCreate.model_validate(
            {
                "type_code": type_code,
                "lon": lon,
                "lat": lat,
                "address": address,
                "narrative": narrative,
                "source": source,
                "priority": priority,
            }
        )
    except ValueError as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    with context("incidents create") as ctx:
        result = incidents.create_incident(ctx, data, idempotency_key)
        incident = result.incident
        console.print(
            f"incident {incident.number} (id {incident.id}) {'created' if result.created else 'already existed'}; "
            f"status {incident.status}, priority {incident.priority}, "
            f"{'unassigned' if incident.unassigned else f'org {incident.org_id}'}"
        )
        for duplicate in result.duplicates:
            console.print(f"  probable duplicate: {duplicate.number} {duplicate.distance_m:.0f} m away")


@units_app.command("add")
def units_add(
    call_sign: Annotated[str, typer.Argument()],
    kind: Annotated[str, typer.Option()],
    org: Annotated[str, typer.Option(help="Code of the unit's home org")],
    capability: Annotated[list[str] | None, typer.Option(help="Repeat for several")] = None,
    lon: Annotated[float | None, typer.Option()] = None,
    lat: Annotated[float | None, typer.Option()] = None,
) -> None:
    """Register a unit."""
    with context("units add") as ctx:
        home = orgs.get_org_by_code(ctx, org)
        unit = units.create_unit(
            ctx,
            call_sign=call_sign,
            kind=kind,
            home_org_id=home.id,
            capabilities=capability or [],
            lon=lon,
            lat=lat,
        )
        console.print(f"unit {unit.call_sign} (id {unit.id}) registered at {home.code}")


@app.command("kpi")
def kpi(
    period_from: Annotated[datetime, typer.Option("--from", help="Start, ISO time with zone")],
    period_to: Annotated[datetime, typer.Option("--to", help="End (exclusive), ISO time with zone")],
    org: Annotated[str | None, typer.Option(help="Org code; its subtree is counted")] = None,
    clock_start: Annotated[str | None, typer.Option(help="call, taken or ordered")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """Station numbers for a period, from timeline events."""
    if clock_start not in (None, "call", "taken", "ordered"):
        err.print("[red]error:[/red] --clock-start must be call, taken or ordered")
        raise typer.Exit(2)
    with context("kpi", write=False) as ctx:
        org_id = orgs.get_org_by_code(ctx, org).id if org else None
        report = analytics.kpi_report(
            ctx, org_id=org_id, period_from=period_from, period_to=period_to, clock_start=clock_start
        )
    if as_json:
        console.print_json(report.model_dump_json())
        return
    _print_kpi(report.model_dump())


def _print_kpi(report: dict[str, Any]) -> None:
    table = Table(title=f"KPIs {report['period_from']} – {report['period_to']}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("incidents", str(report["incidents"]))
    for row in report["by_priority"]:
        table.add_row(f"  priority {row['key']}", str(row["count"]))
    c2d, response = report["call_to_dispatch"], report["response"]
    table.add_row("call to dispatch: median / p90 (s)", f"{_s(c2d['median_s'])} / {_s(c2d['p90_s'])}")
    table.add_row(f"response from {response['clock_start']}: arrivals", str(response["arrivals"]["count"]))
    table.add_row(
        "response: median / p90 (s)",
        f"{_s(response['arrivals']['median_s'])} / {_s(response['arrivals']['p90_s'])}",
    )
    share = response["within_target_share"]
    table.add_row("within target", "–" if share is None else f"{share:.1%}")
    table.add_row("unacknowledged orders", str(report["unacknowledged_orders"]))
    table.add_row(f"  overdue (> {report['acknowledge_deadline_s']} s)", str(report["overdue_acknowledgements"]))
    console.print(table)
    types = Table(title="incidents by type")
    for column in ("code", "type", "count"):
        types.add_column(column)
    for row in report["by_type"][:15]:
        types.add_row(row["key"], row["name"] or "", str(row["count"]))
    console.print(types)


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


@app.command("coverage")
def coverage_command(
    org: Annotated[str | None, typer.Option(help="Org code: only the stations under it")] = None,
    posts: Annotated[
        Path | None, typer.Option(help="GeoJSON of patrol posts (points); the on-duty units when omitted")
    ] = None,
    thresholds: Annotated[str, typer.Option(help="Seconds, comma-separated")] = "60,180,300",
    geojson: Annotated[Path | None, typer.Option(help="Write the reach areas to this GeoJSON file")] = None,
) -> None:
    """1-3-5-minute patrol coverage per station: share of roads, of area and of past incidents reached."""
    try:
        limits = [float(t) for t in thresholds.split(",")]
        points = _read_posts(posts) if posts is not None else None
    except (ValueError, OSError, KeyError, TypeError) as error:
        err.print(f"[red]error:[/red] cannot use the thresholds or posts given: {error}")
        raise typer.Exit(2) from None
    with context("coverage", write=False) as ctx:
        org_id = orgs.get_org_by_code(ctx, org).id if org else None
        found = coverage.coverage(ctx, org_id=org_id, posts=points, thresholds_s=limits)
        table = Table(title=f"coverage from {found.sources} sources on {found.network}")
        for column in ("station", "minutes", "roads", "area", "past incidents"):
            table.add_column(column, justify="right" if column != "station" else "left")
        for s in found.stations:
            table.add_row(
                s.code,
                f"{s.threshold_s / 60:g}",
                _share(s.road_covered_share),
                _share(s.area_covered_share),
                f"{_share(s.incidents_covered_share)} of {s.incidents}",
            )
        console.print(table)
        for note in found.skipped[:10]:
            err.print(f"[yellow]skipped:[/yellow] {note}")
        if geojson is not None:
            features = [
                {
                    "type": "Feature",
                    "geometry": shapely.geometry.mapping(level.polygon),
                    "properties": {"threshold_s": level.threshold_s, "reachable_length_m": level.reachable_length_m},
                }
                for level in found.levels
            ]
            geojson.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
            console.print(f"reach areas written to {geojson}")


def _read_posts(path: Path) -> list[tuple[float, float]]:
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    return [(float(f["geometry"]["coordinates"][0]), float(f["geometry"]["coordinates"][1])) for f in features]


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


@audit_app.command("verify")
def audit_verify(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """Recompute the audit trail's hash chain and name every entry edited, deleted or inserted since it was sealed;
    exit code 1 if any was."""
    with context("audit verify", write=False) as ctx:
        result = audit.verify(ctx.session)
    if as_json:
        console.print_json(json.dumps(result.to_json()))
    elif result.ok:
        head = f"entry {result.head_entry_id}, {result.head_hash}" if result.head_hash else "none yet"
        console.print(
            f"audit trail intact: {result.sealed} entries sealed (chain head: {head}), "
            f"{result.waiting} waiting to be sealed",
            soft_wrap=True,
        )
    else:
        for finding in result.findings:
            err.print(f"[red]{finding.problem}[/red] entry {finding.entry_id}: {finding.message}", soft_wrap=True)
        err.print(f"audit trail tampered with: {len(result.findings)} finding(s) in {result.sealed} sealed entries")
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("show")
def audit_show(
    since: Annotated[str | None, typer.Option(help="ISO time; in PRECINCT_TIMEZONE unless it has an offset")] = None,
    by: Annotated[str | None, typer.Option("--actor", help="Only this actor's entries, e.g. cli:alice")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines")] = False,
) -> None:
    """The newest entries of the audit trail, oldest first."""
    settings = Settings()
    zone = ZoneInfo(settings.timezone)
    try:
        start = datetime.fromisoformat(since) if since else None
    except ValueError:
        err.print(f"[red]error:[/red] --since {since!r} is not an ISO time such as 2026-11-23T08:00")
        raise typer.Exit(2) from None
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=zone)
    with context("audit show", write=False, settings=settings) as ctx:
        entries = audit.recent_entries(ctx.session, since=start, actor=by, limit=limit)
    if as_json:
        for entry in entries:
            console.print_json(json.dumps({**entry._asdict(), "at": entry.at.isoformat()}), indent=None)
        return
    table = Table(title=f"audit trail: {len(entries)} entries")
    for column in ("id", "at", "actor", "kind", "action", "ids", "request", "from", "reason"):
        table.add_column(column)
    for entry in entries:
        ids = {**(entry.path_params or {}), **({"result": entry.result_id} if entry.result_id is not None else {})}
        what = f"{entry.method} {entry.action}" if entry.method else entry.action
        if entry.kind == "reveal":
            what = f"{entry.subject} {entry.field}"
        table.add_row(
            str(entry.id),
            entry.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
            entry.actor,
            entry.kind,
            what,
            " ".join(f"{k}={v}" for k, v in ids.items()),
            entry.request_id or "",
            entry.client_address or "",
            entry.reason or "",
        )
    console.print(table)


@audit_app.command("restrict-role")
def audit_restrict_role(
    role: Annotated[
        str | None, typer.Argument(help="The application's role; PRECINCT_DB_APP_ROLE when omitted")
    ] = None,
) -> None:
    """PostgreSQL: let the role the application runs as add to the audit trail and read it, never update, delete or
    truncate it (the migration does this for PRECINCT_DB_APP_ROLE; this is for a role made later)."""
    settings = Settings()
    role = role or settings.db_app_role
    if role is None:
        err.print("[red]error:[/red] name the role, or set PRECINCT_DB_APP_ROLE")
        raise typer.Exit(2)
    with context("audit restrict-role", settings=settings) as ctx:
        audit.restrict_app_role(ctx.session, role)
    console.print(f"role {role} may insert into and read audit_log and audit_seals, and nothing more there")


@app.command("retention")
def retention(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report what would be anonymised")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """Erase the personal fields of records kept past PRECINCT_RETENTION_DAYS (a closed incident's caller name and
    phone), as the background job does, and print what was (or, with --dry-run, would be) anonymised."""
    settings = _settings()
    with context("retention", write=not dry_run, settings=settings) as ctx:
        report = apply_retention(ctx, dry_run=dry_run)
    if as_json:
        console.print_json(json.dumps(report.to_json()))
        return
    _print_retention(report, ZoneInfo(settings.timezone))


def _settings() -> Settings:
    """The settings, or each problem with them on a line of its own naming the variable, and exit code 2."""
    try:
        return Settings()
    except SettingsError as error:  # a value that is not even JSON
        err.print(f"[red]error:[/red] {escape(str(error))}", soft_wrap=True)
    except ValidationError as error:
        for problem in error.errors():
            name = f"PRECINCT_{str(problem['loc'][0]).upper()}" if problem["loc"] else "a setting"
            message = problem["msg"].removeprefix("Value error, ")
            if not message.startswith(name):
                inside = " ".join(str(part) for part in problem["loc"][1:])
                message = f"{name}{f' {inside}' if inside else ''}: {message}"
            err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(2)


def _print_retention(report: RetentionReport, zone: ZoneInfo) -> None:
    def day(at: datetime | None) -> str:
        return "–" if at is None else at.astimezone(zone).date().isoformat()

    done = "would anonymise (dry run)" if report.dry_run else "anonymised"
    table = Table(title=f"retention: {done} {report.records} record(s)", box=box.SIMPLE_HEAD)
    for column in ("record", "days", "records", "closed from", "closed to", "field", "erased"):
        table.add_column(column, justify="right" if column in ("days", "records", "erased") else "left", no_wrap=True)
    for kind in report.kinds:
        kept = "for good" if kind.retention_days is None else str(kind.retention_days)
        fields = list(kind.fields.items()) or [("–", 0)]
        for n, (name, count) in enumerate(fields):
            head = (kind.record, kept, str(kind.records), day(kind.oldest), day(kind.newest)) if n == 0 else ("",) * 5
            table.add_row(*head, name, str(count) if count else "–")
    console.print(table)


def _read_password(password_file: Path | None) -> str:
    """From the file's first line (without its line break), else typed twice at a hidden prompt: never an argument,
    which would stay in the shell's history and the process list."""
    if password_file is None:
        return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))
    try:
        lines = password_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        err.print(f"[red]error:[/red] cannot read the password file: {error.__class__.__name__}")
        raise typer.Exit(2) from None
    return lines[0] if lines else ""


SIMULATOR_TOKEN_ENV = "PRECINCT_SIMULATOR_TOKEN"
PasswordFile = Annotated[
    Path | None, typer.Option(help="Read the password from this file's first line instead of a prompt")
]


@users_app.command("add")
def users_add(
    login: Annotated[str, typer.Argument(help="The login name: a–z, 0–9 and . _ -")],
    role: Annotated[str, typer.Option(help=", ".join(accounts.ROLES))],
    org: Annotated[str, typer.Option(help="Code of the user's org")],
    name: Annotated[str | None, typer.Option(help="The name shown for them (the login when omitted)")] = None,
    password_file: PasswordFile = None,
) -> None:
    """Add a staff member with one role in an org."""
    password = _read_password(password_file)
    with context("users add") as ctx:
        user = accounts.create_user(ctx, login=login, role=role, org_code=org, password=password, display_name=name)
        console.print(f"user {user.login} ({user.role} at {org}) added, id {user.id}")


@users_app.command("list")
def users_list() -> None:
    """Every user, terminal and system, and the tokens they hold."""
    with context("users list", write=False) as ctx:
        codes = {o.id: o.code for o in orgs.list_orgs(ctx)}
        every, tokens = accounts.list_users(ctx), accounts.list_tokens(ctx)
        now = system_clock()
        table = Table(title=f"{len(every)} users")
        for column in ("id", "login", "name", "kind", "role", "org", "state"):
            table.add_column(column)
        for user in every:
            state = "active" if user.active else "disabled"
            if user.active and user.locked_until is not None and user.locked_until > now:
                state = "locked"
            org_code = codes.get(user.org_id, "") if user.org_id is not None else ""
            table.add_row(str(user.id), user.login, user.display_name, user.kind, user.role or "", org_code, state)
    console.print(table)
    if tokens:
        listing = Table(title=f"{len(tokens)} tokens")
        for column in ("id", "owner", "prefix", "created", "expires", "state"):
            listing.add_column(column)
        for token, owner in tokens:
            expired = token.expires_at is not None and token.expires_at <= now
            state = "revoked" if token.revoked_at is not None else "expired" if expired else "valid"
            expires = token.expires_at.date().isoformat() if token.expires_at else "never"
            listing.add_row(str(token.id), owner, token.prefix, token.created_at.date().isoformat(), expires, state)
        console.print(listing)


@users_app.command("disable")
def users_disable(login: Annotated[str, typer.Argument()]) -> None:
    """Stop a user signing in; their sessions and tokens stop working at once."""
    with context("users disable") as ctx:
        user = accounts.disable_user(ctx, login)
        console.print(f"user {user.login} disabled; their sessions are ended")


@users_app.command("password")
def users_password(login: Annotated[str, typer.Argument()], password_file: PasswordFile = None) -> None:
    """Set a new password; it unlocks the account and ends its sessions."""
    password = _read_password(password_file)
    with context("users password") as ctx:
        user = accounts.set_password(ctx, login, password)
        console.print(f"password of {user.login} changed; their sessions are ended")


@tokens_app.command("add")
def tokens_add(
    unit: Annotated[str | None, typer.Option(help="Call sign of the unit whose terminal uses it")] = None,
    system: Annotated[str | None, typer.Option(help="Name of the system that uses it")] = None,
    org: Annotated[str | None, typer.Option(help="A new system: code of the org whose data it serves")] = None,
    role: Annotated[str | None, typer.Option(help="A new system: the role it acts in, e.g. dispatcher")] = None,
    expires_days: Annotated[int | None, typer.Option(min=1, max=3650, help="Expire after this many days")] = None,
) -> None:
    """Make a bearer token for a unit's terminal or another system, and print it once."""
    if (unit is None) == (system is None):
        err.print("[red]error:[/red] give either --unit CALL_SIGN or --system NAME")
        raise typer.Exit(2)
    with context("users token add") as ctx:
        row, token = accounts.add_token(
            ctx, unit_call_sign=unit, system_name=system, org_code=org, role=role, expires_days=expires_days
        )
        owner = f"device:{unit}" if unit is not None else f"system:{system}"
    expires = row.expires_at.isoformat() if row.expires_at else "never"
    console.print(f"token {row.id} for {owner} (expires: {expires}); it is shown this once, store it now:")
    console.print(token, soft_wrap=True, markup=False, highlight=False)


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[int, typer.Argument(min=1, help="The token's id (precinct users list)")]) -> None:
    """Revoke a token: requests bearing it are refused from now on."""
    with context("users token revoke") as ctx:
        token = accounts.revoke_token(ctx, token_id)
        console.print(f"token {token.id} ({token.prefix}) revoked")


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64)] = 1,
) -> None:
    """Run the HTTP API with uvicorn."""
    import uvicorn

    uvicorn.run("precinct.web.main:app", host=host, port=port, workers=workers, log_level="info")


@app.command("worker")
def worker(once: Annotated[bool, typer.Option("--once", help="Run every job once and stop")] = False) -> None:
    """Run the background jobs (orders not acknowledged in time, …) every job_interval_s, apart from the API."""
    settings = Settings()
    db = Database(settings.database_url, writers=settings.db_writers)
    runner = JobRunner(db, settings, system_clock, JOBS)
    try:
        if once:
            runner.run_once()
        else:
            console.print(f"running {len(JOBS)} job(s) every {settings.job_interval_s:g} s — Ctrl-C to stop")
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(runner.run_forever())
    finally:
        db.dispose()


@app.command("demo")
def demo(
    data: Annotated[Path, typer.Option(help="The shared data folder")] = Path("../shared/data"),
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the server when ready")] = True,
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    simulate_after: Annotated[
        bool, typer.Option("--simulate/--no-simulate", help="Make it live: run the simulator beside the server")
    ] = True,
) -> None:
    """Build the Portland demo (tree, units, August 2016 history) and serve it, alive with simulated units and calls."""
    settings = Settings()
    summary = demo_module.build(settings, data, console)
    console.print_json(json.dumps(asdict(summary)))
    console.print(demo_module.sign_in_note(settings), soft_wrap=True, markup=False)
    if not serve_after:
        return
    base_url = f"http://127.0.0.1:{port}"
    console.print(f"serving on {base_url} — Ctrl-C to stop; the API is described at {base_url}/docs")
    console.print(f"command screen: {base_url}/command", soft_wrap=True)
    simulator_token, terminal_token = demo_module.demo_tokens(settings)
    if terminal_token is not None:
        who = f"{demo_module.TERMINAL_UNIT}, left to you" if simulate_after else demo_module.TERMINAL_UNIT
        console.print(
            f"officer terminal ({who}): {base_url}/terminal — DEMO terminal token, for a day:", soft_wrap=True
        )
        console.print(terminal_token, soft_wrap=True, markup=False, highlight=False)
    process = _start_simulator(base_url, data, simulator_token) if simulate_after else None
    import uvicorn

    # uvicorn raises the signal that stopped it again once it has shut down; SIGTERM must then unwind through the
    # ``finally`` below (which stops the simulator) instead of ending the process on the spot.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        # With the simulator running, every unit reports its position every few seconds: no line per request.
        uvicorn.run("precinct.web.main:app", host="127.0.0.1", port=port, log_level="info", access_log=process is None)
    finally:
        if process is not None:
            _stop_simulator(process)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _start_simulator(base_url: str, data: Path, token: str) -> subprocess.Popen[bytes]:
    """``precinct simulate`` in a process of its own (same Python), waiting for the server that starts next; its
    token goes in the environment, which other users cannot read, never in the arguments, which they can."""
    command = [sys.executable, "-m", "precinct.cli.main", "simulate", "--url", base_url, "--data", str(data.resolve())]
    environment = {**os.environ, SIMULATOR_TOKEN_ENV: token}
    return subprocess.Popen([*command, "--leave", demo_module.TERMINAL_UNIT], env=environment)


def _stop_simulator(process: subprocess.Popen[bytes]) -> None:
    # After Ctrl-C the simulator stops on its own signal; otherwise it is told to.
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=3)
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@app.command("simulate")
def simulate(
    url: Annotated[str, typer.Option(help="The running server")] = "http://127.0.0.1:8000",
    data: Annotated[Path, typer.Option(help="The shared data folder (road extract and calls)")] = Path(
        "../shared/data"
    ),
    speed: Annotated[float, typer.Option(min=0.01, max=100_000, help="Historical minutes per wall minute")] = 10.0,
    start: Annotated[
        str, typer.Option(help="Historical time to replay calls from; Portland time unless it has an offset")
    ] = DEFAULT_START,
    dispatch_after: Annotated[
        float, typer.Option(min=0, help="Seconds an incident waits before the simulated dispatcher acts; 0 = never")
    ] = 45.0,
    leave: Annotated[
        str | None, typer.Option(help="Call signs, comma-separated, of units left to people (never moved)")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seeds every random choice")] = 1,
    duration: Annotated[float | None, typer.Option(min=0, help="Stop after this many seconds")] = None,
    position_interval: Annotated[
        float, typer.Option(min=0.05, max=600, help="Seconds between a moving unit's position reports")
    ] = 3.0,
    drive_speedup: Annotated[
        float, typer.Option(min=0.01, max=10_000, help="Drive this much faster than roads allow")
    ] = 1.0,
    roads: Annotated[Path | None, typer.Option(help="The OSM extract the server routes on")] = None,
    calls: Annotated[Path | None, typer.Option(help="Historical calls to replay")] = None,
    mapping: Annotated[Path | None, typer.Option(help="CSV mapping the calls to catalogue types")] = None,
    run_id: Annotated[str | None, typer.Option(help="Names this run in the calls' idempotency keys")] = None,
    wait: Annotated[float, typer.Option(min=0, help="Seconds to wait for the server to answer")] = 60.0,
    token_file: Annotated[
        Path | None,
        typer.Option(help=f"A file whose first line is the simulator's bearer token (else ${SIMULATOR_TOKEN_ENV})"),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="Log every refused request too")] = False,
) -> None:
    """Make a running demo live: units patrol and answer their orders, past calls come in again, and a dispatcher
    sends units to calls left waiting. A client of the HTTP API and the live feed only, with a token of
    system:simulator (precinct users token add --system simulator --org PDX --role dispatcher)."""
    token = _read_password(token_file) if token_file is not None else os.environ.get(SIMULATOR_TOKEN_ENV, "")
    if not token.strip():
        err.print(
            f"[red]error:[/red] the simulator needs a token: --token-file or ${SIMULATOR_TOKEN_ENV} "
            "(precinct users token add --system simulator --org PDX --role dispatcher)"
        )
        raise typer.Exit(2)
    try:
        options = SimulatorOptions(
            url=url.rstrip("/"),
            token=token.strip(),
            roads_path=roads or data / "osm" / "portland-central-filtered.osm.pbf",
            calls_path=calls or data / "portland" / "080116_083116_Data.zip",
            mapping_path=mapping,
            cache_dir=Settings().cache_dir,
            speed=speed,
            start=parse_start(start),
            dispatch_after_s=dispatch_after,
            leave=frozenset(sign.strip() for sign in (leave or "").split(",") if sign.strip()),
            seed=seed,
            duration_s=duration,
            position_interval_s=position_interval,
            drive_speedup=drive_speedup,
            run_id=run_id or new_run_id(),
            health_timeout_s=wait,
        )
    except ValueError as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s simulator: %(message)s",
        datefmt="%H:%M:%S",
    )
    for chatty in ("httpx", "httpcore", "websockets"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        stats = asyncio.run(simulator.main(options))
    except simulator.SimulatorError as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    except (KeyboardInterrupt, asyncio.CancelledError):
        err.print("simulator stopped")
        return
    console.print(f"simulator stopped: {stats.line()}", soft_wrap=True)


@contextmanager
def _progress() -> Iterator[Progress]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
    ) as progress:
        yield progress


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":  # the demo starts the simulator as ``python -m precinct.cli.main simulate``
    app()
