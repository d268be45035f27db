"""The record lifecycle: live, archived at 18 (or later, with consent), destroyed six years on.

Rules (docs/retention.md):

* A record leaves the live directory for the archive on the child's **18th birthday**.
* With a recorded **extension** (consent of the young person, or of a parent/carer
  where they lack understanding) it stays until the birthday the reason allows —
  ``care_leaver`` and ``learning_difficulty`` the 25th, ``connexions`` the 19th — or
  the extension's earlier ``ends_on``; a withdrawn extension no longer counts.
* After a **death** the record stays one year from the date of death, then goes to
  the archive (if the age rule comes earlier, the earlier date wins).
* An archived record is **destroyed six years after archiving**: the child and
  everything hanging off it are deleted; an audit row records that a destruction
  happened, without any identifier or personal data.
* Archived records are invisible to practitioners. The management team of the
  child's authority may read them for **one year after archiving**.

A birthday of 29 February falls on 1 March in other years. :func:`sweep` applies
the rules for a given day: it is idempotent and safe to run on a schedule (and by
two schedulers at once: each batch locks its rows, skipping ones another sweep holds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session, sessionmaker

from cpbridge.codes import ActorRole, ConsentGiver, StrEnum
from cpbridge.faults import Fault

from . import areas, audit
from .audit_tables import RecordExtension
from .auth import Caller
from .tables import AppliedEvent, Child, utcnow

ARCHIVE_AGE = 18
#: Years an archived record is kept before destruction.
ARCHIVE_YEARS = 6
#: Years a deceased child's record stays live after the date of death.
AFTER_DEATH_YEARS = 1
#: Years the management team may still read an archived record.
MANAGEMENT_VIEW_YEARS = 1


class ExtensionReason(StrEnum):
    """Why a young person's record stays on past 18 (with consent)."""

    care_leaver = "care_leaver"
    learning_difficulty = "learning_difficulty"
    connexions = "connexions"


#: The birthday on which an extended record leaves, by reason.
EXTENSION_LIMIT_AGE: dict[ExtensionReason, int] = {
    ExtensionReason.care_leaver: 25,
    ExtensionReason.learning_difficulty: 25,
    ExtensionReason.connexions: 19,
}


class ArchiveReason(StrEnum):
    age = "age"
    extension_ended = "extension_ended"
    deceased = "deceased"


# --- dates -------------------------------------------------------------------------------


def add_years(day: date, years: int) -> date:
    """``day`` plus ``years`` calendar years; 29 February becomes 1 March in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def leaves_on(child: Child, extensions: Sequence[RecordExtension] = ()) -> tuple[date, ArchiveReason]:
    """The day the record leaves the live directory, and why."""
    due, why = add_years(child.date_of_birth, ARCHIVE_AGE), ArchiveReason.age
    for ext in extensions:
        if ext.withdrawn_on is not None:
            continue
        until = add_years(child.date_of_birth, EXTENSION_LIMIT_AGE[ExtensionReason(ext.reason)])
        if ext.ends_on is not None:
            until = min(until, ext.ends_on)
        if until > due:
            due, why = until, ArchiveReason.extension_ended
    if child.date_of_death is not None:
        after_death = add_years(child.date_of_death, AFTER_DEATH_YEARS)
        if after_death < due:
            due, why = after_death, ArchiveReason.deceased
    return due, why


def destroyed_on(child: Child) -> date | None:
    """The day an archived record is destroyed (None for a live one)."""
    return add_years(child.archived_on, ARCHIVE_YEARS) if child.archived_on else None


def visible_to(child: Child, caller: Caller | None, today: date | None = None) -> bool:
    """Whether ``caller`` may find or read ``child`` at all (before any shield or masking).

    Live records: everyone with the read right. Archived ones: only the management team
    of the child's authority, for one year after archiving.
    """
    if child.status == "live":
        return True
    if caller is None or caller.actor.role is not ActorRole.management_team or child.archived_on is None:
        return False
    today = today or utcnow().date()
    return today < add_years(child.archived_on, MANAGEMENT_VIEW_YEARS) and areas.in_scope(caller, child)


# --- extensions --------------------------------------------------------------------------


def record_extension(
    session: Session,
    caller: Caller,
    directory_id: str,
    reason: ExtensionReason | str,
    consent_given_on: date,
    consent_given_by: ConsentGiver | str = ConsentGiver.child,
    ends_on: date | None = None,
) -> RecordExtension:
    """Record consent to keep a young person's record past 18 (management team of the child's area,
    or an administrator). Faults: NotAuthorised, NoSuchChild, InvalidRequest.

    The record must still be live; the extension counts from the next sweep.
    """
    _require_management(caller)
    reason = _enum(ExtensionReason, reason, "reason")
    given_by = _enum(ConsentGiver, consent_given_by, "consentGivenBy")
    child = session.scalar(select(Child).where(Child.directory_id == directory_id))
    if child is None:
        raise Fault("NoSuchChild", "no record has that directory ID", field="directoryId")
    if caller.actor.role is ActorRole.management_team and not areas.in_scope(caller, child):
        raise Fault("NotAuthorised", "the record belongs to another authority's management team", field="directoryId")
    if child.status != "live":
        raise Fault("InvalidRequest", "the record has already left the live directory", field="directoryId")
    if consent_given_on > utcnow().date():
        raise Fault("InvalidRequest", "consent cannot be given in the future", field="consentGivenOn")
    if ends_on is not None and ends_on <= add_years(child.date_of_birth, ARCHIVE_AGE):
        raise Fault("InvalidRequest", "an extension must end after the 18th birthday", field="endsOn")
    ext = RecordExtension(
        child_id=child.id,
        reason=reason.value,
        consent_given_by=given_by.value,
        consent_given_on=consent_given_on,
        ends_on=ends_on,
        recorded_by=caller.actor.user_id,
        recorded_la=getattr(caller, "local_authority", "") or None,
    )
    session.add(ext)
    session.flush()
    audit.record(
        session, caller, "RecordExtension",
        outcome="applied", child=child, fields=["reason", "consentGivenBy", "consentGivenOn"] + (["endsOn"] if ends_on else []),
        detail=f"reason={reason.value}",
    )  # fmt: skip
    return ext


def withdraw_extension(session: Session, caller: Caller, directory_id: str, withdrawn_on: date) -> int:
    """Record that consent was withdrawn: the record leaves at the next sweep if past its date.
    The number of extensions withdrawn."""
    _require_management(caller)
    child = session.scalar(select(Child).where(Child.directory_id == directory_id))
    if child is None:
        raise Fault("NoSuchChild", "no record has that directory ID", field="directoryId")
    if caller.actor.role is ActorRole.management_team and not areas.in_scope(caller, child):
        raise Fault("NotAuthorised", "the record belongs to another authority's management team", field="directoryId")
    active = list(session.scalars(select(RecordExtension).where(RecordExtension.child_id == child.id, RecordExtension.withdrawn_on.is_(None))))
    for ext in active:
        ext.withdrawn_on = withdrawn_on
    audit.record(session, caller, "WithdrawExtension", outcome="applied", child=child, fields=["withdrawnOn"], detail=f"extensions={len(active)}")
    return len(active)


def extensions_of(session: Session, child_id: int) -> list[RecordExtension]:
    return list(session.scalars(select(RecordExtension).where(RecordExtension.child_id == child_id).order_by(RecordExtension.id)))


def _require_management(caller: Caller) -> None:
    if caller.actor.role not in (ActorRole.management_team, ActorRole.administrator):
        raise Fault("NotAuthorised", f"the role {caller.actor.role.value} may not record extensions", field="onBehalfOf.role")


def _enum(kind, value, name: str):
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise Fault("InvalidRequest", f"{name} must be one of {allowed}", field=name) from None


# --- the sweep ---------------------------------------------------------------------------


@dataclass
class SweepReport:
    """What one sweep did (directory IDs of the archived; destroyed records are only counted)."""

    today: date
    archived: list[tuple[str, str]] = field(default_factory=list)
    destroyed: int = 0

    def summary(self) -> str:
        return f"{self.today}: {len(self.archived)} archived, {self.destroyed} destroyed"


def sweep(sessions: sessionmaker[Session], today: date, *, batch: int = 500, caller: Caller = audit.SYSTEM_CALLER) -> SweepReport:
    """Archive the records whose day has come and destroy archives past retention, for ``today``.

    Works in batches of ``batch`` records, each its own transaction (a long sweep never
    holds the audit chain for long). Idempotent: a second run the same day does nothing.
    """
    report = SweepReport(today)
    cutoff = _born_on_or_before(today, ARCHIVE_AGE)
    with sessions() as session:
        due_ids = list(
            session.scalars(
                select(Child.id)
                .where(Child.status == "live", or_(Child.date_of_birth <= cutoff, Child.date_of_death.is_not(None)))
                .order_by(Child.id)
            )
        )
        old_ids = list(
            session.scalars(
                select(Child.id)
                .where(Child.status == "archived", Child.archived_on <= add_years_back(today, ARCHIVE_YEARS))
                .order_by(Child.id)
            )
        )
    for chunk in _chunks(due_ids, batch):
        with sessions.begin() as session:
            for child in _locked(session, chunk, status="live"):
                due, why = leaves_on(child, extensions_of(session, child.id))
                if due <= today:
                    child.status, child.archived_on, child.archive_reason = "archived", today, why.value
                    audit.record(session, caller, "Archive", outcome="done", child=child, fields=["status"], detail=f"reason={why.value}")
                    report.archived.append((child.directory_id, why.value))
    for chunk in _chunks(old_ids, batch):
        with sessions.begin() as session:
            for child in _locked(session, chunk, status="archived"):
                if destroyed_on(child) and destroyed_on(child) <= today:
                    _destroy(session, caller, child)
                    report.destroyed += 1
    return report


def _destroy(session: Session, caller: Caller, child: Child) -> None:
    """Delete the child and everything hanging off it; audit only that a destruction happened."""
    session.execute(delete(AppliedEvent).where(AppliedEvent.directory_id == child.directory_id))
    session.delete(child)  # names, identifiers, carers, settings, involvements (ORM); other tables by FK cascade
    session.flush()
    audit.record(session, caller, "Destroy", outcome="done", detail="retention period ended (6 years in the archive)")


def _locked(session: Session, ids: list[int], *, status: str) -> list[Child]:
    """The children ``ids`` still in ``status``, locked for this transaction (PostgreSQL skips rows
    another sweep holds; SQLite's write lock serialises sweeps anyway)."""
    query = select(Child).where(Child.id.in_(ids), Child.status == status).order_by(Child.id)
    return list(session.scalars(query.with_for_update(skip_locked=True)))


def _born_on_or_before(today: date, age: int) -> date:
    """The latest date of birth of someone who is at least ``age`` today."""
    return add_years_back(today, age)


def add_years_back(day: date, years: int) -> date:
    """``day`` minus ``years`` years (29 February becomes 28 February in a common year)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return date(day.year - years, 2, 28)


def _chunks(ids: list[int], size: int):
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
