"""Areas: which local authority a child belongs to, and moving the record when the child moves.

A child's *responsible local authority* (``children.responsible_la``, a GSS code such
as ``E08000035``) comes from the postcode of the child's address, looked up by
postcode district in ``postcode_districts.json`` — a small stand-in for the ONS
Postcode Directory covering the sample areas only. A child whose postcode is
unknown to the table takes the area of the account that first wrote about them
(:attr:`cpbridge.settings.SystemAccount.local_authority`) and keeps it until an
address with a known postcode arrives.

When the address moves to another authority the record follows: the responsible
LA changes, the move is kept in ``child_area_moves`` (from, to, when) and audited
(``AreaMove``). Involvements keep the area of the account that registered them
(``involvements.local_authority``), and every involvement view shows it, so the
new area's practitioners see which services were involved in the old one; nothing
is hidden by area.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, shields
from .audit_tables import ChildAreaMove
from .auth import Caller
from .tables import Child

DISTRICT_TABLE = Path(__file__).with_name("postcode_districts.json")


@dataclass(frozen=True)
class DistrictTable:
    districts: dict[str, str]
    authorities: dict[str, str]


@lru_cache(maxsize=4)
def district_table(path: Path = DISTRICT_TABLE) -> DistrictTable:
    """The postcode-district -> LA table (``{"districts": {...}, "authorities": {code: name}}``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return DistrictTable(dict(data["districts"]), dict(data["authorities"]))
    except (OSError, ValueError, KeyError) as exc:
        raise RuntimeError(f"{path}: not a postcode district table ({exc})") from None


def postcode_district(postcode: str | None) -> str | None:
    """The outward code of a (normalised, ``OUTWARD INWARD``) postcode: ``LS8 3PQ`` -> ``LS8``."""
    if not postcode:
        return None
    text = postcode.strip().upper()
    outward = text.split()[0] if " " in text else text[:-3]
    return outward or None


def la_for_postcode(postcode: str | None) -> str | None:
    """The local authority (GSS code) of a postcode, or None when its district is not in the table."""
    district = postcode_district(postcode)
    return district_table().districts.get(district) if district else None


def la_name(code: str | None) -> str:
    """The authority's name for display (the code itself when unknown)."""
    if not code:
        return "unknown area"
    return district_table().authorities.get(code, code)


def place_child(session: Session, caller: Caller, child: Child, *, source_system: str | None = None) -> ChildAreaMove | None:
    """Bring the child's responsible LA up to date after a write; the move made, if any.

    The address's postcode decides; without a known postcode, a child with no area yet
    takes the caller's account area. Involvements from ``source_system`` that have no
    area yet take the caller's account area. Idempotent: nothing changes when the
    area is already right.
    """
    account_la = getattr(caller, "local_authority", "") or None
    if account_la and source_system:
        for inv in child.involvements:
            if inv.source_system == source_system and inv.local_authority is None:
                inv.local_authority = account_la
    new, basis = la_for_postcode(child.postcode), "address"
    if new is None:
        if child.responsible_la is not None or account_la is None:
            return None
        new, basis = account_la, "account"
    if new == child.responsible_la:
        return None
    return move_child(session, caller, child, new, basis=basis)


def move_child(session: Session, caller: Caller, child: Child, to_la: str, *, basis: str) -> ChildAreaMove:
    """Make ``to_la`` the child's responsible authority, keeping the previous one in the history."""
    from_la = child.responsible_la
    child.responsible_la = to_la
    shield = shields.active_shield(session, child.id)
    if shield is not None:  # the new authority's management team now reviews and brokers
        shield.local_authority = to_la
    move = ChildAreaMove(child_id=child.id, from_la=from_la, to_la=to_la, basis=basis)
    session.add(move)
    audit.record(
        session, caller, "AreaMove",
        outcome="done", child=child, fields=["responsibleLa"],
        detail=f"from={from_la or '-'} to={to_la} basis={basis}",
    )  # fmt: skip
    return move


@dataclass(frozen=True)
class AreaHistoryEntry:
    from_la: str | None
    to_la: str
    basis: str
    moved_at: datetime


def area_history(session: Session, child: Child) -> list[AreaHistoryEntry]:
    """The child's responsible authorities, oldest first."""
    rows = session.scalars(
        select(ChildAreaMove).where(ChildAreaMove.child_id == child.id).order_by(ChildAreaMove.moved_at, ChildAreaMove.id)
    )
    return [AreaHistoryEntry(r.from_la, r.to_la, r.basis, r.moved_at) for r in rows]


def in_scope(caller: Caller, child: Child) -> bool:
    """Whether a caller whose rights are scoped to an authority (the management team) covers ``child``:
    the child's responsible authority is the caller's.

    A caller without an area covers no child, and a child without an area is covered by no
    authority: until an address or a writing account places it, only an administrator (the
    command line) acts on it. Never "everyone", which would let any authority's team act on it.
    """
    caller_la = getattr(caller, "local_authority", "") or None
    return caller_la is not None and child.responsible_la is not None and child.responsible_la == caller_la
