"""Retention of callers' details: a closed or merged incident keeps its personal fields for its retention after it
closed, then they are erased (decision 0009). An open incident keeps them however old it is."""

from __future__ import annotations

from datetime import timedelta

from precinct.core.privacy import PERSONAL_FIELDS, Anonymisation, anonymised
from precinct.domains.incidents.repository import IncidentRepository
from precinct.platform.context import Ctx

RECORD = "incident"
BATCH = 1000  # incidents per UPDATE: short statements, and ids few enough for any backend's parameter limit


def anonymise_expired(ctx: Ctx, retention_days: int, *, dry_run: bool = False, batch: int = BATCH) -> Anonymisation:
    """Erase the personal fields of every incident closed (or merged) more than ``retention_days`` ago that still
    holds one, a batch of ids per UPDATE, in the caller's transaction. ``dry_run`` reports the same and changes
    nothing. The closing time is ``closed_at``: stamped by closing and merging, cleared by reopening."""
    closed_before = ctx.now() - timedelta(days=retention_days)
    repo = IncidentRepository(ctx.session, ctx.scope)
    report = Anonymisation(RECORD, retention_days)
    names = list(PERSONAL_FIELDS[RECORD])
    if dry_run:
        found = repo.closed_holding_personal_data(closed_before)._mapping
        report.add(found["records"], found["oldest"], found["newest"], {name: found[name] for name in names})
        return report
    values = anonymised(RECORD)
    # Until a look finds none: each UPDATE takes its rows out of the next look (and out of the partial index).
    while rows := repo.lock_closed_holding_personal_data(closed_before, batch):
        repo.set_personal_fields([row.id for row in rows], values)
        closed = [row.closed_at for row in rows]
        report.add(
            len(rows), min(closed), max(closed), {name: sum(bool(row._mapping[name]) for row in rows) for name in names}
        )
    return report
