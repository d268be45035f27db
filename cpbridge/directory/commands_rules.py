"""``cpbridge directory shields …``: the management team's shield commands.

    cpbridge directory shields place  CP0000000018 --reason adoption --user mt-jones --local-authority E08000035
    cpbridge directory shields review CP0000000018 --user mt-jones --local-authority E08000035
    cpbridge directory shields lift   CP0000000018 --reason no_longer_needed --user mt-jones --local-authority E08000035
    cpbridge directory shields list   --local-authority E08000035 [--all]
    cpbridge directory shields due    --local-authority E08000035 [--on 2025-01-31]

They run on the directory's host against its database (``directory.database_url``)
as a member of the named authority's management team, and obey the same rules as
the web pages (:mod:`cpbridge.directory.shields`). Output shows visible fields only.
"""

from __future__ import annotations

from datetime import date
from typing import Optional

import typer
from rich.console import Console

from cpbridge.clitools import group, has_group
from cpbridge.codes import ActorRole, ReasonCode
from cpbridge.faults import Fault
from cpbridge.model import Actor

from . import shields

console = Console()

USER = typer.Option(..., "--user", help="The management-team member's user id (recorded on the shield)")
NAME = typer.Option(None, "--name", help="Their full name")
LA = typer.Option(..., "--local-authority", "-a", help="The authority's ONS code, e.g. E08000035")
ORG = typer.Option("Management team", "--organisation", help="Their organisation")


def _caller(user: str, name: str | None, local_authority: str, organisation: str):
    from .auth import Caller

    return Caller(
        account="cli",
        organisation=organisation,
        actor=Actor(user_id=user, name=name, organisation=organisation, role=ActorRole.management_team),
        reason=ReasonCode.case_coordination,
        local_authority=local_authority,
    )


def _run(work):
    """Run ``work(session)`` in one transaction on the directory's database; faults exit 1."""
    from cpbridge.settings import load_settings

    from .db import make_engine, migrate, session_factory

    settings = load_settings()
    engine = make_engine(settings.directory_db_url())
    try:
        migrate(engine)
        with session_factory(engine).begin() as session:
            return work(session)
    except Fault as fault:
        Console(stderr=True).print(f"[red]error:[/red] {fault.code}: {fault.message}")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


COLUMNS = ("directory_id", "name", "born", "reason", "placed", "placed_by", "review_due", "lifted")


def _print(views) -> None:
    """One tab-separated line per shield under a header line (easy to read and to pipe)."""
    console.print("\t".join(COLUMNS), soft_wrap=True, highlight=False)
    for v in views:
        lifted = f"{v.lifted_at.date().isoformat()} {v.lift_reason}" if v.lifted_at else "-"
        row = (
            v.directory_id, f"{v.given_names} {v.family_name}", v.date_of_birth.isoformat(), v.reason,
            v.placed_at.date().isoformat(), v.placed_by, v.review_due.isoformat(), lifted,
        )  # fmt: skip
        console.print("\t".join(row), soft_wrap=True, highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add ``shields`` to the root app's ``directory`` sub-app (once)."""
    directory = group(app, "directory", help="The reference directory service.")
    if has_group(directory, "shields"):
        return
    shields_app = typer.Typer(help="Place, review, lift and list shields (management team).", no_args_is_help=True)
    directory.add_typer(shields_app, name="shields")

    @shields_app.command("place")
    def place(
        directory_id: str = typer.Argument(..., help="The child's directory ID"),
        reason: shields.ShieldReason = typer.Option(..., "--reason", help="Why the record is shielded"),
        user: str = USER,
        name: Optional[str] = NAME,
        local_authority: str = LA,
        organisation: str = ORG,
    ) -> None:
        """Shield a child's record; its review falls due in six months."""
        caller = _caller(user, name, local_authority, organisation)
        view = _run(lambda s: shields.place(s, caller, directory_id, reason))
        console.print(f"shielded {view.directory_id} ({view.reason}); review due {view.review_due.isoformat()}")

    @shields_app.command("review")
    def review(
        directory_id: str = typer.Argument(...),
        user: str = USER,
        name: Optional[str] = NAME,
        local_authority: str = LA,
        organisation: str = ORG,
    ) -> None:
        """Record that the shield was reviewed and stays; the next review is in six months."""
        caller = _caller(user, name, local_authority, organisation)
        view = _run(lambda s: shields.review(s, caller, directory_id))
        console.print(f"reviewed {view.directory_id}; next review due {view.review_due.isoformat()}")

    @shields_app.command("lift")
    def lift(
        directory_id: str = typer.Argument(...),
        reason: shields.LiftReason = typer.Option(..., "--reason", help="Why the shield is lifted"),
        user: str = USER,
        name: Optional[str] = NAME,
        local_authority: str = LA,
        organisation: str = ORG,
    ) -> None:
        """Lift the shield (its history is kept)."""
        caller = _caller(user, name, local_authority, organisation)
        view = _run(lambda s: shields.lift(s, caller, directory_id, reason))
        console.print(f"lifted the shield on {view.directory_id} ({view.lift_reason})")

    @shields_app.command("list")
    def list_(
        local_authority: str = LA,
        include_lifted: bool = typer.Option(False, "--all", help="Include lifted shields"),
        user: str = typer.Option("cli", "--user"),
    ) -> None:
        """The authority's shields."""
        caller = _caller(user, None, local_authority, "Management team")
        views = _run(lambda s: shields.listing(s, caller, include_lifted=include_lifted))
        _print(views)

    @shields_app.command("due")
    def due(
        local_authority: str = LA,
        on: Optional[str] = typer.Option(None, "--on", help="Reviews due on or before this date (YYYY-MM-DD; default today)"),
        user: str = typer.Option("cli", "--user"),
    ) -> None:
        """Shields whose six-monthly review is due."""
        try:
            day = date.fromisoformat(on) if on else None
        except ValueError:
            raise typer.BadParameter("--on must be a date, YYYY-MM-DD") from None
        caller = _caller(user, None, local_authority, "Management team")
        views = _run(lambda s: shields.due(s, caller, day))
        if views:
            _print(views)
        else:
            console.print("no reviews due")
