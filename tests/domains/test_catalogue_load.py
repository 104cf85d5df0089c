"""Replacing the catalogue from a user's file."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.api.builders import create_incident

from precinct.domains.incidents import catalogue
from precinct.platform.errors import Conflict, InvalidInput

HEADER = "code,parent,name_zh,name_en,priority,response_target_s\n"


def test_a_user_catalogue_replaces_the_default(client: TestClient, ctx_factory, tmp_path: Path) -> None:
    mine = tmp_path / "types.csv"
    mine.write_text(HEADER + "01000000,,报警,Report,,\n01010000,01000000,刑事,Crime,1,240\n", encoding="utf-8")
    with ctx_factory() as ctx:
        assert catalogue.load_catalogue(ctx, mine) == 2
    types = client.get("/api/incident-types").json()
    assert [t["code"] for t in types] == ["01000000", "01010000"]
    assert types[1]["response_target_s"] == 240
    assert client.post("/api/incidents", json={"type_code": "01020100", "address": "x"}).status_code == 422


def test_types_in_use_cannot_disappear_and_bad_files_change_nothing(
    client: TestClient, ctx_factory, tmp_path: Path
) -> None:
    create_incident(client)  # uses 01020100
    mine = tmp_path / "types.csv"
    mine.write_text(HEADER + "01000000,,报警,Report,,\n", encoding="utf-8")
    with pytest.raises(Conflict, match="01020100"), ctx_factory() as ctx:
        catalogue.load_catalogue(ctx, mine)
    mine.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InvalidInput, match=r"types\.csv"), ctx_factory() as ctx:
        catalogue.load_catalogue(ctx, mine)
    with pytest.raises(InvalidInput, match="cannot read"), ctx_factory() as ctx:
        catalogue.load_catalogue(ctx, tmp_path / "missing.csv")
    assert len(client.get("/api/incident-types").json()) == 76
