"""The shape of a KPI report."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class DistributionOut(BaseModel):
    count: int
    median_s: float | None
    p90_s: float | None
    mean_s: float | None


class ResponseOut(BaseModel):
    clock_start: str = Field(description="call (报警时间), taken (接警时间) or ordered (派警时间)")
    arrivals: DistributionOut
    within_target: int
    within_target_share: float | None = Field(description="Share of arrivals within their type's target")


class CountRow(BaseModel):
    key: str
    name: str | None = None
    count: int


class KpiReport(BaseModel):
    org_id: int | None
    period_from: datetime
    period_to: datetime
    incidents: int
    by_type: list[CountRow]
    by_priority: list[CountRow]
    call_to_dispatch: DistributionOut
    response: ResponseOut
    response_by_priority: dict[str, ResponseOut]
    unacknowledged_orders: int
    overdue_acknowledgements: int = Field(description="Orders unacknowledged past the deadline")
    acknowledge_deadline_s: int
