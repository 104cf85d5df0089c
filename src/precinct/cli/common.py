"""What every ``precinct`` command shares: the consoles, who is acting, one transaction per command, and the settings
and secrets read with a readable error."""

from __future__ import annotations

import getpass
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console
from rich.markup import escape

from precinct.platform import audit
from precinct.platform.config import Settings
from precinct.platform.context import Ctx
from precinct.platform.db import Database
from precinct.platform.errors import PrecinctError

console = Console()
err = Console(stderr=True)


def actor() -> str:
    return f"cli:{getpass.getuser()}"


def _host() -> str:
    return socket.gethostname()[:64]


@contextmanager
def context(command: str, *, write: bool = True, settings: Settings | None = None) -> Iterator[Ctx]:
    """One transaction for one command, with a readable error and exit code 1 for any domain error. A command that
    may write (the default) leaves an audit entry naming it in the same transaction; one that only reads says so."""
    settings = settings or Settings()
    db = Database(settings.database_url, writers=settings.db_writers)
    try:
        with db.transaction(write=write) as session:
            ctx = Ctx(session=session, settings=settings, actor=actor())
            yield ctx
            if write:
                audit.record_write(ctx, audit.Origin(action=f"precinct {command}", client_address=_host()))
    except PrecinctError as error:
        err.print(f"[red]error:[/red] {error.message}")
        for problem in error.details.get("problems", [])[:50]:
            err.print(f"  - {problem['message'] if isinstance(problem, dict) else problem}")
        raise typer.Exit(1) from None
    finally:
        db.dispose()


def load_settings() -> Settings:
    """The settings, or each problem with them on a line of its own naming the variable, and exit code 2."""
    try:
        return Settings()
    except SettingsError as error:  # a value that is not even JSON
        err.print(f"[red]error:[/red] {escape(str(error))}", soft_wrap=True)
    except ValidationError as error:
        for problem in error.errors():
            name = f"PRECINCT_{str(problem['loc'][0]).upper()}" if problem["loc"] else "a setting"
            message = problem["msg"].removeprefix("Value error, ")
            if not message.startswith(name):
                inside = " ".join(str(part) for part in problem["loc"][1:])
                message = f"{name}{f' {inside}' if inside else ''}: {message}"
            err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(2)


def read_password(password_file: Path | None) -> str:
    """From the file's first line (without its line break), else typed twice at a hidden prompt: never an argument,
    which would stay in the shell's history and the process list."""
    if password_file is None:
        return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))
    try:
        lines = password_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        err.print(f"[red]error:[/red] cannot read the password file: {error.__class__.__name__}")
        raise typer.Exit(2) from None
    return lines[0] if lines else ""
