"""Importing the Portland calls for service: every call lands once, batches commit on their own, an interrupted
run resumes, a second run adds nothing, and malformed input is refused before anything is written."""

from __future__ import annotations

import zipfile
from importlib import resources
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.conftest import CALLS, need_data

from precinct.domains.incidents import history
from precinct.platform.config import Settings
from precinct.platform.db import Database
from precinct.platform.errors import InvalidInput

MAPPING = Path(str(resources.files("precinct.data").joinpath("portland_call_mapping.csv")))


def _count(db: Database, table: str) -> int:
    with db.transaction(write=False) as session:
        return int(session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608


def _run(db: Database, settings: Settings, **options) -> history.ImportReport:
    return history.import_calls(
        db, settings, CALLS, MAPPING, date_field="occ_date", timezone="America/Los_Angeles", **options
    )


def test_the_august_calls_import_once_and_resume_after_an_interruption(db: Database, settings: Settings) -> None:
    need_data(CALLS)
    batches = []

    def stop_after_three(done: int, total: int) -> None:
        batches.append(done)
        if len(batches) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(db, settings, batch_size=1000, on_batch=stop_after_three)
    assert _count(db, "incidents") == 3000  # the three finished batches stayed

    report = _run(db, settings, batch_size=5000)
    assert report.records == 19_376
    assert report.already_present == 3000
    assert report.imported == 19_376 - 3000 - 1
    assert dict(report.skipped) == {"unmapped final_case None": 1}
    assert _count(db, "incidents") == 19_375
    assert _count(db, "incident_events") == 19_375

    again = _run(db, settings)
    assert again.imported == 0
    assert again.already_present == 19_375
    assert _count(db, "incidents") == 19_375

    with db.transaction(write=False) as session:
        rows = session.execute(
            sa.text("SELECT number, status, type_code, org_id FROM incidents ORDER BY id LIMIT 1")
        ).one()
        assert rows.status == "closed"
        numbers = session.execute(sa.text("SELECT count(DISTINCT number) FROM incidents")).scalar_one()
        assert numbers == 19_375
        by_precinct = dict(
            session.execute(
                sa.text("SELECT o.code, count(*) FROM incidents i JOIN orgs o ON o.id = i.org_id GROUP BY o.code")
            ).all()
        )
        unassigned = session.execute(sa.text("SELECT count(*) FROM incidents WHERE org_id IS NULL")).scalar_one()
    assert set(by_precinct) == {"PDX-NO", "PDX-EA", "PDX-CE"}
    assert sum(by_precinct.values()) == 19_375 - unassigned
    assert report.unassigned <= unassigned < 200  # the districts leave gaps; calls there are kept, unassigned


def test_a_file_that_is_not_a_call_file_is_refused(db: Database, settings: Settings, tmp_path: Path) -> None:
    garbage = tmp_path / "calls.zip"
    garbage.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(InvalidInput, match=r"calls\.zip"):
        history.import_calls(db, settings, garbage, MAPPING, date_field="occ_date")
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w"):
        pass
    with pytest.raises(InvalidInput, match=r"empty\.zip"):
        history.import_calls(db, settings, empty, MAPPING, date_field="occ_date")
    assert _count(db, "incidents") == 0


def test_a_missing_field_or_a_bad_mapping_is_refused(db: Database, settings: Settings, tmp_path: Path) -> None:
    need_data(CALLS)
    with pytest.raises(InvalidInput, match="no field 'when'"):
        history.import_calls(db, settings, CALLS, MAPPING, date_field="when")
    unknown_type = tmp_path / "mapping.csv"
    unknown_type.write_text("final_case,type_code,priority\nBURG,77777777,2\n")
    with pytest.raises(InvalidInput, match="77777777"):
        history.import_calls(db, settings, CALLS, unknown_type, date_field="occ_date")
    malformed = tmp_path / "malformed.csv"
    malformed.write_text("final_case,type_code,priority\nBURG,0101,9\nBURG,01010101,2\nBURG,01010101,2\n")
    with pytest.raises(InvalidInput, match="line 2") as error:
        history.import_calls(db, settings, CALLS, malformed, date_field="occ_date")
    assert "mapped twice" in str(error.value)
    no_columns = tmp_path / "columns.csv"
    no_columns.write_text("final_case\nBURG\n")
    with pytest.raises(InvalidInput, match="type_code and priority"):
        history.import_calls(db, settings, CALLS, no_columns, date_field="occ_date")
    assert _count(db, "incidents") == 0
