"""The Portland demo: the police districts as a city → precinct → district tree, a unit per district, and the
19,376 calls of August 2016 as history. Each step is skipped when its data is already there."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import shapely
from rich.console import Console
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from precinct.core.routing import RoadGraph
from precinct.domains.identity import accounts
from precinct.domains.incidents import catalogue, history
from precinct.domains.incidents import service as incidents
from precinct.domains.orgs import service as orgs
from precinct.domains.roads import service as roads
from precinct.domains.units import service as units
from precinct.platform import migrate
from precinct.platform.config import Settings
from precinct.platform.context import Ctx
from precinct.platform.db import Database

ROOT_CODE = "PDX"
ROOT_NAME = "Portland Police Bureau"
PORTLAND_TIMEZONE = "America/Los_Angeles"
# The unit the simulator leaves to a person at the officer terminal: central precinct's rapid-response unit.
TERMINAL_UNIT = "PDX-CE-RAP1"
# One demo user per role, named after it: the command centre's roles at the bureau, the rest at Central precinct.
DEMO_STATION = "PDX-CE"
DEMO_USERS = {
    "call_taker": ROOT_CODE,
    "dispatcher": ROOT_CODE,
    "duty_commander": ROOT_CODE,
    "analyst": ROOT_CODE,
    "administrator": ROOT_CODE,
    "station_chief": DEMO_STATION,
    "community_officer": DEMO_STATION,
    "grid_worker": DEMO_STATION,
    "mediator": DEMO_STATION,
    "case_officer": DEMO_STATION,
    "legal_reviewer": DEMO_STATION,
}


@dataclass
class DemoSummary:
    database: str
    orgs: int
    grids: int
    units: int
    users: int
    incidents_imported: int
    incidents_already_present: int


def build(settings: Settings, data_dir: Path, console: Console) -> DemoSummary:
    districts = data_dir / "portland" / "portland-police-districts.zip"
    calls = data_dir / "portland" / "080116_083116_Data.zip"
    road_extract = data_dir / "osm" / "portland-central-filtered.osm.pbf"
    for needed in (districts, calls, road_extract):
        if not needed.is_file():
            raise SystemExit(f"demo data not found: {needed} (give --data PATH to the shared data folder)")
    migrate.upgrade(settings.database_url)
    db = Database(settings.database_url, writers=settings.db_writers)
    try:
        with db.transaction() as session:
            ctx = Ctx(session=session, settings=settings, actor="demo")
            if not incidents.list_types(ctx):
                console.print(f"catalogue: {catalogue.load_catalogue(ctx, settings.catalogue_path)} types")
            if not orgs.list_grids(ctx):
                report = orgs.import_grids(
                    ctx,
                    districts,
                    orgs.GridImportOptions(
                        code_field="DISTRICT",
                        group_field="PRECINCT",
                        root_code=ROOT_CODE,
                        root_name=ROOT_NAME,
                        repair=True,  # two districts have rings that touch themselves; each repair is reported
                    ),
                )
                console.print(f"districts: {report.created} grids under {len(report.stations_created)} precincts")
                for note in report.repaired:
                    console.print(f"  {note}")
            if roads.active_network(ctx) is None:
                network = roads.import_roads(ctx, road_extract, name="Portland central", progress=True)
                console.print(f"roads: {network.nodes} nodes, {network.edges} directed segments")
            if not units.list_units(ctx):
                console.print(f"units: {_add_units(ctx)} registered")
            made = _add_users(ctx)
            if made:
                console.print(f"users: {made} demo users, one per role")
        mapping = resources.files("precinct.data").joinpath("portland_call_mapping.csv")
        with resources.as_file(mapping) as mapping_path:
            console.print("history: importing the August 2016 calls …")
            imported = history.import_calls(
                db, settings, calls, mapping_path, date_field="occ_date", timezone=PORTLAND_TIMEZONE
            )
        with db.transaction(write=False) as session:
            ctx = Ctx(session=session, settings=settings, actor="demo")
            return DemoSummary(
                database=db.backend,
                orgs=len(orgs.list_orgs(ctx)),
                grids=len(orgs.list_grids(ctx)),
                units=len(units.list_units(ctx)),
                users=len(accounts.list_users(ctx)),
                incidents_imported=imported.imported,
                incidents_already_present=imported.already_present,
            )
    finally:
        db.dispose()


def _add_users(ctx: Ctx) -> int:
    """The demo users that are missing, each with the demo password (``PRECINCT_DEMO_PASSWORD``)."""
    existing = {user.login for user in accounts.list_users(ctx)}
    missing = [role for role in DEMO_USERS if role not in existing]
    for role in missing:
        accounts.create_user(
            ctx,
            login=role,
            role=role,
            org_code=DEMO_USERS[role],
            password=ctx.settings.demo_password,
            display_name=f"Demo {role.replace('_', ' ')}",
        )
    return len(missing)


def demo_tokens(settings: Settings) -> tuple[str, str | None]:
    """New bearer tokens, for a day: the simulator's (``system:simulator``, a dispatcher for the city) and the
    terminal's of the unit left to people (None when the demo has no such unit)."""
    db = Database(settings.database_url, writers=settings.db_writers)
    try:
        with db.transaction() as session:
            ctx = Ctx(session=session, settings=settings, actor="demo")
            city = next(o.code for o in orgs.list_orgs(ctx) if o.parent_id is None)
            _, simulator = accounts.add_token(
                ctx, system_name="simulator", org_code=city, role="dispatcher", expires_days=1
            )
            has_terminal = any(u.call_sign == TERMINAL_UNIT for u in units.list_units(ctx))
            terminal = (
                accounts.add_token(ctx, unit_call_sign=TERMINAL_UNIT, expires_days=1)[1] if has_terminal else None
            )
            return simulator, terminal
    finally:
        db.dispose()


def sign_in_note(settings: Settings) -> str:
    """How to sign in to the demo: its users and their shared password, marked as demo credentials."""
    logins = ", ".join(f"{role} ({org})" for role, org in DEMO_USERS.items())
    return (
        f"demo sign-in — DEMO CREDENTIALS, for this demo only: login one of {logins}; "
        f"password {settings.demo_password} (set PRECINCT_DEMO_PASSWORD to choose another before building the demo)"
    )


def _add_units(ctx: Ctx) -> int:
    """A patrol car in every district, and a traffic and a rapid-response unit in every precinct, each parked on
    a road of its area where the road extract reaches it."""
    _, graph = roads.active_graph(ctx)
    count = 0
    for grid in orgs.list_grids(ctx, with_boundary=True):
        lon, lat = _on_a_road(graph, shape(grid.boundary))
        units.create_unit(
            ctx,
            call_sign=f"{grid.code}-P1",
            kind="patrol_car",
            home_org_id=grid.org_id,
            capabilities=["patrol"],
            lon=lon,
            lat=lat,
        )
        count += 1
    for station in (o for o in orgs.list_orgs(ctx) if o.level == "station"):
        lon, lat = _on_a_road(graph, shape(orgs.get_org(ctx, station.id).boundary))
        for kind, capabilities in (("traffic", ["traffic"]), ("rapid_response", ["armed", "patrol"])):
            units.create_unit(
                ctx,
                call_sign=f"{station.code}-{kind.upper()[:3]}1",
                kind=kind,
                home_org_id=station.id,
                capabilities=capabilities,
                lon=lon,
                lat=lat,
            )
            count += 1
    return count


def _on_a_road(graph: RoadGraph, area: BaseGeometry) -> tuple[float, float]:
    """The road node inside ``area`` nearest its middle, or the middle itself where the extract has no road."""
    middle = area.representative_point()
    inside = np.flatnonzero(shapely.contains_xy(area, graph.node_lon, graph.node_lat))
    if inside.size == 0:
        return middle.x, middle.y
    nearest = inside[np.argmin((graph.node_lon[inside] - middle.x) ** 2 + (graph.node_lat[inside] - middle.y) ** 2)]
    return float(graph.node_lon[nearest]), float(graph.node_lat[nearest])
