"""Choosing units (精准派警): which available units reach an incident first by road, ranked with the run card for
its type and area, their status and their workload; and sending the best of them."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from precinct.core.dispatch import (
    Candidate,
    Ranked,
    RankingWeights,
    RunCard,
    RunCardError,
    parse_run_cards,
    proposal,
    rank,
    run_card_for,
)
from precinct.core.routing import RoadGraph, RoutingError, Snap, SnapError, Snaps
from precinct.domains.incidents import orders
from precinct.domains.incidents import service as incidents
from precinct.domains.orgs import service as orgs
from precinct.domains.roads import service as roads
from precinct.domains.units import service as units
from precinct.platform.context import Ctx
from precinct.platform.errors import InvalidInput

if TYPE_CHECKING:  # another domain's tables, named for types only
    from precinct.domains.incidents.models import Dispatch, Incident
    from precinct.domains.units.models import Unit

# How many units by ETA the search settles before ranking: enough that penalties can reorder the first k.
_SEARCH_FACTOR, _SEARCH_MIN = 3, 15


@dataclass(frozen=True)
class Skipped:
    unit: Unit
    reason: str


@dataclass(frozen=True)
class Recommendation:
    incident: Incident
    network: str
    card: RunCard | None
    ranked: list[Ranked]
    proposed: list[Ranked]
    skipped: list[Skipped]
    incident_snap: Snap


@functools.cache
def _run_cards(path: Path | None) -> list[RunCard]:
    text = (
        path.read_text(encoding="utf-8")
        if path is not None
        else resources.files("precinct.data").joinpath("run_cards.csv").read_text(encoding="utf-8")
    )
    return parse_run_cards(text)


def run_cards(ctx: Ctx) -> list[RunCard]:
    try:
        return _run_cards(ctx.settings.run_cards_path)
    except (OSError, RunCardError) as error:
        raise InvalidInput(f"the run-card file cannot be used: {error}") from error


def recommend(ctx: Ctx, incident_id: int, k: int = 5) -> Recommendation:
    """Rank the on-duty units that are free (or returning) for an incident, by road ETA and the run card."""
    if not 1 <= k <= 50:
        raise InvalidInput(f"k must be from 1 to 50 units, got {k}")
    incident = incidents.get_incident(ctx, incident_id)
    if incident.lon is None or incident.lat is None:
        raise InvalidInput(f"incident {incident.number} has no coordinates; locate it before choosing units")
    network, graph = roads.active_graph(ctx)
    incident_snap = _snap(graph, incident.lon, incident.lat, ctx, what=f"incident {incident.number}")
    snapped, skipped = _candidates(ctx, graph)
    card = run_card_for(run_cards(ctx), incident.type_code, _areas(ctx, incident))
    ranked: list[Ranked] = []
    if snapped:
        search_k = min(len(snapped), max(k * _SEARCH_FACTOR, _SEARCH_MIN))
        matches = graph.nearest_by_eta(
            incident_snap,
            Snaps.of([snap for _, snap in snapped]),
            search_k,
            limit_s=ctx.settings.recommendation_limit_s,
        )
        workload = orders.orders_today_by_unit(ctx)
        candidates = [_candidate(snapped[m.candidate_index][0], m.eta_s, m.distance_m, workload) for m in matches]
        ranked = rank(candidates, card, RankingWeights())
        if len(matches) < search_k:  # the search stopped at the time limit: the rest cannot arrive in time
            reached = {m.candidate_index for m in matches}
            limit_min = ctx.settings.recommendation_limit_s / 60
            skipped += [
                Skipped(unit, f"cannot reach the incident within {limit_min:.0f} min")
                for i, (unit, _) in enumerate(snapped)
                if i not in reached
            ]
    proposed = proposal(ranked, card)
    return Recommendation(
        incident=incident,
        network=network.name,
        card=card,
        ranked=_top_with_proposed(ranked, proposed, k),
        proposed=proposed,
        skipped=skipped,
        incident_snap=incident_snap,
    )


def _top_with_proposed(ranked: list[Ranked], proposed: list[Ranked], k: int) -> list[Ranked]:
    """The k best, and after them any proposed unit ranked lower (a run card may need a farther specialist)."""
    top = ranked[:k]
    return top + [r for r in ranked[k:] if r in proposed]


def dispatch_recommended(ctx: Ctx, incident_id: int, *, all_proposed: bool = False, k: int = 5) -> list[Dispatch]:
    """Send the best unit (or every proposed unit) of the recommendation, each as an ordinary dispatch order."""
    recommendation = recommend(ctx, incident_id, k)
    chosen = recommendation.proposed if all_proposed else recommendation.ranked[:1]
    if not chosen:
        raise InvalidInput("no unit can be recommended for this incident; dispatch one by hand")
    return [
        orders.dispatch_unit(
            ctx,
            incident_id,
            r.candidate.unit_id,
            note=f"recommended: ETA {r.candidate.eta_s / 60:.1f} min, {r.candidate.distance_m / 1000:.1f} km",
        )
        for r in chosen
    ]


def route_to_incident(ctx: Ctx, incident_id: int, unit_id: int) -> tuple[list[tuple[float, float]], float, float]:
    """The fastest road route from a unit's position to an incident: (lon, lat) points, seconds and metres."""
    incident = incidents.get_incident(ctx, incident_id)
    unit = units.get_unit(ctx, unit_id)
    if incident.lon is None or incident.lat is None:
        raise InvalidInput(f"incident {incident.number} has no coordinates")
    if unit.lon is None or unit.lat is None:
        raise InvalidInput(f"unit {unit.call_sign} has reported no position")
    _, graph = roads.active_graph(ctx)
    origin = _snap(graph, unit.lon, unit.lat, ctx, what=f"unit {unit.call_sign}")
    target = _snap(graph, incident.lon, incident.lat, ctx, what=f"incident {incident.number}")
    found = graph.route(origin, target)
    if not math.isfinite(found.travel_time_s):
        raise InvalidInput(f"no road route from unit {unit.call_sign} to incident {incident.number}")
    return [(float(x), float(y)) for x, y in found.geometry], found.travel_time_s, found.distance_m


def _snap(graph: RoadGraph, lon: float, lat: float, ctx: Ctx, *, what: str) -> Snap:
    try:
        return graph.snap(lon, lat, max_distance_m=ctx.settings.snap_max_distance_m)
    except RoutingError as error:
        raise InvalidInput(f"{what}: {error}") from error


def _candidates(ctx: Ctx, graph: RoadGraph) -> tuple[list[tuple[Unit, Snap]], list[Skipped]]:
    snapped, skipped = [], []
    for unit in units.list_units(ctx, on_duty=True):
        if unit.status not in ("available", "returning"):
            continue
        if unit.lon is None or unit.lat is None:
            skipped.append(Skipped(unit, "has reported no position"))
            continue
        try:
            snapped.append((unit, graph.snap(unit.lon, unit.lat, max_distance_m=ctx.settings.snap_max_distance_m)))
        except (SnapError, RoutingError) as error:
            skipped.append(Skipped(unit, str(error)))
    return snapped, skipped


def _candidate(unit: Unit, eta_s: float, distance_m: float, workload: dict[int, int]) -> Candidate:
    return Candidate(
        unit_id=unit.id,
        call_sign=unit.call_sign,
        kind=unit.kind,
        capabilities=frozenset(unit.capabilities) | {unit.kind},
        status=unit.status,
        orders_today=workload.get(unit.id, 0),
        eta_s=eta_s,
        distance_m=distance_m,
    )


def _areas(ctx: Ctx, incident: Incident) -> list[str]:
    """Codes of the incident's org and every org above it, nearest first (for area-specific run cards)."""
    codes = []
    org_id = incident.org_id
    while org_id is not None:
        org = orgs.get_org(ctx, org_id)
        codes.append(org.code)
        org_id = org.parent_id
    return codes
