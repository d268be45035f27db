"""The statistics extract: the only way data leaves the directory in bulk, pseudonymised.

Users cannot download the directory; bulk disclosure is allowed only anonymised or
pseudonymised, for statistics and research. :func:`build_extract` produces:

* ``records`` — one row per live child: a keyed pseudonym
  (HMAC-SHA256 of the directory ID under a secret key read from a file and never
  stored in the database), birth year and age band (never the date of birth), gender,
  the responsible authority's code (never an address or postcode), and whether
  there is a lead professional and a completed CAF. No names, no NHS number, no
  UPN, no practitioner or carer, no setting — and no services: a record-level
  service list would let anyone recount every suppressed cell of ``counts``.
* ``counts`` — involvements by service (sensitive ones as ``unspecified``, as most
  users see them), authority and age band; a count under :data:`SUPPRESS_BELOW`
  is replaced by :data:`SUPPRESSED`. Service appears nowhere else in the extract
  and no totals are published, so a suppressed cell cannot be recovered by
  counting records or by subtraction.

The same key gives the same pseudonyms (extracts can be linked over time by whoever
holds the key); a different key gives unlinkable ones. The extract is audited as one
``StatisticsExtract`` row.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from cpbridge.codes import SENSITIVE_SERVICES, Service

from . import audit
from .auth import Caller
from .tables import Child, utcnow

#: /2: records carry no services (they let suppressed cells be recounted); counts mask sensitive services.
FORMAT = "cpbridge-statistics-extract/2"
SUPPRESS_BELOW = 10
SUPPRESSED = "<10"
#: The least key material accepted (bytes).
MIN_KEY_BYTES = 32
#: Age bands: (label, lowest age, highest age).
AGE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("0-4", 0, 4),
    ("5-10", 5, 10),
    ("11-15", 11, 15),
    ("16-17", 16, 17),
    ("18-25", 18, 25),
)


class ExtractKeyError(ValueError):
    """The pseudonymisation key file is missing, unreadable or too short."""


def read_key(path: Path) -> bytes:
    """The secret key from ``path`` (surrounding whitespace ignored; at least 32 bytes)."""
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise ExtractKeyError(f"{path}: cannot read the key file ({exc.strerror})") from None
    if len(key) < MIN_KEY_BYTES:
        raise ExtractKeyError(f"{path}: the key has {len(key)} bytes; at least {MIN_KEY_BYTES} are needed (e.g. `openssl rand -hex 32`)")
    return key


def pseudonym(key: bytes, directory_id: str) -> str:
    """The keyed pseudonym of a child: HMAC-SHA256(key, directory ID), hex."""
    return hmac.new(key, f"child:{directory_id}".encode(), hashlib.sha256).hexdigest()


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def age_band(age: int) -> str:
    for label, low, high in AGE_BANDS:
        if low <= age <= high:
            return label
    return "26+"


def build_extract(session: Session, caller: Caller, key: bytes, today: date | None = None) -> dict:
    """The extract of the live directory on ``today`` (see the module docs for what it holds)."""
    today = today or utcnow().date()
    records, counts = [], Counter()
    query = (
        select(Child)
        .where(Child.status == "live")
        .order_by(Child.id)
        .options(selectinload(Child.involvements))
        .execution_options(yield_per=1000)
    )
    for child in session.scalars(query):
        age = age_on(child.date_of_birth, today)
        band = age_band(age)
        la = child.responsible_la or "unknown"
        records.append(
            {
                "pseudonym": pseudonym(key, child.directory_id),
                "birthYear": child.date_of_birth.year,
                "ageBand": band,
                "gender": child.gender,
                "localAuthority": la,
                "leadProfessional": any(i.lead_professional for i in child.involvements),
                "cafCompleted": any(i.caf_completed_on for i in child.involvements),
            }
        )
        for inv in child.involvements:
            counts[(_shown(inv.service), la, band)] += 1
    records.sort(key=lambda r: r["pseudonym"])  # the directory's order would hint at registration order
    cells = [
        {"service": s, "localAuthority": la, "ageBand": band, "involvements": n if n >= SUPPRESS_BELOW else SUPPRESSED}
        for (s, la, band), n in sorted(counts.items())
    ]
    audit.record(
        session, caller, "StatisticsExtract",
        outcome="done", fields=["pseudonym", "birthYear", "ageBand", "gender", "localAuthority", "counts.service"],
        detail=f"records={len(records)} cells={len(cells)}",
    )  # fmt: skip
    return {
        "format": FORMAT,
        "generatedOn": today.isoformat(),
        "pseudonym": "HMAC-SHA256 of the directory ID under the extract key",
        "suppression": {"below": SUPPRESS_BELOW, "marker": SUPPRESSED},
        "records": records,
        "counts": cells,
    }


def write_extract(sessions: sessionmaker[Session], caller: Caller, key_file: Path, out: Path, today: date | None = None) -> dict:
    """Build the extract with the key in ``key_file`` and write it to ``out`` as JSON; a summary.

    The file is written only after the transaction holding its audit row has committed.
    """
    key = read_key(key_file)
    with sessions.begin() as session:
        data = build_extract(session, caller, key, today)
    out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    suppressed = sum(1 for c in data["counts"] if c["involvements"] == SUPPRESSED)
    return {"records": len(data["records"]), "cells": len(data["counts"]), "suppressed": suppressed}


def _shown(service: str) -> str:
    return Service.unspecified.value if Service(service) in SENSITIVE_SERVICES else service
