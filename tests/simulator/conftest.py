"""Fixtures of the simulator's tests: the central Portland road graph, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import PORTLAND_ROADS, need_data

from precinct.core.routing import RoadGraph, load_or_build


@pytest.fixture(scope="session")
def portland(graph_cache: Path) -> RoadGraph:
    need_data(PORTLAND_ROADS)
    return load_or_build(PORTLAND_ROADS, graph_cache)
