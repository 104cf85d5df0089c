"""HTTP route for KPIs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Query

from precinct.domains.analytics import service
from precinct.domains.analytics.schemas import KpiReport
from precinct.platform.http import CtxDep, PrecinctRouter, errors, in_worker_thread
from precinct.platform.schemas import SMALL_ID_MAX

router = PrecinctRouter(prefix="/api", tags=["analytics"])


@router.get(
    "/kpi",
    response_model=KpiReport,
    responses=errors(404, 422),
    summary="Station numbers for an org subtree and a period, from timeline events",
)
@in_worker_thread
def kpi(
    ctx: CtxDep,
    period_from: Annotated[datetime, Query(alias="from", description="Start of the period (time of call)")],
    period_to: Annotated[datetime, Query(alias="to", description="End of the period, exclusive")],
    org_id: Annotated[
        int | None, Query(ge=1, le=SMALL_ID_MAX, description="This org and the orgs below it; all when absent")
    ] = None,
    clock_start: Annotated[
        Literal["call", "taken", "ordered"] | None, Query(description="Overrides the configured clock start")
    ] = None,
) -> KpiReport:
    return service.kpi_report(ctx, org_id=org_id, period_from=period_from, period_to=period_to, clock_start=clock_start)
