"""HTTP routes for signing in and out and for asking who is signed in."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse

from precinct.domains.identity import service
from precinct.domains.identity.schemas import Me, SignedIn, SignedOut
from precinct.platform.context import Ctx
from precinct.platform.http import CtxDep, PrecinctRouter, client_address, errors, in_worker_thread

router = PrecinctRouter(prefix="/api/auth", tags=["identity"])

CheckedSignIn = Annotated[service.SignInAttempt, Depends(service.check_sign_in)]


@router.post(
    "/sign-in",
    response_model=SignedIn,
    responses=errors(401, 422, 429),
    summary="Sign in with login and password: sets the session and CSRF cookies",
)
@in_worker_thread
def sign_in(ctx: CtxDep, attempt: CheckedSignIn, response: Response) -> SignedIn | JSONResponse:
    started = service.sign_in(ctx, attempt)
    if started is None:  # the same answer for a wrong login, a wrong password and a locked or disabled account
        refused = service.SIGN_IN_REFUSED
        return JSONResponse(status_code=refused.status_code, content=refused.to_dict())
    return _session_cookies(ctx, started, response)


@router.post(
    "/terminal-sign-in",
    response_model=SignedIn,
    responses=errors(401, 403),
    summary="A unit terminal's page trades its bearer token for a session: sets the session and CSRF cookies",
)
def sign_in_terminal(ctx: CtxDep, request: Request, response: Response) -> SignedIn:
    assert ctx.principal is not None  # the permission table lets only a device in
    return _session_cookies(ctx, service.sign_in_terminal(ctx, ctx.principal, client_address(request)), response)


def _session_cookies(ctx: Ctx, started: service.NewSession, response: Response) -> SignedIn:
    settings = ctx.settings
    for name, value in ((service.SESSION_COOKIE, started.token), (service.CSRF_COOKIE, started.csrf_token)):
        response.set_cookie(
            name,
            value,
            max_age=settings.session_lifetime_s,
            path="/",
            secure=settings.cookie_secure,
            httponly=name == service.SESSION_COOKIE,  # the page reads the CSRF token, never the session's
            samesite="strict",
        )
    response.headers["Cache-Control"] = "no-store"
    return SignedIn(**started.me.model_dump(), csrf_token=started.csrf_token)


@router.post(
    "/sign-out",
    response_model=SignedOut,
    responses=errors(403),
    summary="Sign out: ends the session at once (with the cookie, send X-CSRF-Token)",
)
def sign_out(ctx: CtxDep, request: Request, response: Response) -> SignedOut:
    if ctx.principal is not None:
        service.check_csrf(request, ctx.principal)
    ended = service.sign_out(ctx, ctx.principal)
    secure = ctx.settings.cookie_secure
    for name in (service.SESSION_COOKIE, service.CSRF_COOKIE):
        response.delete_cookie(
            name, path="/", secure=secure, samesite="strict", httponly=name == service.SESSION_COOKIE
        )
    return SignedOut(ended=ended)


@router.get("/me", response_model=Me, responses=errors(401), summary="Who the session cookie or bearer token is")
def me(ctx: CtxDep) -> Me:
    assert ctx.principal is not None  # the permission table lets only the signed-in in
    return service.whoami(ctx, ctx.principal)
