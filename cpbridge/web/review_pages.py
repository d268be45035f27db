"""The management team's match-review pages: the queue, a case with its evidence, the decisions
(link to a candidate, create a new record, merge two candidates) and the merges list with undo.

Routes (all need the ``management_team`` role; every POST carries the CSRF token)::

    GET  /manage/reviews                          the open cases and the authority's merges
    GET  /manage/reviews/{case_id}                one case: incoming identity, candidates, evidence
    POST /manage/reviews/{case_id}                decision=link:<directory ID> | create
    POST /manage/reviews/{case_id}/merge          keep, merge: the confirmation page, then (confirm=yes) the merge
    POST /manage/reviews/merges/{merge_id}/undo   the confirmation page, then (confirm=yes) the undo

The pages call :mod:`cpbridge.directory.review` as the signed-in manager: it checks the
right ``resolve_reviews``, masks a shielded candidate's hidden fields for anyone not
entitled, refuses a shielded case to any other authority, applies the held events and
writes the audit. On top of that each authority sees and acts on its own queue only: a
case or merge of another authority is answered as not in the queue, whatever its number.
A refused decision is audited as a refusal (:meth:`WebLink.directory`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import Response

from cpbridge.codes import ActorRole, ReasonCode
from cpbridge.directory import access, accounts, review
from cpbridge.directory.auth import Caller
from cpbridge.directory.matching.reasons import MatchReason, external
from cpbridge.directory.review import (
    CandidateView,
    CaseSummary,
    CaseView,
    MergeView,
    Resolution,
)
from cpbridge.faults import Fault

MANAGER = ActorRole.management_team
LONDON = ZoneInfo("Europe/London")

#: Most merges listed on the queue page (an older one can still be undone by its number).
MERGES_SHOWN = 20

#: Why a case waits, in the words the page uses (code -> (label, explanation)).
REASONS: dict[str, tuple[str, str]] = {
    MatchReason.uncertain: ("Uncertain", "The best candidate is not close enough to match automatically."),
    MatchReason.too_close_to_call: ("Too close to call", "Two or more candidates are about equally likely."),
    MatchReason.possible_twin: (
        "Possible twin",
        "A candidate has the same date of birth and family name and a similar given name: it may be a twin.",
    ),
    MatchReason.identifier_conflict: (
        "Identifier conflict",
        "The incoming record and a candidate hold different NHS numbers or UPNs, or its identifiers point at different children.",
    ),
    MatchReason.demographics_contradict: (
        "Details contradict the identifier",
        "An identifier matches a record, but the date of birth and a name contradict it.",
    ),
    MatchReason.shielded_candidate: (
        "Shielded candidate",
        "A candidate is a record your authority has shielded. The sender was told only that the record is uncertain.",
    ),
}

FIELD_LABELS = {
    "given_names": "Given names",
    "family_name": "Family name",
    "date_of_birth": "Date of birth",
    "gender": "Gender",
    "postcode": "Postcode",
    "address": "Address",
    "directory_id": "Directory ID",
    "nhs_number": "NHS number",
    "upn": "UPN",
}

LEVEL_LABELS = {
    "exact": "Exact",
    "agree": "Agree",
    "full": "Same postcode",
    "part": "Part of the name",
    "nickname": "Nickname",
    "swapped": "Given and family names swapped",
    "jaro_winkler": "Close spelling",
    "typo": "One letter different",
    "phonetic": "Sounds alike",
    "initial": "Same initial",
    "day_month_swapped": "Day and month swapped",
    "year_off_by_one": "Year one out",
    "one_digit": "One digit different",
    "sector": "Same postcode sector",
    "district": "Same postcode district",
    "similar": "Similar",
    "moved": "Different postcode",
    "different": "Different (may change)",
    "conflict": "Conflict",
    "disagree": "Different",
    "unknown": "Not known",
    "missing": "Missing on one side",
}

_OUTCOMES = {review.LINKED: "linked to", review.CREATED: "created as", review.MERGED: "merged and linked to"}


def when(value: datetime | None) -> str:
    """A stored UTC time in UK time, GOV.UK style: 5 January 2014, 4:30pm."""
    if value is None:
        return ""
    local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(LONDON)
    hour = local.hour % 12 or 12
    minutes = f":{local.minute:02d}" if local.minute else ""
    return f"{local.day} {local:%B %Y}, {hour}{minutes}{'am' if local.hour < 12 else 'pm'}"


def reason_shown(code: str, entitled: bool) -> tuple[str, str]:
    """(label, explanation) of a case's reason. ``shielded_candidate`` is shown only to those
    entitled to see the shield (the shielding authority's team); others see what the sender saw."""
    if not entitled:
        code = external(code) or code
    return REASONS.get(code, (code.replace("_", " ").capitalize(), ""))


def field_label(field: str) -> str:
    return FIELD_LABELS.get(field, field.replace("_", " ").capitalize())


def level_label(level: str) -> str:
    return LEVEL_LABELS.get(level, level.replace("_", " ").capitalize())


def value_text(field: str, value: str | None) -> str:
    """A compared value as the page shows it (dates GOV.UK style)."""
    if not value:
        return "–"
    if field == "date_of_birth":
        try:
            born = date.fromisoformat(value)
        except ValueError:
            return value
        return f"{born.day} {born:%B %Y}"
    if field == "gender":
        return value.replace("_", " ").capitalize()
    return value


def fault_text(fault: Fault) -> str:
    """A directory refusal as an error message."""
    message = fault.message[:1].upper() + fault.message[1:]
    if fault.code == "IdentifierConflict":
        return f"These are two children: their NHS numbers or UPNs differ. {message}"
    return message


def selectable(candidate: CandidateView) -> bool:
    """A candidate the team may link or merge: a record that still exists and was not merged away."""
    return bool(candidate.directory_id) and candidate.status not in (None, "merged")


@dataclass(frozen=True)
class MergeRow:
    """A merge made by the authority's team, with who made (and undid) it."""

    merge: MergeView
    merged_by: str
    undone_by: str | None


def _done_text(case_id: int, resolution: Resolution) -> str:
    total = len(resolution.results)
    applied = sum(1 for r in resolution.results if r.outcome.value == "applied")
    updates = f"{total} waiting update{'s' if total != 1 else ''} applied"
    if applied != total:
        updates = f"{applied} of {total} waiting updates applied (the others were already on the directory)"
    action = {
        review.LINKED: f"the record is linked to {resolution.directory_id}",
        review.CREATED: f"a new record {resolution.directory_id} is created",
        review.MERGED: f"the two records are merged into {resolution.directory_id}",
    }[resolution.status]
    return f"Review {case_id} resolved: {action}, {updates}."


def add_review_routes(app: FastAPI, link, run, form_of) -> None:
    """Add the match-review pages to the web link's app."""

    def caller(page) -> Caller:
        return page.caller(ReasonCode.brokering_contact, MANAGER)

    def entitled(c: Caller) -> bool:
        return access.has_right(c, access.Right.see_shielded_fields)

    # --- reading: the authority's own cases and merges --------------------------------------

    def own_case(page, c: Caller, case_id: int) -> CaseView | None:
        """The case if it is in ``c``'s authority's queue (open or resolved), else None."""
        if not c.local_authority:
            return None
        try:
            view = review.case(page.db, case_id, caller=c)
        except Fault as fault:
            if fault.code == "InvalidRequest":  # no such case: answered like another authority's
                return None
            raise
        return view if view.local_authority == c.local_authority else None

    def own_merges(page, c: Caller, limit: int | None = MERGES_SHOWN) -> list[MergeRow]:
        """Merges made by this authority's management team, newest first."""
        names: dict[str, str] = {}

        def who(user_id: str) -> str:
            if user_id not in names:
                account = accounts.find_account(page.db, user_id)
                names[user_id] = account.name if account else user_id
            return names[user_id]

        if not c.local_authority:
            return []
        views = review.merges(page.db, local_authority=c.local_authority, limit=limit)
        return [MergeRow(v, who(v.merged_by), who(v.undone_by) if v.undone_by else None) for v in views]

    # --- pages ---------------------------------------------------------------------------

    def reviews_page(page, status: int = 200, *, done: str | None = None, fault: Fault | None = None) -> Response:
        c = caller(page)
        try:
            cases = review.open_cases(page.db, c.local_authority, caller=c) if c.local_authority else []
            merges = own_merges(page, c)
        except Fault as read_fault:
            return link.fault_page(page, read_fault)
        return link.render(
            page, "manage/reviews.html", status, queue=cases, merges=merges, done=done,
            errors={"queue": fault_text(fault)} if fault else {},
            reason_shown=lambda code: reason_shown(code, entitled(c)), when=when,
        )  # fmt: skip

    def not_in_queue(page, case_id: int) -> Response:
        return reviews_page(page, 404, fault=Fault("InvalidRequest", f"review {case_id} is not in your authority's queue"))

    def case_page(page, view: CaseView, status: int = 200, errors: dict[str, str] | None = None) -> Response:
        c = caller(page)
        choices = [cand for cand in view.candidates if selectable(cand)]
        resolver = accounts.find_account(page.db, view.resolved_by) if view.resolved_by else None
        return link.render(
            page, "manage/review_item.html", status, item=view, item_id=view.id, errors=errors or {}, values=page.form,
            choices=choices, reason=reason_shown(view.reason_code, entitled(c)), field_label=field_label,
            level_label=level_label, value_text=value_text, when=when, outcome=_OUTCOMES.get(view.status, view.status),
            resolved_by=resolver.name if resolver else view.resolved_by,
        )  # fmt: skip

    def with_case(handler):
        """Run ``handler(page, caller, view)`` for a case of the caller's authority."""

        def run_case(page, case_id: int) -> Response:
            c = caller(page)
            try:
                view = own_case(page, c, case_id)
            except Fault as fault:
                return link.fault_page(page, fault)
            if view is None:
                return not_in_queue(page, case_id)
            return handler(page, c, view)

        return run_case

    @with_case
    def show_case(page, c: Caller, view: CaseView) -> Response:
        return case_page(page, view)

    @with_case
    def decide(page, c: Caller, view: CaseView) -> Response:
        """Link to a candidate, or create a new record."""
        decision = page.form.get("decision", "")
        targets = {cand.directory_id for cand in view.candidates if selectable(cand)}
        if decision == "create":
            call = lambda: review.resolve_create(page.db, c, view.id)
        elif decision.startswith("link:") and decision.removeprefix("link:") in targets:
            target = decision.removeprefix("link:")
            call = lambda: review.resolve_link(page.db, c, view.id, target)
        else:
            return case_page(page, view, 400, {"decision": "Select which child the record is about"})
        resolution, fault = link.directory(page, c, review.RESOLVE_OPERATION, call)
        if fault is not None:
            return case_page(page, own_case(page, c, view.id) or view, fault.http_status, {"decision": fault_text(fault)})
        return reviews_page(page, done=_done_text(view.id, resolution))

    @with_case
    def merge_records(page, c: Caller, view: CaseView) -> Response:
        """Merge two candidates (after a confirmation page) and apply the held events to the one kept."""
        by_id = {cand.directory_id: cand for cand in view.candidates if selectable(cand)}
        keep, gone = page.form.get("keep", ""), page.form.get("merge", "")
        errors = {}
        if keep not in by_id:
            errors["keep"] = "Select the record to keep"
        if gone not in by_id:
            errors["merge"] = "Select the record to merge into it"
        elif gone == keep:
            errors["merge"] = "Select two different records: the one to keep and the one to merge into it"
        if errors:
            return case_page(page, view, 400, errors)
        if page.form.get("confirm") != "yes":
            return link.render(page, "manage/review_merge.html", item=view, keep=by_id[keep], gone=by_id[gone])
        resolution, fault = link.directory(page, c, review.MERGE_OPERATION, lambda: review.resolve_merge(page.db, c, view.id, keep, gone))
        if fault is not None:
            return case_page(page, own_case(page, c, view.id) or view, fault.http_status, {"keep": fault_text(fault)})
        return reviews_page(page, done=_done_text(view.id, resolution) + " You can undo the merge below.")

    def undo(page, merge_id: int) -> Response:
        c = caller(page)
        row = next((r for r in own_merges(page, c, limit=None) if r.merge.id == merge_id), None)
        if row is None:
            return reviews_page(page, 404, fault=Fault("InvalidRequest", f"merge {merge_id} was not made by your authority's team"))
        if row.merge.undone_at is not None:
            return reviews_page(page, 400, fault=Fault("InvalidRequest", f"merge {merge_id} was already undone"))
        if page.form.get("confirm") != "yes":
            return link.render(page, "manage/review_undo.html", row=row, when=when)
        _, fault = link.directory(page, c, review.UNDO_OPERATION, lambda: review.undo_merge(page.db, c, merge_id))
        if fault is not None:
            return reviews_page(page, fault.http_status, fault=fault)
        m = row.merge
        return reviews_page(page, done=f"The merge is undone: {m.kept_directory_id} and {m.merged_directory_id} are separate records again.")

    # --- routes ----------------------------------------------------------------------------

    @app.get("/manage/reviews")
    async def reviews_get(request: Request) -> Response:
        return await run(request, reviews_page, role=MANAGER)

    @app.get("/manage/reviews/{case_id}")
    async def review_get(request: Request, case_id: int) -> Response:
        return await run(request, lambda p: show_case(p, case_id), role=MANAGER)

    @app.post("/manage/reviews/{case_id}")
    async def review_post(request: Request, case_id: int) -> Response:
        return await run(request, lambda p: decide(p, case_id), role=MANAGER, form=await form_of(request))

    @app.post("/manage/reviews/{case_id}/merge")
    async def review_merge(request: Request, case_id: int) -> Response:
        return await run(request, lambda p: merge_records(p, case_id), role=MANAGER, form=await form_of(request))

    @app.post("/manage/reviews/merges/{merge_id}/undo")
    async def merge_undo(request: Request, merge_id: int) -> Response:
        return await run(request, lambda p: undo(p, merge_id), role=MANAGER, form=await form_of(request))


def open_queue(page, caller: Caller) -> list[CaseSummary] | None:
    """The cases waiting in ``caller``'s authority's queue (None: the caller may not see it)."""
    if not caller.local_authority:
        return []
    try:
        return review.open_cases(page.db, caller.local_authority, caller=caller)
    except Fault:
        return None
