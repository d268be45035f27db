"""``cpbridge directory users add|list|unlock|reset-totp``: secure web link accounts.

The TOTP provisioning URI (``otpauth://...``, the secret an authenticator app
scans) is printed once, by ``add`` and ``reset-totp``, and never again: hand it to
the user in person or through a secure channel.
"""

from __future__ import annotations

from contextlib import contextmanager

import typer

from cpbridge.clitools import group, has_group
from cpbridge.settings import load_settings

from . import accounts
from .db import make_engine, migrate, session_factory

users_app = typer.Typer(help="Accounts for the secure web link (two-factor sign-in).", no_args_is_help=True)


@contextmanager
def _transaction():
    engine = make_engine(load_settings().directory_db_url())
    try:
        migrate(engine)
        with session_factory(engine).begin() as session:
            yield session
    finally:
        engine.dispose()


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(1)


@users_app.command("add")
def add(
    user_id: str = typer.Argument(..., help="The user name they sign in with"),
    name: str = typer.Option(..., help="Full name"),
    organisation: str = typer.Option(..., help="Organisation, e.g. 'Leeds City Council'"),
    local_authority: str = typer.Option(..., "--local-authority", help="ONS code of the authority, e.g. E08000035"),
    role: list[str] = typer.Option(
        ["practitioner"], "--role", help="practitioner, shield_override, management_team or administrator (repeat for several)"
    ),
    organisation_code: str = typer.Option(None, "--organisation-code", help="ODS or other organisation code"),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True, help="At least 12 characters"),
    pin: str = typer.Option(..., prompt="PIN", hide_input=True, confirmation_prompt=True, help="At least 4 digits"),
) -> None:
    """Create an account and print its TOTP provisioning URI (once)."""
    try:
        with _transaction() as session:
            _, uri = accounts.add_account(
                session,
                user_id=user_id,
                name=name,
                organisation=organisation,
                local_authority=local_authority,
                roles=role,
                password=password,
                pin=pin,
                organisation_code=organisation_code,
            )
    except accounts.AccountError as exc:
        _fail(str(exc))
    typer.echo(f"account {user_id} created with roles {', '.join(role)}")
    typer.echo("Add this to the user's authenticator app now; it is not shown again:")
    typer.echo(uri)


@users_app.command("list")
def list_() -> None:
    """Accounts with their roles, lock state and last sign-in (no secrets)."""
    with _transaction() as session:
        rows = accounts.list_accounts(session)
        now = accounts.utcnow()
        for a in rows:
            locked = "locked" if a.locked_until and a.locked_until > now else "active"
            last = a.last_login_at.strftime("%Y-%m-%d %H:%M") if a.last_login_at else "never"
            typer.echo(
                f"{a.user_id}\t{a.name}\t{a.organisation}\t{a.local_authority}\t{','.join(a.roles)}\t{locked}\t"
                f"failed={a.failed_attempts}\tlast sign-in {last}"
            )
        if not rows:
            typer.echo("no accounts")


@users_app.command("unlock")
def unlock(user_id: str = typer.Argument(...)) -> None:
    """Clear an account's lock and failed-attempt count."""
    try:
        with _transaction() as session:
            accounts.unlock(session, user_id)
    except accounts.AccountError as exc:
        _fail(str(exc))
    typer.echo(f"account {user_id} unlocked")


@users_app.command("reset-totp")
def reset_totp(user_id: str = typer.Argument(...)) -> None:
    """Issue a new TOTP secret (the old authenticator stops working) and print its URI once."""
    try:
        with _transaction() as session:
            uri = accounts.reset_totp(session, user_id)
    except accounts.AccountError as exc:
        _fail(str(exc))
    typer.echo("Add this to the user's authenticator app now; it is not shown again:")
    typer.echo(uri)


def register(app: typer.Typer) -> None:
    """Add ``users`` under the root app's ``directory`` group (created if missing)."""
    directory = group(app, "directory", help="The reference directory service.")
    if not has_group(directory, "users"):
        directory.add_typer(users_app, name="users")


__all__ = ["register", "users_app"]
