"""KPIs for an org subtree and a period, computed from timeline events (DOMAIN.md §5): reported, never ranked."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from datetime import datetime, timedelta

from precinct.core.kpi import IncidentTimes, dispatch_delays_s, distribution, response_summary
from precinct.domains.analytics.schemas import CountRow, DistributionOut, KpiReport, ResponseOut
from precinct.domains.incidents import orders
from precinct.domains.incidents import service as incidents
from precinct.domains.orgs import service as orgs
from precinct.platform.context import Ctx
from precinct.platform.errors import InvalidInput


def kpi_report(
    ctx: Ctx,
    *,
    org_id: int | None,
    period_from: datetime,
    period_to: datetime,
    clock_start: str | None = None,
) -> KpiReport:
    if period_from.tzinfo is None or period_to.tzinfo is None:
        raise InvalidInput("give the period with a time zone, e.g. 2026-11-01T00:00:00+08:00")
    if period_to <= period_from:
        raise InvalidInput(f"the period ends ({period_to.isoformat()}) before it starts ({period_from.isoformat()})")
    if period_to - period_from > timedelta(days=3660):
        raise InvalidInput("the period is longer than ten years; ask for a shorter one")
    clock = clock_start or ctx.settings.response_clock_start
    if org_id is None and not ctx.scope.everything and ctx.principal is not None:
        org_id = ctx.principal.org_id  # a station's own figures, not those of incidents granted to it for a while
    org_ids = orgs.subtree_ids(ctx, org_id) if org_id is not None else None
    rows = incidents.incident_times(ctx, org_ids, period_from, period_to)
    names = {t.code: t.name_zh for t in incidents.list_types(ctx)}
    times = [
        IncidentTimes(
            type_code=row.type_code,
            priority=row.priority,
            called_at=row.called_at,
            taken_at=row.taken_at,
            first_ordered_at=row.first_ordered_at,
            first_on_scene_at=row.first_on_scene_at,
            target_s=row.target_s or ctx.settings.default_response_target_s,
        )
        for row in rows
    ]
    by_type = Counter(t.type_code for t in times)
    by_priority = Counter(t.priority for t in times)
    unacknowledged = [o for o in orders.open_orders(ctx, org_ids) if o.status == "ordered"]
    deadline = ctx.now() - timedelta(seconds=ctx.settings.acknowledge_deadline_s)
    return KpiReport(
        org_id=org_id,
        period_from=period_from,
        period_to=period_to,
        incidents=len(times),
        by_type=[CountRow(key=k, name=names.get(k), count=n) for k, n in by_type.most_common()],
        by_priority=[CountRow(key=str(k), count=n) for k, n in sorted(by_priority.items())],
        call_to_dispatch=DistributionOut(**asdict(distribution(dispatch_delays_s(times)))),
        response=_response(times, clock),
        response_by_priority={
            str(p): _response([t for t in times if t.priority == p], clock) for p in sorted(by_priority)
        },
        unacknowledged_orders=len(unacknowledged),
        overdue_acknowledgements=sum(o.ordered_at < deadline for o in unacknowledged),
        acknowledge_deadline_s=ctx.settings.acknowledge_deadline_s,
    )


def _response(times: list[IncidentTimes], clock: str) -> ResponseOut:
    summary = response_summary(times, clock)
    return ResponseOut(
        clock_start=summary.clock_start,
        arrivals=DistributionOut(**asdict(summary.arrivals)),
        within_target=summary.within_target,
        within_target_share=summary.within_target_share,
    )
