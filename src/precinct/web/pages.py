"""The browser pages: the command screen (指挥大屏) and the officer terminal (背包警务), their own scripts and
styles, and the map and chart libraries npm installed, all served by precinct itself (no CDN, no tiles: it may
run on a closed network)."""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from precinct.platform.config import Settings

log = logging.getLogger("precinct")

STATIC = Path(str(resources.files("precinct.web").joinpath("static")))
# URL folder → the files each library ships ready for a browser.
VENDOR = {"maplibre-gl": "maplibre-gl/dist", "echarts": "echarts/dist"}


def install_pages(app: FastAPI, settings: Settings) -> None:
    app.mount("/static/app", StaticFiles(directory=STATIC), name="app")
    for name, folder in VENDOR.items():
        directory = settings.web_modules_dir / folder
        if directory.is_dir():
            app.mount(f"/vendor/{name}", StaticFiles(directory=directory), name=f"vendor-{name}")
        else:
            log.warning("%s is missing: run scripts/setup (npm ci) for the pages' map and charts", directory)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/command")

    @app.get("/command", include_in_schema=False)
    def command_screen() -> FileResponse:
        return FileResponse(STATIC / "command.html")

    @app.get("/terminal", include_in_schema=False)
    def terminal() -> FileResponse:
        return FileResponse(STATIC / "terminal.html")
