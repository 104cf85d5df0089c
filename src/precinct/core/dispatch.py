"""Ranking the units that could answer an incident (分级、就近、分类): by road ETA first, adjusted for whether a
unit has what the incident's run card (预案) asks for, whether it is free or still returning, and how much it has
already done today. Pure: candidates and rules in, a ranking with reasons out."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field


class RunCardError(ValueError):
    """A run-card file that cannot be used; the message lists every bad line."""


@dataclass(frozen=True)
class Requirement:
    """Units of a capability an incident needs: ``count`` of them, e.g. one ``traffic`` unit for an accident."""

    capability: str
    count: int


@dataclass(frozen=True)
class RunCard:
    """What to send to incidents whose type code starts with ``type_prefix`` in org ``area`` ("*": anywhere)."""

    type_prefix: str
    area: str
    requirements: tuple[Requirement, ...]


@dataclass(frozen=True)
class RankingWeights:
    """Seconds added to a unit's ETA for each reason to prefer another; a user may tune them."""

    missing_capability_s: float = 180.0
    returning_s: float = 30.0
    per_order_today_s: float = 20.0


@dataclass(frozen=True)
class Candidate:
    unit_id: int
    call_sign: str
    kind: str
    capabilities: frozenset[str]
    status: str  # available or returning
    orders_today: int
    eta_s: float
    distance_m: float


@dataclass(frozen=True)
class Reason:
    """One reason a unit stands where it does: a stable ``code`` with its ``values``, for a page to say in its own
    language, and ``text`` in English for everyone else."""

    code: str  # eta | lacks_capability | fills_run_card | returning | workload
    values: dict[str, float | int | str]

    @property
    def text(self) -> str:
        v = self.values
        match self.code:
            case "eta":
                return f"ETA {v['eta_min']:.1f} min, {v['distance_km']:.1f} km by road"
            case "lacks_capability":
                return f"lacks {v['capability']} (+{v['penalty_s']:.0f} s)"
            case "fills_run_card":
                return f"has {v['capability']}, as the run card asks"
            case "returning":
                return f"returning from another incident (+{v['penalty_s']:.0f} s)"
            case "workload":
                return f"{v['orders_today']} orders today (+{v['penalty_s']:.0f} s)"
        return self.code


@dataclass(frozen=True)
class Ranked:
    candidate: Candidate
    score_s: float
    fills: str | None  # the capability of the run card this unit would cover, if any
    reasons: tuple[Reason, ...] = field(default=())


def parse_run_cards(text: str) -> list[RunCard]:
    """Read a run-card CSV: ``type_prefix, area, capability, count`` (one row per requirement)."""
    reader = csv.DictReader(io.StringIO(text))
    needed = {"type_prefix", "area", "capability", "count"}
    if reader.fieldnames is None or needed - set(reader.fieldnames):
        raise RunCardError(f"the run-card header must name the columns {', '.join(sorted(needed))}")
    cards: dict[tuple[str, str], list[Requirement]] = {}
    errors = []
    for line, row in enumerate(reader, start=2):
        prefix, area = (row["type_prefix"] or "").strip(), (row["area"] or "").strip() or "*"
        capability, count = (row["capability"] or "").strip(), (row["count"] or "").strip()
        if not (prefix.isalnum() and 1 <= len(prefix) <= 8):
            errors.append(f"line {line}: type prefix {prefix!r} is not 1 to 8 letters or digits")
        elif not capability or not count.isdigit() or not 1 <= int(count) <= 20:
            errors.append(f"line {line}: needs a capability and a count from 1 to 20")
        else:
            cards.setdefault((prefix, area), []).append(Requirement(capability, int(count)))
    if errors:
        raise RunCardError("; ".join(errors))
    return [RunCard(prefix, area, tuple(reqs)) for (prefix, area), reqs in cards.items()]


def run_card_for(cards: Sequence[RunCard], type_code: str, areas: Sequence[str]) -> RunCard | None:
    """The most specific card: the longest matching type prefix, then the nearest area (``areas`` runs from the
    incident's own org up to the city), then a card for anywhere."""
    best: tuple[int, int] | None = None
    chosen = None
    for card in cards:
        if not type_code.startswith(card.type_prefix):
            continue
        if card.area == "*":
            area_rank = len(areas)
        elif card.area in areas:
            area_rank = list(areas).index(card.area)
        else:
            continue
        key = (-len(card.type_prefix), area_rank)
        if best is None or key < best:
            best, chosen = key, card
    return chosen


def rank(
    candidates: Sequence[Candidate], card: RunCard | None, weights: RankingWeights = RankingWeights()
) -> list[Ranked]:
    """Order candidates by ETA plus the weights' penalties; each result says why it stands where it does."""
    wanted = {r.capability for r in card.requirements} if card else set()
    ranked = []
    for c in candidates:
        score = c.eta_s
        reasons = [Reason("eta", {"eta_min": round(c.eta_s / 60, 1), "distance_km": round(c.distance_m / 1000, 1)})]
        fills = next((cap for cap in sorted(wanted) if cap in c.capabilities), None)
        if wanted and fills is None:
            score += weights.missing_capability_s
            missing = " or ".join(sorted(wanted))
            reasons.append(
                Reason("lacks_capability", {"capability": missing, "penalty_s": weights.missing_capability_s})
            )
        elif fills is not None:
            reasons.append(Reason("fills_run_card", {"capability": fills}))
        if c.status == "returning":
            score += weights.returning_s
            reasons.append(Reason("returning", {"penalty_s": weights.returning_s}))
        if c.orders_today:
            extra = c.orders_today * weights.per_order_today_s
            score += extra
            reasons.append(Reason("workload", {"orders_today": c.orders_today, "penalty_s": extra}))
        ranked.append(Ranked(c, score, fills, tuple(reasons)))
    return sorted(ranked, key=lambda r: (r.score_s, r.candidate.eta_s, r.candidate.unit_id))


def proposal(ranked: Sequence[Ranked], card: RunCard | None) -> list[Ranked]:
    """The units to send: for each requirement of the card, the best-ranked units that have it; without a card,
    the single best unit."""
    if card is None:
        return list(ranked[:1])
    chosen: list[Ranked] = []
    for requirement in card.requirements:
        able = [r for r in ranked if requirement.capability in r.candidate.capabilities and r not in chosen]
        chosen.extend(able[: requirement.count])
    return sorted(chosen, key=lambda r: r.score_s)
