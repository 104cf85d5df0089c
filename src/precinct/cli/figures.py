"""``precinct kpi`` and ``precinct coverage``: a station's numbers for a period, and the share of it patrols reach in
1, 3 and 5 minutes. Both commands sit at the top level; main.py registers them."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import shapely.geometry
import typer
from rich.table import Table

from precinct.cli.common import console, context, err
from precinct.domains.analytics import service as analytics
from precinct.domains.dispatch import coverage
from precinct.domains.orgs import service as orgs


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
