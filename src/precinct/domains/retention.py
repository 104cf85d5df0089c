"""Retention of personal data across every kind of record that holds some (``core/privacy.PERSONAL_FIELDS``): each
kind's retention comes from ``PRECINCT_RETENTION_DAYS``, and past it the record's personal fields are erased
(decision 0009). A kind the setting leaves out is never anonymised."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from precinct.core.privacy import PERSONAL_FIELDS, Anonymisation
from precinct.domains.incidents import retention as incidents
from precinct.platform import audit
from precinct.platform.context import Ctx


class Anonymiser(Protocol):
    def __call__(self, ctx: Ctx, retention_days: int, *, dry_run: bool = False) -> Anonymisation: ...


# Who anonymises each kind of record: one per kind in PERSONAL_FIELDS (a test holds them equal).
ANONYMISERS: dict[str, Anonymiser] = {incidents.RECORD: incidents.anonymise_expired}


@dataclass(frozen=True)
class RetentionReport:
    at: datetime
    dry_run: bool
    kinds: list[Anonymisation]  # every kind with personal fields; ``retention_days`` None for one never anonymised

    @property
    def records(self) -> int:
        return sum(kind.records for kind in self.kinds)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "dry_run": self.dry_run,
            "records": self.records,
            "kinds": [
                {
                    "record": kind.record,
                    "retention_days": kind.retention_days,
                    "records": kind.records,
                    "oldest": kind.oldest.isoformat() if kind.oldest else None,
                    "newest": kind.newest.isoformat() if kind.newest else None,
                    "fields": kind.fields,
                }
                for kind in self.kinds
            ],
        }


def apply_retention(ctx: Ctx, *, dry_run: bool = False) -> RetentionReport:
    """Anonymise, in the caller's transaction, every record whose kind's retention has passed and that still holds
    personal data; ``dry_run`` reports exactly that and changes nothing. A second run finds nothing."""
    kinds = []
    for record in PERSONAL_FIELDS:
        days = ctx.settings.retention_days.get(record)
        if days is None:
            kinds.append(Anonymisation(record, retention_days=None))
        else:
            kinds.append(ANONYMISERS[record](ctx, days, dry_run=dry_run))
    return RetentionReport(at=ctx.now(), dry_run=dry_run, kinds=kinds)


def anonymise_expired_records(ctx: Ctx) -> int:
    """A job: ``apply_retention``, with one audit entry naming how many records of each kind it anonymised when it
    anonymised any (an erased field leaves no other trace). Returns how many."""
    report = apply_retention(ctx)
    if report.records:
        changed = {kind.record: kind.records for kind in report.kinds if kind.records}
        audit.record_job_write(ctx, "anonymise_expired_records", changed)
    return report.records
