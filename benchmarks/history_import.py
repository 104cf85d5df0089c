"""Benchmark the history import: Portland's 19,376 August 2016 calls for service loaded as closed incidents by
``history.import_calls`` (batched, one transaction per batch), against the per-call service path.

Per backend, on a fresh seeded database: reading the file alone; the whole import (reading included); a second,
idempotent run that imports nothing; and ``service.create_incident`` in one transaction per call on a subset,
extrapolated to the whole file.

    uv run python benchmarks/history_import.py [--backends sqlite,postgresql] [--naive 500] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from rich.table import Table

from _common import (
    CALL_MAPPING,
    CALLS_DATE_FIELD,
    CALLS_TIMEZONE,
    CALLS_ZIP,
    FreshDatabases,
    console,
    data_present,
    fresh_databases,
    machine,
    parse_backends,
    settings_for,
)
from precinct.core.calls import read_call_points
from precinct.domains.incidents import history
from precinct.domains.incidents import service as incidents
from precinct.domains.incidents.schemas import IncidentCreate
from precinct.platform.context import Ctx
from precinct.platform.db import Database

TARGET_INCIDENTS_PER_S = 5_000
TARGET_BACKEND = "sqlite"


@dataclass
class Timing:
    backend: str
    method: str
    records: int
    imported: int
    seconds: float  # the median of the runs
    runs: list[float]
    extrapolated_from: int | None = None

    @property
    def incidents_per_s(self) -> float | None:
        return self.imported / self.seconds if self.imported and self.seconds > 0 else None


def time_reading() -> tuple[float, int]:
    start = time.perf_counter()
    records = read_call_points(CALLS_ZIP)
    return time.perf_counter() - start, len(records)


def time_import(db: Database, url: str, batch_size: int) -> tuple[float, history.ImportReport]:
    start = time.perf_counter()
    report = history.import_calls(
        db,
        settings_for(url),
        CALLS_ZIP,
        CALL_MAPPING,
        date_field=CALLS_DATE_FIELD,
        timezone=CALLS_TIMEZONE,
        batch_size=batch_size,
    )
    return time.perf_counter() - start, report


def time_per_call(db: Database, url: str, n_calls: int) -> tuple[float, int, int]:
    """``create_incident`` for the first ``n_calls`` mappable calls, each in its own transaction as an HTTP request
    would be, with an idempotency key so that a rerun adds nothing (as the importer guarantees). The time of call is
    now: the service refuses calls over a year old. Returns (seconds, incidents made, calls that failed)."""
    records = read_call_points(CALLS_ZIP)
    mapping = history.read_mapping(CALL_MAPPING)
    bodies = []
    for i in range(len(records)):
        mapped = mapping.types.get(str(records.fields[mapping.field][i]).strip())
        if mapped is None or not np.isfinite(records.lon[i]):
            continue
        body = IncidentCreate(
            type_code=mapped[0], priority=mapped[1], lon=float(records.lon[i]), lat=float(records.lat[i])
        )
        bodies.append((f"naive-import:{i}", body))
        if len(bodies) == n_calls:
            break
    settings = settings_for(url)
    made = failed = 0
    start = time.perf_counter()
    for key, body in bodies:
        try:
            with db.transaction() as session:
                result = incidents.create_incident(
                    Ctx(session=session, settings=settings, actor="import:naive"), body, key
                )
            made += int(result.created)
        except Exception:  # counted and reported; one bad call must not stop the measurement
            failed += 1
    return time.perf_counter() - start, made, failed


def run_backend(
    databases: FreshDatabases, backend: str, batch_size: int, n_naive: int, repeats: int
) -> tuple[list[Timing], dict[str, Any]]:
    """Each repeat on a fresh database, as the machine is shared and one run can be unlucky; the second (idempotent)
    run and the per-call path follow the last import."""
    read_runs: list[float] = []
    import_runs: list[float] = []
    for repeat in range(repeats):
        read_s, n_records = time_reading()
        read_runs.append(read_s)
        url = databases.fresh(backend)
        db = Database(url)
        try:
            first_s, first = time_import(db, url, batch_size)
            import_runs.append(first_s)
            if repeat == repeats - 1:
                second_s, second = time_import(db, url, batch_size)
                naive_s, naive_made, naive_failed = time_per_call(db, url, n_naive) if n_naive else (0.0, 0, 0)
        finally:
            db.dispose()
        databases.drop(url)
    timings = [
        Timing(backend, "read the call file only", n_records, 0, statistics.median(read_runs), read_runs),
        Timing(
            backend,
            f"import_calls, batches of {batch_size:,} (incl. reading)",
            first.records,
            first.imported,
            statistics.median(import_runs),
            import_runs,
        ),
        Timing(backend, "import_calls again (idempotent)", second.records, second.imported, second_s, [second_s]),
    ]
    if naive_made:
        # The subset's rate carried over to the calls the bulk import made, labelled as extrapolated.
        timings.append(
            Timing(
                backend,
                "create_incident, 1 transaction per call",
                first.imported,
                first.imported,
                naive_s * first.imported / naive_made,
                [naive_s],
                extrapolated_from=naive_made,
            )
        )
    details = {
        "backend": backend,
        "records": first.records,
        "imported": first.imported,
        "unassigned": first.unassigned,
        "skipped": dict(first.skipped),
        "second_run_imported": second.imported,
        "second_run_already_present": second.already_present,
        "naive_subset": {"calls": n_naive, "made": naive_made, "failed": naive_failed, "seconds": naive_s},
    }
    return timings, details


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite", help="comma-separated: sqlite, postgresql (default sqlite)")
    parser.add_argument("--batch-size", type=int, default=2000, help="import batch size (default 2,000)")
    parser.add_argument("--naive", type=int, default=500, help="calls for the per-call path (default 500; 0 skips)")
    parser.add_argument("--repeat", type=int, default=3, help="imports on fresh databases; the median counts (3)")
    parser.add_argument("--json", type=argparse.FileType("w"), help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    out = console()
    if not data_present(out):
        return 2

    timings: list[Timing] = []
    details: list[dict[str, Any]] = []
    with fresh_databases() as databases:
        for backend in parse_backends(args.backends):
            out.print(f"[dim]{backend}: importing {CALLS_ZIP.name} {args.repeat} times …[/dim]")
            backend_timings, backend_details = run_backend(
                databases, backend, args.batch_size, args.naive, max(args.repeat, 1)
            )
            timings += backend_timings
            details.append(backend_details)

    table = Table(title=f"History import: {CALLS_ZIP.name} (Portland calls for service, August 2016)")
    for column in ("backend", "method", "records", "imported", "seconds", "runs (s)", "incidents/s", "vs bulk"):
        table.add_column(column, justify="left" if column in ("backend", "method") else "right")
    verdicts = []
    for backend_details in details:
        backend = backend_details["backend"]
        rows = [t for t in timings if t.backend == backend]
        bulk = rows[1]
        for timing in rows:
            note = f" [dim](extrapolated from {timing.extrapolated_from:,})[/dim]" if timing.extrapolated_from else ""

            rate = timing.incidents_per_s
            versus = f"{bulk.seconds / timing.seconds:.3f}x" if timing.imported and timing is not bulk else ""
            table.add_row(
                backend,
                timing.method + note,
                f"{timing.records:,}",
                f"{timing.imported:,}",
                f"{timing.seconds:.3f}",
                f"median of {len(timing.runs)}: {min(timing.runs):.2f}–{max(timing.runs):.2f}"
                if len(timing.runs) > 1
                else "",
                f"{rate:,.0f}" if rate else "",
                versus,
            )
        if len(rows) > 3:
            verdicts.append(
                f"{backend}: the bulk import is {rows[3].seconds / bulk.seconds:,.0f}x faster than per-call"
            )
        met = (bulk.incidents_per_s or 0) >= TARGET_INCIDENTS_PER_S
        backend_details["target_met"] = met if backend == TARGET_BACKEND else None
        if backend == TARGET_BACKEND:
            verdicts.append(
                f"target ≥ {TARGET_INCIDENTS_PER_S:,} incidents/s on {TARGET_BACKEND}: "
                f"{'[green]met[/green]' if met else '[red]MISSED[/red]'} ({bulk.incidents_per_s or 0:,.0f}/s)"
            )
    out.print(table)
    for d in details:
        out.print(
            f"{d['backend']}: {d['unassigned']:,} imported calls fall in no district; "
            f"skipped {sum(d['skipped'].values()):,}; second run imported {d['second_run_imported']:,} "
            f"(already present {d['second_run_already_present']:,}); per-call failures {d['naive_subset']['failed']}"
        )
    for line in verdicts:
        out.print(line)

    if args.json:
        report = {
            "file": CALLS_ZIP.name,
            "batch_size": args.batch_size,
            "timings": [asdict(t) | {"incidents_per_s": t.incidents_per_s} for t in timings],
            "backends": details,
            "target_incidents_per_s": TARGET_INCIDENTS_PER_S,
            "target_backend": TARGET_BACKEND,
            "machine": machine(),
        }
        json.dump(report, args.json, indent=2)
        args.json.write("\n")
    sqlite_met = [d["target_met"] for d in details if d["target_met"] is not None]
    idempotent = all(d["second_run_imported"] == 0 for d in details)
    return 0 if idempotent and all(sqlite_met) else 1


if __name__ == "__main__":
    sys.exit(main())
