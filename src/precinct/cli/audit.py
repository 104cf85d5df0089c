"""``precinct audit`` and ``precinct retention``: the audit trail of every write and every reveal of personal data, and
the erasing of personal data kept past its time (a top-level command, registered in main.py)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich import box
from rich.table import Table

from precinct.cli.common import console, context, err, load_settings
from precinct.domains.retention import RetentionReport, apply_retention
from precinct.platform import audit
from precinct.platform.config import Settings

audit_app = typer.Typer(help="The audit trail: every write and every reveal of personal data.", no_args_is_help=True)


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


def retention(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report what would be anonymised")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """Erase the personal fields of records kept past PRECINCT_RETENTION_DAYS (a closed incident's caller name and
    phone), as the background job does, and print what was (or, with --dry-run, would be) anonymised."""
    settings = load_settings()
    with context("retention", write=not dry_run, settings=settings) as ctx:
        report = apply_retention(ctx, dry_run=dry_run)
    if as_json:
        console.print_json(json.dumps(report.to_json()))
        return
    _print_retention(report, ZoneInfo(settings.timezone))


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
