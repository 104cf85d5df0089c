"""Ranking candidates and choosing run cards, without a road network."""

from __future__ import annotations

import pytest

from precinct.core.dispatch import Candidate, RunCardError, parse_run_cards, proposal, rank, run_card_for

CARDS = parse_run_cards(
    "type_prefix,area,capability,count\n0105,*,traffic,1\n0105,*,patrol,1\n010501,*,traffic,2\n0105,PDX-CE,patrol,2\n"
)


def unit(unit_id: int, eta_s: float, *capabilities: str, status: str = "available", today: int = 0) -> Candidate:
    return Candidate(unit_id, f"U{unit_id}", "patrol_car", frozenset(capabilities), status, today, eta_s, eta_s * 10)


def test_the_most_specific_card_wins() -> None:
    assert [r.capability for r in run_card_for(CARDS, "01050100", ["PDX-CE", "PDX"]).requirements] == ["traffic"]
    central = run_card_for(CARDS, "01050200", ["PDX-CE", "PDX"])
    assert (central.area, central.requirements[0].count) == ("PDX-CE", 2)
    assert run_card_for(CARDS, "01050200", ["PDX-NO", "PDX"]).area == "*"
    assert run_card_for(CARDS, "02010000", ["PDX-CE"]) is None


def test_penalties_reorder_close_calls_but_not_far_ones() -> None:
    card = run_card_for(CARDS, "01050200", ["PDX-NO"])
    ranked = rank(
        [
            unit(1, 100, "patrol"),
            unit(2, 110, "traffic"),
            unit(3, 90, status="returning"),
            unit(4, 95, "patrol", today=2),
            unit(5, 60),
        ],
        card,
    )
    assert [r.candidate.unit_id for r in ranked] == [1, 2, 4, 5, 3]
    assert ranked[3].score_s == 60 + 180  # lacks traffic or patrol
    assert ranked[4].score_s == 90 + 180 + 30
    chosen = proposal(ranked, card)
    assert {r.candidate.unit_id for r in chosen} == {1, 2}


def test_without_a_card_the_nearest_goes() -> None:
    ranked = rank([unit(1, 200), unit(2, 100)], None)
    assert [r.candidate.unit_id for r in proposal(ranked, None)] == [2]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n", "header"),
        ("type_prefix,area,capability,count\n01-05,*,traffic,1\n", "type prefix"),
        ("type_prefix,area,capability,count\n0105,*,traffic,0\n", "count from 1 to 20"),
        ("type_prefix,area,capability,count\n0105,*,,1\n", "capability"),
    ],
)
def test_bad_run_cards(text: str, message: str) -> None:
    with pytest.raises(RunCardError, match=message):
        parse_run_cards(text)
