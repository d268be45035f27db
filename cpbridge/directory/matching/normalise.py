"""Name, date and postcode normalisation for identity matching.

Everything the scorer and the blocking keys compare goes through here, so that
"O'Brien", "OBRIEN" and "o brien" are one name and "Zoë" is "ZOE".

Phonetic codes (both from jellyfish):

* **Soundex** for blocking keys. It is coarse (high recall) and always four
  characters, so keys stay short and stable; NHS PDS uses it for the same job.
  It keeps the first letter, so C/K and PH/F spellings ("Catherine"/"Katherine")
  fall in different blocks; other keys (DOB + family name) catch those.
* **Metaphone** *or* Soundex for the scorer's ``phonetic`` agreement level.
  Metaphone understands English spelling (C/K, PH/F, silent letters), Soundex
  tolerates vowel changes ("Aisha"/"Ayesha", "Louis"/"Lewis"). NYSIIS was
  measured too and added nothing that the pair misses while agreeing on
  more unrelated names. The phonetic level carries a small weight, so its
  false agreements cost little (docs/matching.md).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import lru_cache

import jellyfish

from cpbridge.identifiers import normalise_postcode, postcode_parts

# Letters NFKD does not decompose into an ASCII base letter.
_SPECIAL = str.maketrans(
    {
        "ß": "SS", "ẞ": "SS", "Æ": "AE", "æ": "AE", "Œ": "OE", "œ": "OE", "Ø": "O", "ø": "O",
        "Ł": "L", "ł": "L", "Đ": "D", "đ": "D", "Ð": "D", "ð": "D", "Þ": "TH", "þ": "TH",
        "ı": "I", "Ħ": "H", "ħ": "H",
    }
)
_APOSTROPHES = re.compile(r"['’‘`ʼ]")
_SEPARATORS = re.compile(r"[^A-Z0-9]+")

#: Given-name tokens that are not names: placeholders hospitals and agencies
#: record before a child is named ("Baby", "Twin 1", "BB" = baby boy).
PLACEHOLDER_GIVEN = frozenset(
    {
        "BABY", "BABI", "INFANT", "NEWBORN", "UNKNOWN", "UNK", "NK", "NOTKNOWN", "UNNAMED",
        "MALE", "FEMALE", "BOY", "GIRL", "TWIN", "TRIPLET", "BB", "BG", "BBOY", "BGIRL",
        "CHILD", "NONAME", "TBC", "TBA", "NAMELESS", "UNBORN", "UNDEFINED", "NULL", "NONE",
    }
)
#: Placeholder family names (a foundling, an unknown surname).
PLACEHOLDER_FAMILY = frozenset({"UNKNOWN", "UNK", "NK", "NOTKNOWN", "TBC", "TBA", "NULL", "NONE", "BABY"})
# Tokens that only make sense after a placeholder: "Twin 1", "Baby A", "Baby of Smith".
_ORDINALS = frozenset({"1", "2", "3", "4", "A", "B", "C", "D", "I", "II", "III", "ONE", "TWO", "THREE", "OF"})


@lru_cache(maxsize=200_000)
def fold(text: str) -> str:
    """Upper case, accents folded to ASCII, apostrophes dropped, other separators to one space."""
    text = unicodedata.normalize("NFKD", text.translate(_SPECIAL))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).upper()
    text = _APOSTROPHES.sub("", text.translate(_SPECIAL))
    return _SEPARATORS.sub(" ", text).strip()


@lru_cache(maxsize=200_000)
def given_tokens(given_names: str) -> tuple[str, ...]:
    """Given-name tokens with placeholders removed; ``()`` when only placeholders remain.

    "Baby", "Twin 1", "Baby of Smith", "BB" give ``()``: the field is then
    treated as missing, never as a name to compare.
    """
    tokens = fold(given_names).split()
    if not tokens:
        return ()
    if any(t in PLACEHOLDER_GIVEN for t in tokens):
        if tokens[0] in PLACEHOLDER_GIVEN and len(tokens) > 1 and tokens[1] == "OF":
            return ()  # "Baby of Sarah Smith": everything after is the mother's name
        kept: list[str] = []
        after_placeholder = False
        for t in tokens:
            if t in PLACEHOLDER_GIVEN:
                after_placeholder = True
            elif after_placeholder and t in _ORDINALS:
                continue
            else:
                kept.append(t)
                after_placeholder = False
        tokens = kept
    return tuple(tokens)


def is_placeholder_given(given_names: str) -> bool:
    """True when a given-name field holds nothing but placeholders."""
    return not given_tokens(given_names)


@lru_cache(maxsize=200_000)
def family_tokens(family_name: str) -> tuple[str, ...]:
    """Parts of a family name: "Smith-Jones" and "Smith Jones" give ``("SMITH", "JONES")``.

    A placeholder surname ("Unknown") gives ``()``.
    """
    tokens = tuple(fold(family_name).split())
    if all(t in PLACEHOLDER_FAMILY for t in tokens):
        return ()
    return tokens


@lru_cache(maxsize=200_000)
def soundex(token: str) -> str:
    """Soundex of a folded token (used for blocking keys)."""
    return jellyfish.soundex(token) if token else ""


@lru_cache(maxsize=200_000)
def metaphone(token: str) -> str:
    """Metaphone of a folded token."""
    return jellyfish.metaphone(token) if token else ""


def sounds_alike(a: str, b: str) -> bool:
    """Phonetic agreement of two folded tokens: Metaphone or Soundex equal."""
    return bool(a and b) and (metaphone(a) == metaphone(b) or soundex(a) == soundex(b))


def postcode_or_none(value: str | None) -> str | None:
    """A normalised postcode, or None where absent or not a valid UK postcode."""
    if not value:
        return None
    try:
        return normalise_postcode(value)
    except ValueError:
        return None


def postcode_split(value: str | None) -> tuple[str, str, str] | None:
    """``(district, sector, full)`` for a postcode, or None where absent or invalid."""
    pc = postcode_or_none(value)
    return postcode_parts(pc) if pc else None


def swapped_day_month(dob: date) -> date | None:
    """The date with day and month exchanged, or None where that is no date or the same date."""
    if dob.day > 12 or dob.day == dob.month:
        return None
    try:
        return dob.replace(month=dob.day, day=dob.month)
    except ValueError:
        return None


def one_digit_variants(dob: date) -> list[date]:
    """Valid dates whose YYYYMMDD differs from ``dob`` in exactly one digit."""
    text = _digits(dob)
    out: list[date] = []
    for i, ch in enumerate(text):
        for d in "0123456789":
            if d == ch:
                continue
            cand = text[:i] + d + text[i + 1 :]
            if cand[0] == "0":
                continue  # year 0xxx: not a child's date of birth
            try:
                out.append(date(int(cand[:4]), int(cand[4:6]), int(cand[6:])))
            except ValueError:
                continue
    return out


def digits_differing(a: date, b: date) -> int:
    """How many of the eight YYYYMMDD digits differ."""
    return sum(x != y for x, y in zip(_digits(a), _digits(b)))


def _digits(d: date) -> str:
    return f"{d.year:04d}{d.month:02d}{d.day:02d}"
