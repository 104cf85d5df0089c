"""``precinct users``: who may sign in (staff, unit terminals and other systems) and the bearer tokens they hold."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from precinct.cli.common import console, context, err, read_password
from precinct.domains.identity import accounts
from precinct.domains.orgs import service as orgs
from precinct.platform.context import system_clock

users_app = typer.Typer(help="Who may sign in: staff, unit terminals and other systems.", no_args_is_help=True)
tokens_app = typer.Typer(help="Bearer tokens of unit terminals and other systems.", no_args_is_help=True)
users_app.add_typer(tokens_app, name="token")

PasswordFile = Annotated[
    Path | None, typer.Option(help="Read the password from this file's first line instead of a prompt")
]


@users_app.command("add")
def users_add(
    login: Annotated[str, typer.Argument(help="The login name: a–z, 0–9 and . _ -")],
    role: Annotated[str, typer.Option(help=", ".join(accounts.ROLES))],
    org: Annotated[str, typer.Option(help="Code of the user's org")],
    name: Annotated[str | None, typer.Option(help="The name shown for them (the login when omitted)")] = None,
    password_file: PasswordFile = None,
) -> None:
    """Add a staff member with one role in an org."""
    password = read_password(password_file)
    with context("users add") as ctx:
        user = accounts.create_user(ctx, login=login, role=role, org_code=org, password=password, display_name=name)
        console.print(f"user {user.login} ({user.role} at {org}) added, id {user.id}")


@users_app.command("list")
def users_list() -> None:
    """Every user, terminal and system, and the tokens they hold."""
    with context("users list", write=False) as ctx:
        codes = {o.id: o.code for o in orgs.list_orgs(ctx)}
        every, tokens = accounts.list_users(ctx), accounts.list_tokens(ctx)
        now = system_clock()
        table = Table(title=f"{len(every)} users")
        for column in ("id", "login", "name", "kind", "role", "org", "state"):
            table.add_column(column)
        for user in every:
            state = "active" if user.active else "disabled"
            if user.active and user.locked_until is not None and user.locked_until > now:
                state = "locked"
            org_code = codes.get(user.org_id, "") if user.org_id is not None else ""
            table.add_row(str(user.id), user.login, user.display_name, user.kind, user.role or "", org_code, state)
    console.print(table)
    if tokens:
        listing = Table(title=f"{len(tokens)} tokens")
        for column in ("id", "owner", "prefix", "created", "expires", "state"):
            listing.add_column(column)
        for token, owner in tokens:
            expired = token.expires_at is not None and token.expires_at <= now
            state = "revoked" if token.revoked_at is not None else "expired" if expired else "valid"
            expires = token.expires_at.date().isoformat() if token.expires_at else "never"
            listing.add_row(str(token.id), owner, token.prefix, token.created_at.date().isoformat(), expires, state)
        console.print(listing)


@users_app.command("disable")
def users_disable(login: Annotated[str, typer.Argument()]) -> None:
    """Stop a user signing in; their sessions and tokens stop working at once."""
    with context("users disable") as ctx:
        user = accounts.disable_user(ctx, login)
        console.print(f"user {user.login} disabled; their sessions are ended")


@users_app.command("enable")
def users_enable(login: Annotated[str, typer.Argument()]) -> None:
    """Let a disabled user sign in again (its revoked tokens stay revoked)."""
    with context("users enable") as ctx:
        user = accounts.enable_user(ctx, login)
        console.print(f"user {user.login} enabled")


@users_app.command("password")
def users_password(login: Annotated[str, typer.Argument()], password_file: PasswordFile = None) -> None:
    """Set a new password; it unlocks the account and ends its sessions."""
    password = read_password(password_file)
    with context("users password") as ctx:
        user = accounts.set_password(ctx, login, password)
        console.print(f"password of {user.login} changed; their sessions are ended")


@tokens_app.command("add")
def tokens_add(
    unit: Annotated[str | None, typer.Option(help="Call sign of the unit whose terminal uses it")] = None,
    system: Annotated[str | None, typer.Option(help="Name of the system that uses it")] = None,
    org: Annotated[str | None, typer.Option(help="A new system: code of the org whose data it serves")] = None,
    role: Annotated[str | None, typer.Option(help="A new system: the role it acts in, e.g. dispatcher")] = None,
    expires_days: Annotated[int | None, typer.Option(min=1, max=3650, help="Expire after this many days")] = None,
) -> None:
    """Make a bearer token for a unit's terminal or another system, and print it once."""
    if (unit is None) == (system is None):
        err.print("[red]error:[/red] give either --unit CALL_SIGN or --system NAME")
        raise typer.Exit(2)
    with context("users token add") as ctx:
        row, token = accounts.add_token(
            ctx, unit_call_sign=unit, system_name=system, org_code=org, role=role, expires_days=expires_days
        )
        owner = f"device:{unit}" if unit is not None else f"system:{system}"
    expires = row.expires_at.isoformat() if row.expires_at else "never"
    console.print(f"token {row.id} for {owner} (expires: {expires}); it is shown this once, store it now:")
    console.print(token, soft_wrap=True, markup=False, highlight=False)


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[int, typer.Argument(min=1, help="The token's id (precinct users list)")]) -> None:
    """Revoke a token: requests bearing it are refused from now on."""
    with context("users token revoke") as ctx:
        token = accounts.revoke_token(ctx, token_id)
        console.print(f"token {token.id} ({token.prefix}) revoked")
