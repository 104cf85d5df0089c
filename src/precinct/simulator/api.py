"""The HTTP API as the simulator uses it: every call answers a :class:`Reply`, never raises for a failed request,
and logs the failure in one line (quietly where a refusal is expected, e.g. a 409 when someone else acted first)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import httpx

from precinct.simulator.options import Stats

log = logging.getLogger("precinct.simulator")

UNREACHABLE_LOG_S = 5.0  # while the server cannot be reached, one line per this many seconds


@dataclass(frozen=True)
class Reply:
    """A response: its status (0 when the server could not be reached) and its JSON body (None on failure)."""

    status: int
    body: Any = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Api:
    def __init__(self, client: httpx.AsyncClient, stats: Stats) -> None:
        self.client = client
        self.stats = stats
        self._unreachable_logged_at = -UNREACHABLE_LOG_S
        self._unreachable_unlogged = 0

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Any = None,
        headers: dict[str, str] | None = None,
        expected: Collection[int] = (),
    ) -> Reply:
        """One request. A failure is logged (at debug level for the ``expected`` statuses) and returned."""
        try:
            response = await self.client.request(method, path, json=body, params=params, headers=headers)
        except httpx.HTTPError as error:
            self.stats.http_errors += 1
            self._log_unreachable(f"{method} {path}: {str(error) or type(error).__name__}")
            return Reply(0)
        if response.is_success:
            return Reply(response.status_code, response.json() if response.content else None)
        if response.status_code not in expected:
            self.stats.http_errors += 1
        log.log(
            logging.DEBUG if response.status_code in expected else logging.WARNING,
            "%s %s: %d %s",
            method,
            path,
            response.status_code,
            _message(response),
        )
        return Reply(response.status_code)

    def _log_unreachable(self, line: str) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._unreachable_logged_at < UNREACHABLE_LOG_S:
            self._unreachable_unlogged += 1
            return
        more = f" (and {self._unreachable_unlogged} more requests failed)" if self._unreachable_unlogged else ""
        log.warning("%s%s", line, more)
        self._unreachable_logged_at, self._unreachable_unlogged = now, 0

    async def healthy(self) -> bool:
        try:
            return (await self.client.get("/health")).is_success
        except httpx.HTTPError:
            return False

    async def wait_healthy(self, timeout_s: float) -> bool:
        """Poll ``GET /health`` until it answers, for at most ``timeout_s`` seconds."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            if await self.healthy():
                return True
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(0.5)

    async def units(self) -> Reply:
        return await self.call("GET", "/api/units")

    async def road_network(self) -> Reply:
        return await self.call("GET", "/api/roads", expected=(409,))

    async def report_position(self, unit_id: int, lon: float, lat: float) -> Reply:
        return await self.call("PUT", f"/api/units/{unit_id}/position", body={"lon": lon, "lat": lat})

    async def create_incident(self, body: dict[str, Any], idempotency_key: str) -> Reply:
        return await self.call("POST", "/api/incidents", body=body, headers={"Idempotency-Key": idempotency_key})

    async def incident(self, incident_id: int) -> Reply:
        return await self.call("GET", f"/api/incidents/{incident_id}", expected=(404,))

    async def incidents(self, statuses: Collection[str]) -> Reply:
        return await self.call("GET", "/api/incidents", params={"status": list(statuses), "limit": 1000})

    async def open_orders(self) -> Reply:
        """Every order not yet cleared or ended."""
        return await self.call("GET", "/api/dispatches")

    async def order(self, order_id: int) -> Reply:
        return await self.call("GET", f"/api/dispatches/{order_id}", expected=(404,))

    async def step(self, order_id: int, action: str, key: str, reason: str | None = None) -> Reply:
        """One step of an order; a retry with the same ``key`` returns the order rather than a refusal."""
        body = {"reason": reason} if reason else {}
        path = f"/api/dispatches/{order_id}/{action}"
        return await self.call("POST", path, body=body, headers={"Idempotency-Key": key}, expected=(409,))

    async def feedback(self, order_id: int, body: dict[str, Any], key: str) -> Reply:
        path = f"/api/dispatches/{order_id}/feedback"
        return await self.call("POST", path, body=body, headers={"Idempotency-Key": key}, expected=(409,))

    async def route(self, incident_id: int, unit_id: int) -> Reply:
        return await self.call("GET", f"/api/incidents/{incident_id}/route", params={"unit_id": unit_id})

    async def dispatch_recommended(self, incident_id: int) -> Reply:
        return await self.call(
            "POST", f"/api/incidents/{incident_id}/dispatch-recommended", body={}, expected=(409, 422)
        )

    async def close(self, incident_id: int, reason: str) -> Reply:
        return await self.call("POST", f"/api/incidents/{incident_id}/close", body={"reason": reason}, expected=(409,))


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])[:300]
    return str(body)[:300]
