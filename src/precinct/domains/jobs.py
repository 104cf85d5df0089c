"""Every background job, for a job runner (each API worker's, or ``precinct worker``)."""

from __future__ import annotations

from precinct.domains.identity import service as identity
from precinct.domains.incidents import orders
from precinct.domains.retention import anonymise_expired_records
from precinct.platform.audit import seal_audit_log
from precinct.platform.events import prune_outbox
from precinct.platform.jobs import Job

JOBS: tuple[Job, ...] = (
    orders.flag_overdue_orders,
    prune_outbox,
    seal_audit_log,
    identity.prune_sign_ins,
    anonymise_expired_records,
)
