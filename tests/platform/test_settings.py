"""Secrets from files: each secret setting may be given as the path of a file that holds it (PRECINCT_<NAME>_FILE),
as container platforms mount them, so that it is in no process's environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from precinct.cli.main import app as cli
from precinct.platform.config import Settings


@pytest.fixture(autouse=True)
def no_secrets_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "NATS_URL", "DEMO_PASSWORD"):
        monkeypatch.delenv(f"PRECINCT_{name}", raising=False)
        monkeypatch.delenv(f"PRECINCT_{name}_FILE", raising=False)


def test_a_secret_is_read_from_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "nats"
    secret.write_text("nats://precinct:s3cret-pass@10.0.0.5:4222\n")  # as an editor or `echo` leaves it
    monkeypatch.setenv("PRECINCT_NATS_URL_FILE", str(secret))
    assert Settings().nats_url == "nats://precinct:s3cret-pass@10.0.0.5:4222"


def test_a_command_connects_with_a_database_url_from_a_file(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "database_url"
    secret.write_text(settings.database_url + "\n")
    monkeypatch.setenv("PRECINCT_DATABASE_URL_FILE", str(secret))
    listed = CliRunner().invoke(cli, ["orgs", "list"])
    assert listed.exit_code == 0, listed.output
    assert "PDX-CE" in listed.output


@pytest.mark.parametrize(
    ("environment", "words"),
    [
        ({"PRECINCT_DEMO_PASSWORD": "from-the-environment", "PRECINCT_DEMO_PASSWORD_FILE": "{tmp}/x"}, "not both"),
        ({"PRECINCT_DEMO_PASSWORD_FILE": "{tmp}/missing"}, "PRECINCT_DEMO_PASSWORD_FILE: cannot read"),
    ],
)
def test_an_ambiguous_or_unreadable_secret_is_refused_by_name(
    environment: dict[str, str], words: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))
    with pytest.raises(ValueError, match=words):
        Settings()
