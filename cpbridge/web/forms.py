"""Reading the web link's forms into canonical models, with GOV.UK-style error messages.

Errors are ``{field id: message}`` in page order; the page shows them in an error
summary linking to each field, and beside the field itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from pydantic import ValidationError

from cpbridge.codes import Gender, IdentifierScheme, OverrideReason, ReasonCode
from cpbridge.identifiers import (
    normalise_directory_id,
    normalise_nhs_number,
    normalise_upn,
)
from cpbridge.model import Identifier, SearchCriteria

#: Reasons a practitioner may give for a search (the others are for systems and management).
SEARCH_REASONS = [
    ReasonCode.direct_work,
    ReasonCode.referral,
    ReasonCode.assessment,
    ReasonCode.safeguarding,
    ReasonCode.case_coordination,
]
MANAGEMENT_REASONS = [ReasonCode.brokering_contact, ReasonCode.subject_access]

_TEXT_FIELDS = {
    "given_names": "given names",
    "family_name": "family name",
    "postcode": "postcode",
    "school_code": "school URN or DfE number",
    "gp_practice_code": "GP practice code",
    "carer_family_name": "parent or carer's family name",
}


@dataclass
class SearchForm:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    criteria: SearchCriteria | None = None
    identifier: Identifier | None = None
    reason: ReasonCode | None = None


def read_search(form: dict[str, str], reasons: list[ReasonCode]) -> SearchForm:
    """Validate the search form. The minimum combination is the directory's to enforce."""
    values = {k: (form.get(k) or "").strip() for k in ("identifier", *_TEXT_FIELDS, "dob-day", "dob-month", "dob-year", "gender", "reason")}
    result = SearchForm(values)
    errors = result.errors
    if values["reason"] not in {r.value for r in reasons}:
        errors["reason"] = "Select why you need to search"
    else:
        result.reason = ReasonCode(values["reason"])
    if values["identifier"]:
        try:
            result.identifier = identifier_from(values["identifier"])
        except ValueError as exc:
            errors["identifier"] = str(exc)
        return result
    dob = None
    parts = [values["dob-day"], values["dob-month"], values["dob-year"]]
    if any(parts):
        dob, message = _date(parts)
        if message:
            errors["dob-day"] = message
    gender = values["gender"] or None
    if gender and gender not in {g.value for g in Gender}:
        errors["gender"] = "Select a gender from the list"
        gender = None
    raw = {k: values[k] or None for k in _TEXT_FIELDS}
    for name, value in raw.items():
        if value is None:
            continue
        try:
            SearchCriteria.model_validate({name: value})
        except ValidationError:
            errors[name] = f"Enter a real {_TEXT_FIELDS[name]}"
    if errors:
        return result
    result.criteria = SearchCriteria(date_of_birth=dob, gender=Gender(gender) if gender else None, **raw)
    return result


def identifier_from(text: str) -> Identifier:
    """An NHS number (10 digits), UPN (13 characters) or directory ID (CP + 10 digits)."""
    compact = re.sub(r"[\s-]", "", text).upper()
    if compact.startswith("CP"):
        try:
            return Identifier(scheme=IdentifierScheme.directory_id, value=normalise_directory_id(compact))
        except ValueError:
            raise ValueError("Enter a real directory ID, like CP1234567890") from None
    if compact.isdigit():
        try:
            return Identifier(scheme=IdentifierScheme.nhs_number, value=normalise_nhs_number(compact))
        except ValueError:
            raise ValueError("Enter a real NHS number, like 943 476 5919") from None
    try:
        return Identifier(scheme=IdentifierScheme.upn, value=normalise_upn(compact))
    except ValueError:
        raise ValueError("Enter a real NHS number, UPN or directory ID") from None


def _date(parts: list[str]) -> tuple[date | None, str | None]:
    names = ("day", "month", "year")
    missing = [n for n, p in zip(names, parts) if not p]
    if missing:
        return None, f"Date of birth must include a {' and '.join(missing)}"
    if not all(p.isdigit() for p in parts) or len(parts[2]) != 4:
        return None, "Date of birth must be a real date"
    try:
        value = date(int(parts[2]), int(parts[1]), int(parts[0]))
    except ValueError:
        return None, "Date of birth must be a real date"
    if value > date.today():
        return None, "Date of birth must be in the past"
    return value, None


def read_override(form: dict[str, str]) -> tuple[OverrideReason | None, dict[str, str]]:
    reason = (form.get("override_reason") or "").strip()
    errors: dict[str, str] = {}
    if reason not in {r.value for r in OverrideReason}:
        errors["override_reason"] = "Select why you need to see the full record"
    if form.get("understood") != "yes":
        errors["understood"] = "Confirm that you understand the override is checked at once"
    return (OverrideReason(reason) if not errors else None), errors
