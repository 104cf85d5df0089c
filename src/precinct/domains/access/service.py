"""A principal's scope — the orgs whose records it sees — and the cross-org grants that widen it for a while
(decision 0011). Repositories apply the scope in their base queries; this module only works it out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from precinct.domains.access.models import AccessGrant
from precinct.domains.access.repository import AccessRepository
from precinct.domains.orgs import service as orgs
from precinct.platform import reference
from precinct.platform.context import EVERYTHING, NOTHING, Ctx, Principal, Scope
from precinct.platform.errors import Conflict, Forbidden, InvalidInput, NotFound


def scope_of(ctx: Ctx, principal: Principal) -> Scope:
    """What ``principal`` may see now: a terminal, its unit; staff and systems, the subtree of their org and what
    grants in force add to it — everything, with incidents outside every jurisdiction, for the top of the tree;
    the public, nothing kept per org."""
    if principal.unit_id is not None:
        return Scope(org_ids=frozenset(), unit_id=principal.unit_id)
    if principal.org_id is None:
        return NOTHING
    tree = orgs.tree(ctx)
    own = tree.subtree(principal.org_id)
    if len(own) == len(tree.parents):
        return EVERYTHING
    org_ids, incident_ids = set(own), set[int]()
    until: datetime | None = None
    for org_id, incident_id, expires_at in AccessRepository(ctx.session).in_force_for(
        principal.user_id, tree.lineage(principal.org_id), ctx.now()
    ):
        if incident_id is not None:
            incident_ids.add(incident_id)
        elif org_id is not None:
            org_ids.update(tree.subtree(org_id))
        until = expires_at if until is None else min(until, expires_at)
    return Scope(frozenset(org_ids), incident_ids=frozenset(incident_ids), until=until)


def grant(
    ctx: Ctx,
    *,
    reason: str,
    hours: int,
    to_user_id: int | None = None,
    to_org_id: int | None = None,
    org_id: int | None = None,
    incident_id: int | None = None,
) -> AccessGrant:
    """Let a user, or the staff of an org, see an org's subtree — or, with ``incident_id``, one incident of
    ``org_id`` (the caller found it in its scope) — for ``hours``. Only an org the granting principal sees as its
    own can be opened: a grant it holds itself is not passed on."""
    if (to_user_id is None) == (to_org_id is None):
        raise InvalidInput("name one grantee: to_user_id or to_org_id")
    if not 1 <= hours <= ctx.settings.grant_max_hours:
        raise InvalidInput(f"a grant runs 1 to {ctx.settings.grant_max_hours} hours; {hours} was asked")
    if not reason.strip():
        raise InvalidInput("say why the grant is needed: give a reason")
    if incident_id is None:
        if org_id is None or org_id not in orgs.tree(ctx).parents or not ctx.scope.sees_org(org_id):
            raise NotFound(f"no org with id {org_id} in your scope")
    elif not ctx.scope.sees_org(org_id):
        raise Forbidden(f"incident {incident_id} is another org's: only that org, or one above it, may grant it")
    if to_org_id is not None:
        orgs.get_org(ctx, to_org_id)
    row = AccessGrant(
        grantee_user_id=to_user_id,
        grantee_org_id=to_org_id,
        org_id=org_id,
        incident_id=incident_id,
        reason=reason.strip(),
    )
    return _add(ctx, row, hours)


def grant_assist(
    ctx: Ctx, incident_id: int, incident_org_id: int | None, unit_org_id: int, call_sign: str
) -> AccessGrant | None:
    """When a unit is sent to an incident its own station does not see (another station's area, or outside every
    jurisdiction), let that station see the incident for ``assist_grant_hours``; None when it sees it already."""
    if incident_org_id is not None and incident_org_id in orgs.tree(ctx).subtree(unit_org_id):
        return None
    return _add(
        ctx,
        AccessGrant(
            grantee_org_id=unit_org_id,
            org_id=incident_org_id,
            incident_id=incident_id,
            reason=f"unit {call_sign} sent to assist",
        ),
        ctx.settings.assist_grant_hours,
    )


def _add(ctx: Ctx, row: AccessGrant, hours: int) -> AccessGrant:
    now = ctx.now()
    row.granted_by, row.granted_at, row.expires_at = ctx.actor, now, now + timedelta(hours=hours)
    ctx.session.add(row)
    ctx.session.flush()
    reference.bump(ctx, reference.CREDENTIALS)  # the grantees' scopes change
    return row


def revoke(ctx: Ctx, grant_id: int) -> AccessGrant:
    """End a grant now (it stays in the log, stamped); one already ended is a ``Conflict``."""
    row = AccessRepository(ctx.session).by_id(grant_id, for_update=True)
    if row is None or not ctx.scope.sees_org(row.org_id):
        raise NotFound(f"no grant with id {grant_id}")
    now = ctx.now()
    if row.revoked_at is not None or row.expires_at <= now:
        raise Conflict(f"grant {grant_id} has already ended")
    row.revoked_at, row.revoked_by = now, ctx.actor
    ctx.session.flush()
    reference.bump(ctx, reference.CREDENTIALS)
    return row


def list_grants(ctx: Ctx, *, include_ended: bool = False, limit: int = 500) -> Sequence[AccessGrant]:
    """The grants that open an org the principal sees, newest first: those in force, or all of them."""
    return AccessRepository(ctx.session).listed(
        ctx.scope, in_force_at=None if include_ended else ctx.now(), limit=limit
    )
