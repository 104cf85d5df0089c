"""The demo's tokens: the simulator's acts as the city's dispatcher, the terminal's opens the page of the unit the
demo leaves to people."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.api.builders import create_unit

from precinct.cli import demo
from precinct.platform.config import Settings


def test_the_demo_makes_a_dispatchers_token_for_the_simulator_and_one_for_the_terminal(
    client: TestClient, settings: Settings
) -> None:
    simulator, terminal = demo.demo_tokens(settings)
    assert terminal is None  # no unit to leave to people yet
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {simulator}"}).json()
    assert (me["login"], me["kind"], me["role"], me["org_code"]) == ("system:simulator", "system", "dispatcher", "PDX")

    unit = create_unit(client, demo.TERMINAL_UNIT)
    again, terminal = demo.demo_tokens(settings)  # a second demo run: new tokens for the same identities
    assert again != simulator
    assert terminal is not None
    client.headers.pop("Authorization")
    opened = client.post("/api/auth/terminal-sign-in", headers={"Authorization": f"Bearer {terminal}"})
    assert opened.status_code == 200, opened.text
    assert (opened.json()["kind"], opened.json()["unit_id"]) == ("device", unit["id"])
    assert "precinct_session" in opened.cookies  # what the page works with from now on
