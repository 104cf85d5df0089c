"""``precinct import``: grid boundaries, the road network and historical calls, with what was refused named by feature
or record."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from precinct.cli.common import console, context, err
from precinct.domains.incidents import history
from precinct.domains.orgs import service as orgs
from precinct.domains.roads import service as roads
from precinct.platform.config import Settings
from precinct.platform.db import Database
from precinct.platform.errors import PrecinctError

import_app = typer.Typer(help="Import boundaries and history.", no_args_is_help=True)


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
