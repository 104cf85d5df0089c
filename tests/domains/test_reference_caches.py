"""Each process keeps the catalogue and the jurisdiction index in memory: a change made here is seen at once, one
made by another process within ``reference_check_s``, and one that rolls back never."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from tests.api.builders import create_incident

from precinct.domains.incidents import catalogue
from precinct.domains.incidents import service as incidents
from precinct.platform.config import Settings
from precinct.platform.context import Ctx
from precinct.platform.db import Database
from precinct.platform.errors import InvalidInput

HEADER = "code,parent,name_zh,name_en,priority,response_target_s\n"
NEW_TYPE = "01980000"


def _catalogue_with_new_type(tmp_path: Path) -> Path:
    path = tmp_path / "types.csv"
    lines = catalogue.default_catalogue_text().splitlines()
    path.write_text("\n".join([*lines, f"{NEW_TYPE},01000000,新类型,New type,2,300"]) + "\n", encoding="utf-8")
    return path


def _in_another_process(db: Database) -> None:
    """What another process's catalogue load leaves in the database, without this process hearing of it."""
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO incident_types (code, parent_code, level, name_zh, name_en, priority, response_target_s) "
                "VALUES (:code, '01000000', 2, '新类型', 'New type', 2, 300)"
            ),
            {"code": NEW_TYPE},
        )
        conn.execute(sa.text("UPDATE reference_revisions SET revision = revision + 1 WHERE name = 'catalogue'"))


def test_a_change_made_here_is_seen_by_the_next_request(client: TestClient, ctx_factory, tmp_path: Path) -> None:
    assert create_incident(client)["type_code"] == "01020100"  # the catalogue is now cached
    with ctx_factory() as ctx:
        catalogue.load_catalogue(ctx, _catalogue_with_new_type(tmp_path))
    assert create_incident(client, type_code=NEW_TYPE)["priority"] == 2


def test_a_change_made_elsewhere_is_seen_within_the_check_interval(settings: Settings, db: Database) -> None:
    settings = settings.model_copy(update={"reference_check_s": 0.3})

    def lookup() -> int | None:
        with db.transaction() as session:
            ctx = Ctx(session=session, settings=settings, actor="test")
            try:
                return incidents.get_type(ctx, NEW_TYPE).priority
            except InvalidInput:
                return None

    assert lookup() is None
    _in_another_process(db)
    assert lookup() is None  # the revisions read a moment ago still stand
    time.sleep(0.35)
    assert lookup() == 2


def test_a_change_is_visible_inside_its_own_transaction_and_gone_if_it_rolls_back(ctx_factory, tmp_path: Path) -> None:
    with ctx_factory() as ctx:
        assert len(incidents.list_types(ctx)) > 0  # cached before the change

    def load_then_abandon() -> None:
        with ctx_factory() as ctx:
            catalogue.load_catalogue(ctx, _catalogue_with_new_type(tmp_path))
            assert incidents.get_type(ctx, NEW_TYPE).name_en == "New type"
            raise RuntimeError("the import is abandoned")

    with pytest.raises(RuntimeError, match="abandoned"):
        load_then_abandon()
    with ctx_factory() as ctx:
        with pytest.raises(InvalidInput, match=NEW_TYPE):
            incidents.get_type(ctx, NEW_TYPE)
        catalogue.load_catalogue(ctx, _catalogue_with_new_type(tmp_path))
    with ctx_factory() as ctx:
        assert incidents.get_type(ctx, NEW_TYPE).priority == 2
