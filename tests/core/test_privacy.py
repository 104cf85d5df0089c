"""The registry of personal fields: every kind of data it names can be masked and anonymised, and a retention
report folds batches together."""

from __future__ import annotations

from datetime import UTC, datetime

from precinct.core.privacy import PERSONAL_FIELDS, Anonymisation, anonymised, mask


def test_every_personal_field_can_be_masked_and_anonymised() -> None:
    for record, fields in PERSONAL_FIELDS.items():
        assert anonymised(record) == dict.fromkeys(fields)
        for field in fields:
            assert mask(record, field, "13812345678") != "13812345678"


def test_an_anonymised_incident_has_no_caller() -> None:
    assert anonymised("incident") == {"caller_name": None, "caller_phone": None}


def test_a_report_folds_batches_and_ignores_empty_ones() -> None:
    early, late = datetime(2020, 1, 1, tzinfo=UTC), datetime(2021, 6, 1, tzinfo=UTC)
    report = Anonymisation("incident", 1825)
    report.add(0, None, None, {"caller_name": 0})
    report.add(2, late, late, {"caller_name": 0, "caller_phone": 2})
    report.add(3, early, late, {"caller_name": 1, "caller_phone": 3})
    assert (report.records, report.oldest, report.newest) == (5, early, late)
    assert report.fields == {"caller_phone": 5, "caller_name": 1}
