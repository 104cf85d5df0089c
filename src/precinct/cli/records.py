"""``precinct orgs``, ``catalogue``, ``units`` and ``incidents``: the organisation tree, the incident-type catalogue,
units and calls taken from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from precinct.cli.common import console, context, err
from precinct.domains.incidents import catalogue
from precinct.domains.incidents import service as incidents
from precinct.domains.incidents.schemas import IncidentCreate
from precinct.domains.orgs import service as orgs
from precinct.domains.units import service as units

incidents_app = typer.Typer(help="Incidents.", no_args_is_help=True)
units_app = typer.Typer(help="Units.", no_args_is_help=True)
catalogue_app = typer.Typer(help="The incident-type catalogue.", no_args_is_help=True)
orgs_app = typer.Typer(help="The organisation tree.", no_args_is_help=True)


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
