"""Who may call which route: one table, by method and path, read by the authorizer on every request and walked by a
test over every route × every role (``tests/api/test_permissions.py``). A route missing from it answers 403 to
everyone and fails that test: nothing is open by omission.

A subject is a staff member's role, the role a system acts in, or else the principal's kind (``device``, ``system``,
``public``). Which records a permitted subject then sees is its scope's business (decision 0011): the repositories
keep every query to it, and one outside it is not found.
"""

from __future__ import annotations

from typing import Literal

from starlette.requests import HTTPConnection

from precinct.core.privacy import MAY_REVEAL
from precinct.domains.identity import service as identity
from precinct.domains.identity.models import ROLES
from precinct.platform.context import Principal
from precinct.platform.errors import Forbidden, Unauthorized
from precinct.platform.http import Authorize

ANYONE: Literal["anyone"] = "anyone"  # signed in or not
SIGNED_IN: Literal["signed-in"] = "signed-in"  # any principal
Rule = frozenset[str] | Literal["anyone", "signed-in"]

STAFF = frozenset(ROLES)

TAKE_CALLS = frozenset({"call_taker", "dispatcher", "duty_commander"})
DISPATCH = frozenset({"dispatcher", "duty_commander"})
COMMAND = DISPATCH | {"station_chief"}
SEE_INCIDENTS = COMMAND | {"call_taker", "community_officer", "case_officer", "analyst"}
NUMBERS = COMMAND | {"analyst"}
REFERENCE = STAFF | {"device", "system"}
DEVICE = frozenset({"device"})
GRANT = frozenset({"duty_commander", "station_chief", "administrator"})  # who opens their records to another org

PERMISSIONS: dict[tuple[str, str], Rule] = {
    ("GET", "/health"): ANYONE,
    # identity
    ("WS", "/ws/events"): SEE_INCIDENTS | DEVICE,  # a terminal hears its own unit's orders only
    ("POST", "/api/auth/sign-in"): ANYONE,
    ("POST", "/api/auth/terminal-sign-in"): DEVICE,
    ("POST", "/api/auth/sign-out"): ANYONE,
    ("GET", "/api/auth/me"): SIGNED_IN,
    # reference data: the tree, grids, the catalogue, roads
    ("GET", "/api/orgs"): REFERENCE,
    ("GET", "/api/orgs/{org_id}"): REFERENCE,
    ("GET", "/api/orgs/{org_id}/boundary"): REFERENCE,
    ("GET", "/api/grids"): REFERENCE,
    ("GET", "/api/grids.geojson"): REFERENCE,
    ("GET", "/api/jurisdiction"): REFERENCE,
    ("GET", "/api/incident-types"): REFERENCE,
    ("GET", "/api/roads"): REFERENCE,
    ("GET", "/api/roads/lines.geojson"): REFERENCE,
    # the 110 loop: taking calls
    ("POST", "/api/incidents"): TAKE_CALLS | {"system"},  # a bridge from another hotline (12345) may file calls
    ("GET", "/api/incidents"): SEE_INCIDENTS,
    ("GET", "/api/incidents/{incident_id}"): SEE_INCIDENTS | DEVICE,  # a terminal shows the incident it is sent to
    ("GET", "/api/incidents/{incident_id}/history"): SEE_INCIDENTS,
    ("GET", "/api/incidents/{incident_id}/duplicates"): TAKE_CALLS,
    ("POST", "/api/incidents/{incident_id}/reveal"): MAY_REVEAL,
    ("POST", "/api/incidents/{incident_id}/merge"): TAKE_CALLS,
    ("POST", "/api/incidents/{incident_id}/close"): DISPATCH,
    ("POST", "/api/incidents/{incident_id}/reopen"): DISPATCH,
    # sending units
    ("GET", "/api/incidents/{incident_id}/recommendations"): COMMAND,
    ("POST", "/api/incidents/{incident_id}/dispatches"): DISPATCH,
    ("POST", "/api/incidents/{incident_id}/dispatch-recommended"): DISPATCH,
    ("GET", "/api/incidents/{incident_id}/route"): COMMAND | DEVICE,
    ("GET", "/api/dispatches"): SEE_INCIDENTS | DEVICE,
    ("GET", "/api/dispatches/{dispatch_id}"): SEE_INCIDENTS | DEVICE,
    # a terminal moves its own unit's orders (the service checks whose); a dispatcher records steps given by radio
    ("POST", "/api/dispatches/{dispatch_id}/feedback"): DISPATCH | DEVICE,
    ("POST", "/api/dispatches/{dispatch_id}/{action}"): DISPATCH | DEVICE,
    # units
    ("POST", "/api/units"): frozenset({"duty_commander", "station_chief", "administrator"}),
    ("GET", "/api/units"): SEE_INCIDENTS,
    ("GET", "/api/units/{unit_id}"): SEE_INCIDENTS | DEVICE,
    ("PUT", "/api/units/{unit_id}/duty"): COMMAND | DEVICE,
    ("PUT", "/api/units/{unit_id}/position"): DISPATCH | DEVICE,
    # numbers and coverage
    ("POST", "/api/grants"): GRANT,
    ("GET", "/api/grants"): GRANT,
    ("POST", "/api/grants/{grant_id}/revoke"): GRANT,
    ("POST", "/api/coverage"): NUMBERS | {"community_officer"},
    ("GET", "/api/kpi"): NUMBERS,
}


def may(principal: Principal | None, rule: Rule) -> bool:
    if rule == ANYONE:
        return True
    if principal is None:
        return False
    return rule == SIGNED_IN or principal.subject in rule


def authorizer(authenticate: Authorize) -> Authorize:
    """The check every route runs first: who is asking (``authenticate``), whether the table lets them call this
    route, and, for a change made with the session cookie, the CSRF token (for the live feed, its origin)."""

    def authorize(request: HTTPConnection, io: bool = True) -> Principal | None:
        method = request.scope.get("method", "WS")
        path = getattr(request.scope.get("route"), "path", "")
        rule = PERMISSIONS.get((method, path), frozenset())
        principal = authenticate(request, io)
        if not may(principal, rule):
            if principal is None:
                raise Unauthorized(
                    "sign in first (POST /api/auth/sign-in), or send a valid Authorization: Bearer token"
                )
            raise Forbidden(f"a {principal.subject} may not {method} {path}")
        if principal is not None and rule != ANYONE:  # sign-out checks its own; a sign-in needs no token yet
            identity.check_csrf(request, principal)
        return principal

    return authorize
