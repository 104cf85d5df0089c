"""Browser tests: Debian's chromium driven by Playwright, against precinct served over real HTTP and WebSockets
(uvicorn in a thread, or real server processes where a test needs two workers or a server that goes away)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from tests.api.builders import serving
from tests.conftest import PORTLAND_ROADS, REPO_ROOT, auth_headers, need_data

from precinct.domains.identity import accounts
from precinct.domains.roads import service as roads
from precinct.domains.units import service as units
from precinct.platform.config import Settings
from precinct.platform.db import Database
from precinct.web.app import create_app

CHROMIUM = os.environ.get("PRECINCT_CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.timeout(120)


# Per module, not per session: while Playwright's sync API is open it keeps an event loop running in this thread,
# and the tests after it that call asyncio.run() would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file() and shutil.which(CHROMIUM) is None:
        message = f"no chromium at {CHROMIUM}: scripts/setup --browser installs Debian's chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    if not (REPO_ROOT / "node_modules" / "maplibre-gl").is_dir():
        pytest.fail("node_modules/maplibre-gl is missing: scripts/setup runs npm ci")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--use-angle=swiftshader"])
        yield launched
        launched.close()


PASSWORD = "correct horse battery"


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Open a page in a context of its own (a second officer, a second screen), signed in first as ``signed_in``
    says ({"login", "password"} of a staff member or {"token"} of a unit's terminal), with ``prepare`` called on it
    before it loads (to route its live feed through a ``FeedLine``); errors in its scripts fail the test."""
    contexts = []
    errors: list[str] = []

    def open_(
        url: str,
        signed_in: dict[str, str] | None = None,
        *,
        prepare: Callable[[Page], None] | None = None,
        **options: Any,
    ) -> Page:
        context = browser.new_context(**options)
        contexts.append(context)
        if signed_in is not None:  # the context's request API shares the pages' cookies
            origin = "/".join(url.split("/", 3)[:3])
            if "token" in signed_in:
                bearer = {"Authorization": f"Bearer {signed_in['token']}"}
                answer = context.request.post(f"{origin}/api/auth/terminal-sign-in", headers=bearer)
            else:
                answer = context.request.post(f"{origin}/api/auth/sign-in", data=signed_in)
            assert answer.ok, answer.text()
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(f"{url}: {error}"))
        # What the Content-Security-Policy blocks is only reported on the console.
        page.on(
            "console",
            lambda message: (
                errors.append(f"{url}: {message.text}")
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )
        page.set_default_timeout(10_000)
        if prepare is not None:
            prepare(page)
        page.goto(url)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not errors, errors


@pytest.fixture
def with_roads(ctx_factory: Callable[[], Any]) -> None:
    need_data(PORTLAND_ROADS)
    with ctx_factory() as ctx:
        roads.import_roads(ctx, PORTLAND_ROADS, name="Portland central")


@pytest.fixture
def staff(ctx_factory: Callable[[], Any]) -> dict[str, str]:
    """A dispatcher of the city, to sign in to the command screen as."""
    with ctx_factory() as ctx:
        accounts.create_user(ctx, login="disp", role="dispatcher", org_code="PDX", password=PASSWORD)
    return {"login": "disp", "password": PASSWORD}


@pytest.fixture
def terminal_of(ctx_factory: Callable[[], Any]) -> Callable[[int], dict[str, str]]:
    """A unit's terminal token, to sign in to the terminal page with."""

    def token(unit_id: int) -> dict[str, str]:
        with ctx_factory() as ctx:
            call_sign = units.get_unit(ctx, unit_id).call_sign
            return {"token": accounts.add_token(ctx, unit_call_sign=call_sign)[1]}

    return token


@pytest.fixture
def api(db: Database, settings: Settings) -> Iterator[httpx.Client]:
    """HTTP calls made beside the pages, as the city's duty commander."""
    with httpx.Client(headers=auth_headers(db, settings), timeout=15) as client:
        yield client


@pytest.fixture
def site(settings: Settings, db: Database, with_roads: None) -> Iterator[str]:
    """precinct on a free port, on the test database, with the central Portland roads."""
    with serving(create_app(settings, db=db)) as url:
        yield url
