"""Check-digit and format validation for the identifiers children carry.

* NHS number: 10 digits, the last a modulus-11 check digit.
* Unique Pupil Number (UPN): 13 characters, a check letter first (DfE algorithm).
* Directory ID: ``CP`` + 9 digits + a Luhn check digit, issued by the directory.
* UK postcode: normalised to ``OUTWARD INWARD`` upper case.

Each ``normalise_*`` returns the canonical form or raises ``ValueError`` with a
message that names the problem, so pydantic can report it against the field.
"""

from __future__ import annotations

import re
import secrets

_NHS_WEIGHTS = range(10, 1, -1)


def nhs_check_digit(first_nine: str) -> int | None:
    """The modulus-11 check digit for nine digits, or None where none is valid."""
    total = sum(int(d) * w for d, w in zip(first_nine, _NHS_WEIGHTS))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def normalise_nhs_number(value: str) -> str:
    digits = re.sub(r"[\s-]", "", value)
    if not re.fullmatch(r"\d{10}", digits):
        raise ValueError("NHS number must be 10 digits")
    if nhs_check_digit(digits[:9]) != int(digits[9]):
        raise ValueError("NHS number fails its modulus-11 check digit")
    return digits


_UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


def _upn_char_value(ch: str) -> int:
    return int(ch) if ch.isdigit() else _UPN_LETTERS.index(ch)


def upn_check_letter(last_twelve: str) -> str:
    """The DfE check letter for characters 2-13 of a UPN (weights 2..13, mod 23)."""
    total = sum(_upn_char_value(ch) * w for w, ch in zip(range(2, 14), last_twelve))
    return _UPN_LETTERS[total % 23]


def normalise_upn(value: str) -> str:
    upn = value.strip().upper()
    # Permanent UPNs end in 12 digits; temporary ones end in a letter.
    if not re.fullmatch(rf"[{_UPN_LETTERS}]\d{{11}}[0-9{_UPN_LETTERS}]", upn):
        raise ValueError("UPN must be a check letter followed by 11 digits and a digit or letter")
    if upn_check_letter(upn[1:]) != upn[0]:
        raise ValueError("UPN fails its check letter")
    return upn


def _luhn_digit(digits: str) -> int:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return (10 - total % 10) % 10


def new_directory_id() -> str:
    """A fresh random directory ID (the directory checks it is unused)."""
    body = f"{secrets.randbelow(10**9):09d}"
    return f"CP{body}{_luhn_digit(body)}"


def normalise_directory_id(value: str) -> str:
    cid = value.strip().upper()
    if not re.fullmatch(r"CP\d{10}", cid):
        raise ValueError("directory ID must be CP followed by 10 digits")
    if _luhn_digit(cid[2:11]) != int(cid[11]):
        raise ValueError("directory ID fails its check digit")
    return cid


_POSTCODE = re.compile(
    r"^(GIR ?0AA|[A-PR-UWYZ]([0-9]{1,2}|[A-HK-Y][0-9]([0-9ABEHMNPRV-Y])?|[0-9][A-HJKPS-UW])"
    r" ?[0-9][ABD-HJLNP-UW-Z]{2})$"
)


def normalise_postcode(value: str) -> str:
    pc = re.sub(r"\s+", "", value.upper())
    if not _POSTCODE.match(pc):
        raise ValueError(f"'{value}' is not a valid UK postcode")
    return f"{pc[:-3]} {pc[-3:]}"


def postcode_parts(postcode: str) -> tuple[str, str, str]:
    """(district, sector, full) for a normalised postcode: ``LS1``, ``LS1 4``, ``LS1 4AB``."""
    outward, inward = postcode.split(" ")
    return outward, f"{outward} {inward[0]}", postcode
