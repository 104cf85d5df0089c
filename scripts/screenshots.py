"""Screenshots of the command screen and the officer terminal for the README, taken from a running precinct
(the demo: `scripts/demo`, with its simulator) in Debian's chromium, signed in as the demo's dispatcher (the
demo password: ``PRECINCT_DEMO_PASSWORD`` or its default).

    uv run python scripts/screenshots.py [http://127.0.0.1:8000] [--out docs]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from playwright.sync_api import sync_playwright

from precinct.platform.config import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:8000")
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--unit", type=int, help="The terminal's unit (default: one with an open order)")
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=os.environ.get("PRECINCT_CHROMIUM", "/usr/bin/chromium"))
        # One context: the pages share its session cookie; a dispatcher may open any unit's terminal page.
        context = browser.new_context(viewport={"width": 1600, "height": 900})
        signed_in = context.request.post(
            f"{args.url}/api/auth/sign-in", data={"login": "dispatcher", "password": Settings().demo_password}
        )
        if not signed_in.ok:
            raise SystemExit(f"cannot sign in as the demo's dispatcher: {signed_in.text()}")
        orders = context.request.get(f"{args.url}/api/dispatches").json()
        incidents = context.request.get(f"{args.url}/api/incidents?status=received&status=dispatched").json()
        screen = context.new_page()
        screen.goto(f"{args.url}/command")
        screen.wait_for_selector("body[data-ready]")
        waiting = [i for i in incidents if i["status"] == "received"] or incidents
        if waiting:
            screen.click(f'#queue tr[data-id="{waiting[0]["id"]}"]')
            screen.wait_for_selector("#panel .timeline li")
        screen.wait_for_timeout(1500)
        screen.screenshot(path=args.out / "command-screen.png")
        unit = args.unit or (orders[0]["unit_id"] if orders else None)
        if unit is not None:
            phone = context.new_page()
            phone.set_viewport_size({"width": 400, "height": 820})
            phone.goto(f"{args.url}/terminal?unit={unit}")
            phone.wait_for_selector("article.order")
            phone.wait_for_timeout(1500)
            phone.screenshot(path=args.out / "terminal.png")
        browser.close()
    print(f"saved into {args.out}/")


if __name__ == "__main__":
    main()
