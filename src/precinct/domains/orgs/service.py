"""The organisation tree and its jurisdiction: building it from boundary files, and finding which station and
grid a point falls in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Geod
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from precinct.core.geo import (
    FeatureProblem,
    GeoFileError,
    PolygonFeature,
    PolygonIndex,
    read_polygon_features,
    repair_polygon,
    validate_polygons,
)
from precinct.domains.orgs.models import ORG_LEVELS, Grid, Org
from precinct.domains.orgs.repository import OrgRepository
from precinct.platform import reference
from precinct.platform.context import Ctx
from precinct.platform.errors import Conflict, InvalidInput, NotFound

_GEOD = Geod(ellps="WGS84")


def geodesic_area_m2(geometry: BaseGeometry) -> float:
    area, _perimeter = _GEOD.geometry_area_perimeter(geometry)
    return abs(float(area))


def create_org(
    ctx: Ctx,
    *,
    code: str,
    name: str,
    level: str,
    parent_code: str | None = None,
    division_code: str | None = None,
    boundary: BaseGeometry | None = None,
) -> Org:
    repo = OrgRepository(ctx.session)
    if level not in ORG_LEVELS:
        raise InvalidInput(f"org level {level!r} is not one of {', '.join(ORG_LEVELS)}")
    if repo.by_code(code) is not None:
        raise Conflict(f"an org with code {code!r} already exists")
    parent = None
    if parent_code is not None:
        parent = repo.by_code(parent_code)
        if parent is None:
            raise NotFound(f"no parent org with code {parent_code!r}")
        if ORG_LEVELS.index(parent.level) >= ORG_LEVELS.index(level):
            raise InvalidInput(f"a {level} cannot sit under a {parent.level} ({parent.code})")
    if division_code is not None and not (division_code.isdigit() and len(division_code) in (6, 9, 12)):
        raise InvalidInput(f"division code {division_code!r} must be 6, 9 or 12 digits (GB/T 2260, GB/T 10114)")
    org = Org(
        code=code,
        name=name,
        level=level,
        parent_id=parent.id if parent else None,
        division_code=division_code,
        created_at=ctx.now(),
    )
    _set_boundary(org, boundary)
    ctx.session.add(org)
    ctx.session.flush()
    reference.bump(ctx, reference.JURISDICTIONS)  # the index also maps org ids to the codes in incident numbers
    return org


def _set_boundary(org: Org, boundary: BaseGeometry | None) -> None:
    org.boundary = dict(mapping(boundary)) if boundary is not None else None
    org.area_m2 = geodesic_area_m2(boundary) if boundary is not None else None


def list_orgs(ctx: Ctx) -> Sequence[Org]:
    return OrgRepository(ctx.session).all()


def get_org(ctx: Ctx, org_id: int) -> Org:
    org = OrgRepository(ctx.session).by_id(org_id)
    if org is None:
        raise NotFound(f"no org with id {org_id}")
    return org


def get_org_by_code(ctx: Ctx, code: str) -> Org:
    org = OrgRepository(ctx.session).by_code(code)
    if org is None:
        raise NotFound(f"no org with code {code!r}")
    return org


def org_boundary(ctx: Ctx, org_id: int) -> BaseGeometry | None:
    """An org's jurisdiction polygon as a shapely geometry (lon/lat), or ``None`` when it has none."""
    org = get_org(ctx, org_id)
    return shape(org.boundary) if org.boundary is not None else None


@dataclass(frozen=True)
class OrgTree:
    """The organisation tree as ids: small, and read on every request to know what its principal may see."""

    parents: dict[int, int | None]
    children: dict[int, list[int]]

    def subtree(self, org_id: int) -> list[int]:
        """The org and every org below it (empty for an unknown id)."""
        if org_id not in self.parents:
            return []
        found, stack = [], [org_id]
        while stack:
            current = stack.pop()
            found.append(current)
            stack.extend(self.children.get(current, ()))
        return found

    def lineage(self, org_id: int) -> list[int]:
        """The org and every org above it, nearest first (empty for an unknown id)."""
        found: list[int] = []
        current: int | None = org_id if org_id in self.parents else None
        while current is not None:
            found.append(current)
            current = self.parents[current]
        return found


_TREES: reference.ReferenceCache[OrgTree] = reference.ReferenceCache(reference.JURISDICTIONS)


def tree(ctx: Ctx) -> OrgTree:
    def build() -> OrgTree:
        parents = OrgRepository(ctx.session).parents()
        children: dict[int, list[int]] = {}
        for org_id, parent_id in parents.items():
            if parent_id is not None:
                children.setdefault(parent_id, []).append(org_id)
        return OrgTree(parents, children)

    return _TREES.get(ctx, build)


def known_tree(database: str, check_s: float) -> OrgTree | None:
    """The tree this process holds, if it may trust it without reading the database (see ``ReferenceCache.peek``)."""
    return _TREES.peek(database, check_s)


def subtree_ids(ctx: Ctx, org_id: int) -> list[int]:
    get_org(ctx, org_id)
    return tree(ctx).subtree(org_id)


def list_grids(ctx: Ctx, org_id: int | None = None, *, with_boundary: bool = False) -> Sequence[Grid]:
    repo = OrgRepository(ctx.session)
    return repo.grids(subtree_ids(ctx, org_id) if org_id is not None else None, with_boundary=with_boundary)


# --- importing grids -------------------------------------------------------------------------------------------


@dataclass
class GridImportOptions:
    code_field: str
    name_field: str | None = None
    kind: str = "police_beat"
    station_code: str | None = None  # every grid goes under this existing station …
    group_field: str | None = None  # … or one station per distinct value of this field, created under root
    root_code: str | None = None
    root_name: str | None = None
    root_level: str = "city"
    repair: bool = False  # make invalid (self-intersecting) polygons valid, and report each one repaired
    skip_invalid: bool = False


@dataclass
class GridImportReport:
    features: int
    created: int = 0
    updated: int = 0
    stations_created: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)


def import_grids(ctx: Ctx, path: str | Path, options: GridImportOptions) -> GridImportReport:
    """Import grid polygons from a GeoJSON file or a (zipped) shapefile in any CRS.

    Every invalid, self-intersecting, overlapping or non-polygon feature is reported by its index; unless
    ``skip_invalid`` is set, any problem stops the import before anything is written.
    """
    if options.kind not in ("grid", "police_beat", "micro_grid"):
        raise InvalidInput(f"grid kind {options.kind!r} is not one of grid, police_beat, micro_grid")
    if (options.station_code is None) == (options.group_field is None):
        raise InvalidInput("give either a station for all grids or a field that names each grid's station")
    try:
        features = read_polygon_features(path)
    except GeoFileError as error:
        raise InvalidInput(str(error)) from error
    report = GridImportReport(features=len(features))
    problems = validate_polygons(features)
    if options.repair:
        features, report.repaired = _repair(features, problems)
        problems = validate_polygons(features)
    bad = {p.index for p in problems}
    for feature in features:
        missing = [f for f in (options.code_field, options.name_field, options.group_field) if f]
        missing = [f for f in missing if feature.properties.get(f) in (None, "")]
        if missing:
            problems.append(_missing_fields_problem(feature.index, missing))
            bad.add(feature.index)
    report.problems = [
        {"feature": p.index, "kind": p.kind, "message": p.message, "other_feature": p.other_index}
        for p in sorted(problems, key=lambda p: p.index)
    ]
    if problems and not options.skip_invalid:
        first = "; ".join(p["message"] for p in report.problems[:3])
        more = f"; and {len(report.problems) - 3} more" if len(report.problems) > 3 else ""
        raise InvalidInput(
            f"{len(bad)} of {len(features)} features in {Path(path).name} have problems ({first}{more}); "
            "nothing was imported",
            problems=report.problems,
        )
    good = [f for f in features if f.index not in bad]
    codes = [str(f.properties[options.code_field]).strip() for f in good]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise InvalidInput(f"grid codes repeat in the file: {', '.join(duplicates[:10])}; nothing was imported")

    repo = OrgRepository(ctx.session)
    stations: dict[str, Org] = {}
    prefix = ""
    if options.group_field is not None:
        root = _ensure_root(ctx, options)
        prefix = f"{root.code}-"
        for value in sorted({_group(f, options.group_field) for f in good}):
            code = f"{root.code}-{value}"
            existing = repo.by_code(code)
            if existing is None:
                existing = create_org(ctx, code=code, name=value, level="station", parent_code=root.code)
                report.stations_created.append(code)
            stations[value] = existing
    else:
        station = get_org_by_code(ctx, options.station_code or "")
        if station.level != "station":
            raise InvalidInput(f"grids sit under a station; {station.code} is a {station.level}")

    for feature, code in zip(good, codes, strict=True):
        if options.group_field is not None:
            station = stations[_group(feature, options.group_field)]
        geometry = feature.geometry
        assert geometry is not None
        grid_code = f"{prefix}{code}"
        grid = repo.grid_by_code(grid_code)
        if grid is None:
            grid = Grid(code=grid_code, kind=options.kind)
            ctx.session.add(grid)
            report.created += 1
        else:
            report.updated += 1
        name = feature.properties.get(options.name_field) if options.name_field else None
        grid.name = str(name if name not in (None, "") else code)
        grid.org_id = station.id
        grid.boundary = dict(mapping(geometry))
        grid.area_m2 = geodesic_area_m2(geometry)
        grid.properties = feature.properties
        grid.updated_at = ctx.now()
    ctx.session.flush()
    _union_boundaries(ctx)
    reference.bump(ctx, reference.JURISDICTIONS)
    return report


def _group(feature: PolygonFeature, field_name: str) -> str:
    return str(feature.properties[field_name]).strip()


def _repair(features: list[PolygonFeature], problems: list[FeatureProblem]) -> tuple[list[PolygonFeature], list[str]]:
    invalid = {p.index: p.message for p in problems if p.kind == "invalid"}
    repaired = [
        replace(f, geometry=repair_polygon(f.geometry)) if f.index in invalid and f.geometry is not None else f
        for f in features
    ]
    return repaired, [f"{invalid[i]}: repaired" for i in sorted(invalid)]


def _missing_fields_problem(index: int, fields: list[str]) -> FeatureProblem:
    return FeatureProblem(
        index=index,
        kind="invalid",
        message=f"feature {index}: no value for {', '.join(fields)}",
        other_index=None,
        area_m2=None,
    )


def _ensure_root(ctx: Ctx, options: GridImportOptions) -> Org:
    if options.root_code is None:
        raise InvalidInput("grouping grids into stations needs the code of the org above them (root)")
    root = OrgRepository(ctx.session).by_code(options.root_code)
    if root is None:
        root = create_org(
            ctx, code=options.root_code, name=options.root_name or options.root_code, level=options.root_level
        )
    return root


def _union_boundaries(ctx: Ctx) -> None:
    """Give every org the union of the grids below it as its jurisdiction, from stations up to the city."""
    repo = OrgRepository(ctx.session)
    orgs = {o.id: o for o in repo.all()}
    shapes: dict[int, list[BaseGeometry]] = {}
    for grid in repo.grids(with_boundary=True):
        org_id: int | None = grid.org_id
        geometry = shape(grid.boundary)
        while org_id is not None:
            shapes.setdefault(org_id, []).append(geometry)
            org_id = orgs[org_id].parent_id
    for org_id, parts in shapes.items():
        _set_boundary(orgs[org_id], shapely.union_all(parts))
    ctx.session.flush()


# --- jurisdiction lookup ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Jurisdiction:
    org_id: int
    org_code: str
    grid_id: int | None


@dataclass(frozen=True)
class _JurisdictionIndex:
    """Grids first (each names its station); where no grid covers a point, the deepest org boundary that does."""

    grids: PolygonIndex | None
    grid_ids: NDArray[np.int64]
    grid_orgs: NDArray[np.int64]
    codes: dict[int, str]  # org id → code, for incident numbers without another query
    orgs: PolygonIndex | None
    org_ids: NDArray[np.int64]


_INDEXES: reference.ReferenceCache[_JurisdictionIndex] = reference.ReferenceCache(reference.JURISDICTIONS)


def _index(ctx: Ctx) -> _JurisdictionIndex:
    return _INDEXES.get(ctx, lambda: _build_index(OrgRepository(ctx.session)))


def _build_index(repo: OrgRepository) -> _JurisdictionIndex:
    grids = list(repo.grids(with_boundary=True))
    all_orgs = {o.id: o for o in repo.all()}
    # An org whose boundary is the union of grids below it adds nothing the grid index does not already answer.
    covered_by_grids = set()
    for org_id in {g.org_id for g in grids}:
        parent: int | None = org_id
        while parent is not None and parent not in covered_by_grids:
            covered_by_grids.add(parent)
            parent = all_orgs[parent].parent_id
    orgs = sorted(
        (o for o in all_orgs.values() if o.id not in covered_by_grids and o.boundary is not None),
        key=lambda o: -ORG_LEVELS.index(o.level),
    )
    return _JurisdictionIndex(
        grids=PolygonIndex([shape(g.boundary) for g in grids]) if grids else None,
        grid_ids=np.array([g.id for g in grids], dtype=np.int64),
        grid_orgs=np.array([g.org_id for g in grids], dtype=np.int64),
        codes={o.id: o.code for o in all_orgs.values()},
        orgs=PolygonIndex([shape(o.boundary) for o in orgs]) if orgs else None,
        org_ids=np.array([o.id for o in orgs], dtype=np.int64),
    )


def warm_up(ctx: Ctx) -> None:
    """Build this process's jurisdiction index now rather than in the first request that needs it."""
    _index(ctx)


def locate(ctx: Ctx, lon: float, lat: float) -> Jurisdiction | None:
    """The station (or deepest org) and grid responsible for a point, or ``None`` outside every jurisdiction."""
    index = _index(ctx)
    if index.grids is not None:
        hit = index.grids.locate_one(lon, lat)
        if hit is not None:
            org_id = int(index.grid_orgs[hit])
            return Jurisdiction(org_id=org_id, org_code=index.codes[org_id], grid_id=int(index.grid_ids[hit]))
    if index.orgs is not None:
        hit = index.orgs.locate_one(lon, lat)
        if hit is not None:
            org_id = int(index.org_ids[hit])
            return Jurisdiction(org_id=org_id, org_code=index.codes[org_id], grid_id=None)
    return None


def locate_many(
    ctx: Ctx, lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Org and grid ids for many points at once; -1 where none."""
    index = _index(ctx)
    org_ids = np.full(len(lon), -1, dtype=np.int64)
    grid_ids = np.full(len(lon), -1, dtype=np.int64)
    if index.grids is not None:
        hits = index.grids.locate(lon, lat)
        found = hits >= 0
        org_ids[found] = index.grid_orgs[hits[found]]
        grid_ids[found] = index.grid_ids[hits[found]]
    if index.orgs is not None:
        rest = org_ids < 0
        hits = index.orgs.locate(lon[rest], lat[rest])
        org_ids[np.flatnonzero(rest)[hits >= 0]] = index.org_ids[hits[hits >= 0]]
    return org_ids, grid_ids
