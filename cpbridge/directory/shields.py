"""Shielding: placing, reviewing and lifting shields, and asking whether a child is shielded.

A shielded record shows only directory ID, names, date of birth and gender
(:func:`cpbridge.directory.records.child_record`), and a search that uses a
hidden field never returns it (:mod:`cpbridge.directory.search`).

Shields are placed case by case by the management team of a local authority
(right ``manage_shields``), with a reason code, and are reviewed every six months:
:func:`due` lists those whose review date has come. A shield belongs to the
authority that placed it: only that authority's management team may review or lift
it, or see the hidden fields behind it. Nothing is deleted: a lifted shield keeps
its row (who lifted it, when, why) and a new placement adds a new row.

A shield is placed only on a child of the caller's own authority
(:func:`cpbridge.directory.areas.in_scope`), so one authority cannot hide another's
child from that child's own management team. Every action is audited: ``PlaceShield``,
``ReviewShield`` and ``LiftShield`` (the reason code in ``detail``), and the lists
(:func:`listing`, :func:`due`, :func:`history`) one ``ListShields`` row per record
listed, as search results are (one ``no_match`` row when the list is empty).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpbridge.codes import StrEnum
from cpbridge.faults import Fault
from cpbridge.identifiers import normalise_directory_id

from . import access, audit
from .auth import Caller
from .shield_tables import ShieldRow
from .tables import Child, utcnow

#: How long until a shield must be reviewed.
REVIEW_MONTHS = 6
#: The audit operations written here.
PLACE_OPERATION, REVIEW_OPERATION, LIFT_OPERATION, LIST_OPERATION = "PlaceShield", "ReviewShield", "LiftShield", "ListShields"


class ShieldReason(StrEnum):
    """Why a shield is placed."""

    adoption = "adoption"
    domestic_violence = "domestic_violence"
    police_protection = "police_protection"
    other = "other"


class LiftReason(StrEnum):
    """Why a shield is lifted."""

    no_longer_needed = "no_longer_needed"
    review_decision = "review_decision"
    placed_in_error = "placed_in_error"
    other = "other"


@dataclass(frozen=True)
class ShieldView:
    """A shield as its management team sees it (the child's visible fields only)."""

    directory_id: str
    given_names: str
    family_name: str
    date_of_birth: date
    local_authority: str
    reason: str
    placed_by: str
    placed_by_name: str | None
    placed_at: datetime
    review_due: date
    last_reviewed_at: datetime | None
    lifted_at: datetime | None
    lifted_by: str | None
    lift_reason: str | None

    @property
    def active(self) -> bool:
        return self.lifted_at is None


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, kept within the target month (31 Aug + 6 -> 28/29 Feb)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def review_due_after(day: date) -> date:
    """The review date for a shield placed or reviewed on ``day``."""
    return add_months(day, REVIEW_MONTHS)


# --- questions every read asks ------------------------------------------------------------


def active_shield(session: Session, child_id: int) -> ShieldRow | None:
    """The child's shield in force, if any."""
    return session.scalar(select(ShieldRow).where(ShieldRow.child_id == child_id, ShieldRow.lifted_at.is_(None)))


def shielded_child_ids(session: Session, child_ids: list[int] | set[int]) -> set[int]:
    """Which of ``child_ids`` have a shield in force."""
    if not child_ids:
        return set()
    return set(
        session.scalars(select(ShieldRow.child_id).where(ShieldRow.child_id.in_(list(child_ids)), ShieldRow.lifted_at.is_(None)))
    )


def may_see_behind(caller: Caller | None, shield: ShieldRow) -> bool:
    """Whether ``caller`` sees a shielded record's hidden fields without override:
    the management team of the authority that placed the shield."""
    return (
        caller is not None
        and access.has_right(caller, access.Right.see_shielded_fields)
        and bool(caller.local_authority)
        and caller.local_authority == shield.local_authority
    )


# --- management -----------------------------------------------------------------------------


def _child(session: Session, directory_id: str) -> Child:
    try:
        wanted = normalise_directory_id(directory_id)
    except ValueError as exc:
        raise Fault("InvalidRequest", f"directoryId: {exc}", field="directoryId") from None
    child = session.scalar(select(Child).where(Child.directory_id == wanted))
    if child is None or child.status != "live":
        raise Fault("NoSuchChild", "no record has that identifier", field="directoryId")
    return child


def _managed(session: Session, caller: Caller, directory_id: str) -> tuple[Child, ShieldRow]:
    """The child and its active shield, which must belong to the caller's authority."""
    access.require(caller, access.Right.manage_shields)
    child = _child(session, directory_id)
    shield = active_shield(session, child.id)
    if shield is None:
        raise Fault("InvalidRequest", f"{child.directory_id} has no shield in force", field="directoryId")
    if shield.local_authority != caller.local_authority:
        raise Fault("NotAuthorised", "the shield belongs to another authority's management team", field="directoryId")
    return child, shield


def _reason(enum: type[StrEnum], value: str, field: str) -> StrEnum:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise Fault("InvalidRequest", f"{field} must be one of {allowed}", field=field) from None


def place(session: Session, caller: Caller, directory_id: str, reason: ShieldReason | str, *, today: date | None = None) -> ShieldView:
    """Shield the child, to be reviewed in six months (right ``manage_shields``)."""
    access.require(caller, access.Right.manage_shields)
    code = _reason(ShieldReason, str(reason), "reason")
    if not caller.local_authority:
        raise Fault("NotAuthorised", "a shield is placed for a local authority; the caller has none", field="localAuthority")
    child = _child(session, directory_id)
    from . import areas  # areas imports this module

    if not areas.in_scope(caller, child):
        raise Fault("NotAuthorised", "the child belongs to another authority's management team", field="directoryId")
    if active_shield(session, child.id) is not None:
        raise Fault("InvalidRequest", f"{child.directory_id} is already shielded", field="directoryId")
    now = utcnow()
    row = ShieldRow(
        child_id=child.id,
        local_authority=caller.local_authority,
        reason=code.value,
        placed_by=caller.actor.user_id,
        placed_by_name=caller.actor.name,
        placed_at=now,
        review_due=review_due_after(today or now.date()),
    )
    session.add(row)
    session.flush()
    audit.record(session, caller, PLACE_OPERATION, outcome="placed", child=child, fields=["reason"], detail=f"reason={code.value}")
    return _view(row, child)


def review(session: Session, caller: Caller, directory_id: str, *, today: date | None = None) -> ShieldView:
    """Record that the shield was reviewed and stays: the next review is six months on."""
    child, shield = _managed(session, caller, directory_id)
    now = utcnow()
    shield.last_reviewed_at = now
    shield.last_reviewed_by = caller.actor.user_id
    shield.review_due = review_due_after(today or now.date())
    session.flush()
    audit.record(
        session, caller, REVIEW_OPERATION,
        outcome="reviewed", child=child, fields=["reviewDue"], detail=f"reason={shield.reason} review_due={shield.review_due}",
    )  # fmt: skip
    return _view(shield, child)


def lift(session: Session, caller: Caller, directory_id: str, reason: LiftReason | str) -> ShieldView:
    """Lift the shield, keeping its history (right ``manage_shields``, same authority)."""
    code = _reason(LiftReason, str(reason), "reason")
    child, shield = _managed(session, caller, directory_id)
    shield.lifted_at = utcnow()
    shield.lifted_by = caller.actor.user_id
    shield.lift_reason = code.value
    session.flush()
    audit.record(session, caller, LIFT_OPERATION, outcome="lifted", child=child, fields=["liftReason"], detail=f"reason={code.value}")
    return _view(shield, child)


def listing(session: Session, caller: Caller, *, include_lifted: bool = False) -> list[ShieldView]:
    """The shields of the caller's authority (active only unless ``include_lifted``)."""
    access.require(caller, access.Right.manage_shields)
    query = select(ShieldRow, Child).join(Child, Child.id == ShieldRow.child_id).where(
        ShieldRow.local_authority == caller.local_authority
    )
    if not include_lifted:
        query = query.where(ShieldRow.lifted_at.is_(None))
    query = query.order_by(ShieldRow.placed_at, ShieldRow.id)
    return _listed(session, caller, list(session.execute(query)), "listing" + (" include_lifted" if include_lifted else ""))


def due(session: Session, caller: Caller, today: date | None = None) -> list[ShieldView]:
    """Active shields of the caller's authority whose review is due on or before ``today``."""
    access.require(caller, access.Right.manage_shields)
    day = today or utcnow().date()
    query = (
        select(ShieldRow, Child)
        .join(Child, Child.id == ShieldRow.child_id)
        .where(
            ShieldRow.local_authority == caller.local_authority,
            ShieldRow.lifted_at.is_(None),
            ShieldRow.review_due <= day,
        )
        .order_by(ShieldRow.review_due, ShieldRow.id)
    )
    return _listed(session, caller, list(session.execute(query)), "due")


def history(session: Session, caller: Caller, directory_id: str) -> list[ShieldView]:
    """Every shield the child has had, placed by the caller's authority, oldest first."""
    access.require(caller, access.Right.manage_shields)
    child = _child(session, directory_id)
    rows = session.scalars(
        select(ShieldRow)
        .where(ShieldRow.child_id == child.id, ShieldRow.local_authority == caller.local_authority)
        .order_by(ShieldRow.placed_at, ShieldRow.id)
    )
    return _listed(session, caller, [(r, child) for r in rows], "history")


def _listed(session: Session, caller: Caller, pairs: list, kind: str) -> list[ShieldView]:
    """The views of ``pairs`` (shield, child), audited as search results are: one row per record
    listed (a child with several shields in a history is one row), one ``no_match`` row for none."""
    views = [_view(s, c) for s, c in pairs]
    children = {c.id: c for _s, c in pairs}
    if not children:
        audit.record(session, caller, LIST_OPERATION, outcome="no_match", detail=kind)
    for child in children.values():
        audit.record(
            session, caller, LIST_OPERATION,
            outcome="shielded", child=child, fields=["givenNames", "familyName", "dateOfBirth"],
            detail=f"{kind} results={len(children)}",
        )  # fmt: skip
    return views


def _view(row: ShieldRow, child: Child) -> ShieldView:
    return ShieldView(
        directory_id=child.directory_id,
        given_names=child.given_names,
        family_name=child.family_name,
        date_of_birth=child.date_of_birth,
        local_authority=row.local_authority,
        reason=row.reason,
        placed_by=row.placed_by,
        placed_by_name=row.placed_by_name,
        placed_at=row.placed_at,
        review_due=row.review_due,
        last_reviewed_at=row.last_reviewed_at,
        lifted_at=row.lifted_at,
        lifted_by=row.lifted_by,
        lift_reason=row.lift_reason,
    )
