"""Command line for the audit trail, the record lifecycle and the statistics extract.

``register(app)`` adds to the root ``cpbridge`` app:

* ``cpbridge audit verify [--anchor-file F]`` — walk the hash chain; exit 1 on any problem;
* ``cpbridge audit anchor [--append F]`` — print (and keep) the chain's head;
* ``cpbridge audit review [--since D] [--until D] [--la CODE] [--json]`` — likely misuse;
* ``cpbridge audit subject-access CHILD [--json] [--out F]`` — what is held and who looked;
* ``cpbridge directory sweep [--today D]`` — archive and destroy on schedule;
* ``cpbridge directory extend CHILD --reason R --consent-on D`` — record an extension past 18;
* ``cpbridge directory extract --out FILE --key-file K`` — the pseudonymised statistics extract.

Commands run as the operator at the server: they are audited as user ``cli:<login>``.
"""

from __future__ import annotations

import getpass
import json
import re
from datetime import date, datetime, time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Column, Table

from cpbridge.clitools import group, has_group
from cpbridge.codes import ActorRole, ReasonCode
from cpbridge.faults import Fault
from cpbridge.model import Actor

console = Console()
err = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add the ``audit`` sub-app and the ``directory sweep|extend|extract`` commands to ``app``."""
    if has_group(app, "audit"):
        return  # already registered
    audit_app = typer.Typer(help="The access audit trail: verify, review, subject access.", no_args_is_help=True)
    app.add_typer(audit_app, name="audit")
    directory_app = group(app, "directory", help="The reference directory service.")

    audit_app.command("verify")(verify)
    audit_app.command("anchor")(anchor)
    audit_app.command("review")(review)
    audit_app.command("subject-access")(subject_access)
    directory_app.command("sweep")(sweep)
    directory_app.command("extend")(extend)
    directory_app.command("extract")(extract)


# --- plumbing ----------------------------------------------------------------------------


def _sessions():
    from cpbridge.settings import load_settings

    from .db import make_engine, migrate, session_factory

    url = load_settings().directory_db_url()
    migrate(url)
    return session_factory(make_engine(url))


def _operator(role: ActorRole, reason: ReasonCode, local_authority: str = ""):
    from .auth import Caller

    login = re.sub(r"[^A-Za-z0-9._-]", "-", getpass.getuser() or "operator").strip("-.") or "operator"
    actor = Actor(user_id=f"cli:{login}"[:40], organisation="cpbridge operator", role=role)
    return Caller(account="cli", organisation="cpbridge operator", actor=actor, reason=reason, local_authority=local_authority)


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


def _day(value: Optional[str], name: str) -> Optional[date]:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{name} must be a date YYYY-MM-DD, not {value!r}")


def _clock(value: str, name: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        _fail(f"{name} must be a time HH:MM, not {value!r}")


# --- audit -------------------------------------------------------------------------------


def verify(
    anchor_file: Optional[Path] = typer.Option(None, help="Anchors kept by `audit anchor --append` (checked too)."),
) -> None:
    """Walk the audit hash chain; report edited, deleted or inserted rows (exit 1 if any)."""
    from . import audit

    anchors = []
    if anchor_file is not None:
        try:
            anchors = [audit.Anchor.parse(line) for line in anchor_file.read_text().splitlines() if line.strip()]
        except (OSError, ValueError) as exc:
            _fail(f"{anchor_file}: {exc}")
    with _sessions()() as session:
        report = audit.verify(session, anchors)
    console.print(f"{report.rows} rows, chain ends at {report.last_seq}, head {report.head_seq} {report.head_hash[:16]}…")
    if report.ok:
        console.print(f"[green]audit chain intact[/green] ({len(anchors)} anchors checked)")
        return
    table = Table("row", "problem", "detail")
    for p in report.problems:
        table.add_row(str(p.seq), p.kind, p.message)
    console.print(table)
    err.print(f"[red]audit chain broken: {len(report.problems)} problem(s)[/red]")
    raise typer.Exit(1)


def anchor(append: Optional[Path] = typer.Option(None, help="Also append the line to this file (keep it off this server).")) -> None:
    """Print the chain's head as an anchor line; keep it elsewhere so truncation is detectable."""
    from . import audit

    with _sessions()() as session:
        line = audit.anchor(session).line()
    console.print(line, soft_wrap=True)
    if append is not None:
        with append.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def review(
    since: Optional[str] = typer.Option(None, help="From this day (YYYY-MM-DD); default: the last 7 days."),
    until: Optional[str] = typer.Option(None, help="Up to (not including) this day."),
    la: Optional[str] = typer.Option(None, help="Only accesses by or about this authority (GSS code)."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
    daily_limit: int = typer.Option(100, help="Views a day above which a user is flagged."),
    volume_factor: float = typer.Option(5.0, help="Flag a day this many times above the user's usual."),
    work_start: str = typer.Option("08:00", help="Working hours start (Europe/London)."),
    work_end: str = typer.Option("18:00", help="Working hours end."),
    repeat_shielded: int = typer.Option(2, help="Views of one shielded record that count as repeated."),
) -> None:
    """Likely misuse: no involvement, unusual volume, out of hours, repeated shielded views."""
    from .audit_review import ReviewRules
    from .audit_review import review as run_review

    rules = ReviewRules(
        daily_limit=daily_limit,
        volume_factor=volume_factor,
        work_start=_clock(work_start, "--work-start"),
        work_end=_clock(work_end, "--work-end"),
        repeat_shielded=repeat_shielded,
    )
    start, end = _day(since, "--since"), _day(until, "--until")
    with _sessions()() as session:
        findings = run_review(
            session,
            since=datetime.combine(start, time()) if start else None,
            until=datetime.combine(end, time()) if end else None,
            la=la,
            rules=rules,
        )
    if as_json:
        console.print_json(json.dumps([f.as_dict() for f in findings]))
        return
    table = Table(Column("kind", no_wrap=True), "user", "organisation", "count", "first", "last", "summary")
    for f in findings:
        table.add_row(
            f.kind, f"{f.user_name or ''} ({f.user_id})", f.organisation, str(f.count),
            f"{f.first_at:%Y-%m-%d %H:%M}", f"{f.last_at:%Y-%m-%d %H:%M}", f.summary,
        )  # fmt: skip
    console.print(table)
    console.print(f"{len(findings)} finding(s)")


def subject_access(
    child: str = typer.Argument(..., help="The child's directory ID."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a readable report."),
    out: Optional[Path] = typer.Option(None, help="Write the report to this file instead of the screen."),
) -> None:
    """What is held about a child and who looked at it (for a subject access request)."""
    from sqlalchemy import select

    from cpbridge.identifiers import normalise_directory_id

    from . import subject_access as sar
    from .tables import Child

    try:
        directory_id = normalise_directory_id(child)
    except ValueError as exc:
        _fail(f"{child!r} is not a directory ID: {exc}")
    sessions = _sessions()
    with sessions.begin() as session:
        la = session.scalar(select(Child.responsible_la).where(Child.directory_id == directory_id)) or ""
        caller = _operator(ActorRole.management_team, ReasonCode.subject_access, la)
        report = sar.subject_access(session, caller, directory_id)
    text = report.model_dump_json(indent=1) if as_json else sar.render_text(report)
    if out is not None:
        out.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        console.print(f"report written to {out} ({len(report.accesses)} accesses)")
    else:
        print(text)


# --- directory ---------------------------------------------------------------------------


def sweep(
    today: Optional[str] = typer.Option(None, help="Sweep as of this day (YYYY-MM-DD); default: today."),
    batch: int = typer.Option(500, help="Records per transaction."),
) -> None:
    """Archive records at 18 (or their extension's end, or a year after death); destroy archives after six years."""
    from . import lifecycle
    from .tables import utcnow

    day = _day(today, "--today") or utcnow().date()
    report = lifecycle.sweep(_sessions(), day, batch=batch)
    console.print(report.summary())


def extend(
    child: str = typer.Argument(..., help="The young person's directory ID."),
    reason: str = typer.Option(..., help="care_leaver, learning_difficulty or connexions."),
    consent_on: str = typer.Option(..., help="The day consent was given (YYYY-MM-DD)."),
    given_by: str = typer.Option("child", help="child, or parent_carer where the young person lacks understanding."),
    ends_on: Optional[str] = typer.Option(None, help="An earlier end than the reason allows (YYYY-MM-DD)."),
) -> None:
    """Record consent to keep a record past the 18th birthday."""
    from . import lifecycle

    sessions = _sessions()
    try:
        with sessions.begin() as session:
            ext = lifecycle.record_extension(
                session,
                _operator(ActorRole.administrator, ReasonCode.record_update),
                child,
                reason,
                _day(consent_on, "--consent-on"),
                given_by,
                _day(ends_on, "--ends-on"),
            )
            summary = f"extension recorded: {ext.reason}, consent {ext.consent_given_on}"
    except Fault as fault:
        _fail(f"{fault.code}: {fault.message}")
    console.print(summary)


def extract(
    out: Path = typer.Option(..., help="Write the extract (JSON) here."),
    key_file: Path = typer.Option(..., help="File holding the secret pseudonymisation key (32+ bytes)."),
    today: Optional[str] = typer.Option(None, help="Ages as of this day (YYYY-MM-DD)."),
) -> None:
    """The pseudonymised statistics extract: the only bulk output of the directory."""
    from . import extract as ex

    try:
        summary = ex.write_extract(
            _sessions(), _operator(ActorRole.administrator, ReasonCode.record_update), key_file, out, _day(today, "--today")
        )
    except ex.ExtractKeyError as exc:
        _fail(str(exc))
    console.print(f"extract written to {out}: {summary['records']} records, {summary['cells']} cells ({summary['suppressed']} suppressed)")
