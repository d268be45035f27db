"""``cpbridge directory review …``: the management team's matching review queue.

    cpbridge directory review list   [--local-authority E08000035]
    cpbridge directory review show   12 --user mt-jones -a E08000035
    cpbridge directory review link   12 CP0000000018 --user mt-jones -a E08000035
    cpbridge directory review create 12 --user mt-jones -a E08000035
    cpbridge directory review merge  CP0000000018 CP0000000026 [--case 12] --user mt-jones -a E08000035
    cpbridge directory review undo   3 --user mt-jones -a E08000035
    cpbridge directory review refresh-frequencies     (the periodic name-count rebuild)
    cpbridge directory review reindex                 (rebuild every blocking key)

They run on the directory's host against its database as a member of the named
authority's management team, with the rules of :mod:`cpbridge.directory.review`.
``merge A B`` keeps A and folds B into it; with ``--case`` the case's held events
are applied to A.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from cpbridge.clitools import group, has_group

console = Console()

USER = typer.Option("cli", "--user", help="The management-team member's user id (recorded on the decision)")
LA = typer.Option("", "--local-authority", "-a", help="Their authority's ONS code, e.g. E08000035")


def _caller(user: str, local_authority: str):
    from .commands_rules import _caller as management_caller

    return management_caller(user, None, local_authority, "Management team")


def _run(work):
    from .commands_rules import _run as run_in_transaction

    return run_in_transaction(work)


def _print_resolution(res) -> None:
    console.print(f"case {res.case_id} {res.status}: events applied to {res.directory_id or '-'}")
    for r in res.results:
        console.print(f"  {r.event_id}: {r.outcome.value} ({r.match_outcome.value}, {r.reason_code})")


def register(app: typer.Typer) -> None:
    """Add ``review`` to the root app's ``directory`` sub-app (once)."""
    directory = group(app, "directory", help="The reference directory service.")
    if has_group(directory, "review"):
        return
    review_app = typer.Typer(help="The identity-matching review queue (management team).", no_args_is_help=True)
    directory.add_typer(review_app, name="review")

    from . import review

    @review_app.command("list")
    def list_(local_authority: str | None = typer.Option(None, "--local-authority", "-a")) -> None:
        """Open cases, oldest first."""
        cases = _run(lambda s: review.open_cases(s, local_authority))
        table = Table("case", "reason", "source", "authority", "incoming", "born", "candidates", "best score", "events", "opened")
        for c in cases:
            table.add_row(
                str(c.id), c.reason_code, c.source_system, c.local_authority or "-", f"{c.given_names} {c.family_name}",
                c.date_of_birth.isoformat(), str(c.candidates), f"{c.best_score:.3f}" if c.best_score is not None else "-",
                str(c.events), c.created_at.strftime("%Y-%m-%d %H:%M"),
            )  # fmt: skip
        console.print(table)

    @review_app.command("show")
    def show(case_id: int = typer.Argument(...), user: str = USER, local_authority: str = LA) -> None:
        """A case: the incoming identity, each candidate with its evidence, the held events."""
        caller = _caller(user, local_authority)
        view = _run(lambda s: review.case(s, case_id, caller=caller))
        ident = view.identity
        console.print(f"[bold]case {view.id}[/bold] {view.status} ({view.reason_code}) from {view.source_system}")
        ids = ", ".join(f"{i.scheme.value}{':' + i.system if i.system else ''}={i.value}" for i in ident.identifiers)
        console.print(f"incoming: {ident.given_names} {ident.family_name}, born {ident.date_of_birth}, {ident.gender.value}; {ids or 'no identifiers'}")
        for cand in view.candidates:
            flags = " ".join(f for f, on in (("SHIELDED", cand.shielded), ("VETO", cand.veto), ("TWIN?", cand.twin_risk)) if on)
            console.print(
                f"\n#{cand.rank + 1} {cand.directory_id or '(gone)'} {cand.given_names} {cand.family_name} "
                f"score {cand.score:.4f} weight {cand.weight:+.1f} {flags}"
            )
            table = Table("field", "level", "weight", "incoming", "candidate")
            for e in cand.evidence:
                table.add_row(e.field, e.level, f"{e.weight:+.1f}", e.incoming or "", "(masked)" if cand.masked and e.field in ("postcode", "address") else e.candidate or "")
            console.print(table)
        for e in view.events:
            console.print(f"held: {e.event_id} {e.event_type} from {e.source_system} at {e.occurred_at:%Y-%m-%d %H:%M}" + (f" -> {e.applied_outcome}" if e.applied_outcome else ""))

    @review_app.command("link")
    def link(case_id: int = typer.Argument(...), child: str = typer.Argument(..., help="Directory ID"), user: str = USER, local_authority: str = LA) -> None:
        """It is this existing child: apply the held events to it."""
        caller = _caller(user, local_authority)
        _print_resolution(_run(lambda s: review.resolve_link(s, caller, case_id, child)))

    @review_app.command("create")
    def create(case_id: int = typer.Argument(...), user: str = USER, local_authority: str = LA) -> None:
        """It is a child not on the directory: create the record and apply the held events."""
        caller = _caller(user, local_authority)
        _print_resolution(_run(lambda s: review.resolve_create(s, caller, case_id)))

    @review_app.command("merge")
    def merge(
        keep: str = typer.Argument(..., help="Directory ID of the record kept"),
        other: str = typer.Argument(..., help="Directory ID of the record merged into it"),
        case_id: int | None = typer.Option(None, "--case", help="Resolve this case by the merge"),
        user: str = USER,
        local_authority: str = LA,
    ) -> None:
        """Two records are one child: fold the second into the first (reversible with ``undo``)."""
        caller = _caller(user, local_authority)
        if case_id is not None:
            res = _run(lambda s: review.resolve_merge(s, caller, case_id, keep, other))
            console.print(f"merge {res.merge_id}: {other} into {keep}")
            _print_resolution(res)
            return
        view = _run(lambda s: review.merge_children(s, caller, keep, other))
        console.print(f"merge {view.id}: {view.merged_directory_id} into {view.kept_directory_id}; moved {view.moved}")

    @review_app.command("undo")
    def undo(merge_id: int = typer.Argument(...), user: str = USER, local_authority: str = LA) -> None:
        """Reverse a merge: both records are restored as they were."""
        caller = _caller(user, local_authority)
        view = _run(lambda s: review.undo_merge(s, caller, merge_id))
        console.print(f"merge {view.id} undone: {view.merged_directory_id} restored beside {view.kept_directory_id}")

    @review_app.command("refresh-frequencies")
    def refresh_frequencies() -> None:
        """Rebuild the name counts the scorer weighs names by (run nightly or weekly)."""
        from .matching import store

        n = _run(store.refresh_name_frequencies)
        console.print(f"name frequencies rebuilt from {n:,} children")

    @review_app.command("reindex")
    def reindex() -> None:
        """Rebuild every child's blocking keys (recovery; the service keeps them current)."""
        from .matching import store

        n = _run(store.reindex_all)
        console.print(f"{n:,} blocking keys written")
