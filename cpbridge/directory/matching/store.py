"""The matcher's side of the store: blocking keys, name counts, and candidates loaded for scoring.

Two tables (created by the migration ``0400_matching_review``):

``child_match_keys(key, child_id)``
    The blocking keys of every child (:func:`~.blocking.record_keys`, at most 8).
    The primary key ``(key, child_id)`` is the index the matcher probes with one
    ``IN (...)`` of the incoming identity's :func:`~.blocking.query_keys`; an
    index on ``child_id`` serves the delete-and-reinsert when a child changes.
    A merged child has no keys (it is never a candidate).
``name_frequencies(kind, token, count)``
    How many children have each folded first given name (``kind='g'``) and
    family-name part (``'f'``), plus one ``('t', '')`` row holding the total, for
    :class:`~.scoring.NameFrequencies`. Incremented when a child is created
    (cheap, in the same transaction); renames and merges are not counted until
    :func:`refresh_name_frequencies` (``cpbridge directory review refresh-frequencies``,
    run nightly or weekly) rebuilds the table. Counts drift slowly, and only the
    share matters, so a periodic refresh is enough.

Keeping the keys current is automatic: a ``before_flush`` listener notes every
child whose row, names or identifiers were added, changed or deleted in the
session, and :func:`sync` re-computes their keys before the matcher reads the
table (:func:`cpbridge.directory.matching.match_identity` calls it) and before
the session commits. Bulk loads that bypass the ORM (the benchmark) call
:func:`reindex` / :func:`insert_keys` themselves with the same key function.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    bindparam,
    delete,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from cpbridge.codes import Gender, IdentifierScheme
from cpbridge.model import ChildIdentity

from ..tables import Base, Child, ChildIdentifier, ChildName
from . import normalise as nm
from .blocking import is_address_key, query_keys, record_keys
from .scoring import CandidateRecord, NameFrequencies

#: Child.status of a record merged into another (never a candidate; see review.py).
MERGED = "merged"


class ChildMatchKey(Base):
    """One blocking key of one child."""

    __tablename__ = "child_match_keys"
    __table_args__ = (Index("ix_child_match_keys_child_id", "child_id"),)

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), primary_key=True)


class NameFrequency(Base):
    """How many children carry a folded name token (``kind`` g/f), or the total (``t``)."""

    __tablename__ = "name_frequencies"

    kind: Mapped[str] = mapped_column(String(1), primary_key=True)
    token: Mapped[str] = mapped_column(String(40), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


# --- candidates ------------------------------------------------------------------------------


def _scheme_key(scheme: str, system: str) -> str:
    return f"local:{system}" if scheme == IdentifierScheme.local.value else scheme


_CHILD_COLUMNS = "c.id, c.directory_id, c.given_names, c.family_name, c.date_of_birth, c.gender, c.postcode, c.address_lines"
_TYPES = {
    "id": Integer, "directory_id": String, "given_names": String, "family_name": String, "date_of_birth": Date,
    "gender": String, "postcode": String, "address_lines": JSON, "shield_id": Integer,
}  # fmt: skip
# The hot path is plain SQL compiled once (statement building cost more than the queries).
_CHILDREN = text(
    f"SELECT {_CHILD_COLUMNS}, s.id AS shield_id FROM children c"
    " LEFT OUTER JOIN shields s ON s.child_id = c.id AND s.lifted_at IS NULL"
    f" WHERE c.id IN :ids AND c.status != '{MERGED}'"
).bindparams(bindparam("ids", expanding=True)).columns(**_TYPES)
_CHILDREN_NO_SHIELD = text(
    f"SELECT {_CHILD_COLUMNS}, NULL AS shield_id FROM children c WHERE c.id IN :ids AND c.status != '{MERGED}'"
).bindparams(bindparam("ids", expanding=True)).columns(**_TYPES)
_NAMES_AND_IDS = text(
    "SELECT child_id, 'n' AS kind, given_names AS a, family_name AS b FROM child_names WHERE child_id IN :ids"
    " UNION ALL SELECT child_id, scheme, system, value FROM child_identifiers WHERE child_id IN :ids"
).bindparams(bindparam("ids", expanding=True))
_BLOCKED = text("SELECT child_id, key FROM child_match_keys WHERE key IN :keys").bindparams(
    bindparam("keys", expanding=True)
)


def candidate_records(session: Session, child_ids: Iterable[int], *, shields: bool = True) -> list[CandidateRecord]:
    """The scorer's view of the given children (merged ones left out); ``shields=False`` leaves
    the shield flag unset (keys do not need it, and the backfill runs before the shields table exists)."""
    ids = sorted(set(child_ids))
    if not ids:
        return []
    conn = session.connection()
    rows = conn.execute(_CHILDREN if shields else _CHILDREN_NO_SHIELD, {"ids": ids}).all()
    if not rows:
        return []
    extra: dict[int, tuple[list, list]] = {r[0]: ([], []) for r in rows}
    for child_id, kind, a, b in conn.execute(_NAMES_AND_IDS, {"ids": [r[0] for r in rows]}):
        if kind == "n":
            extra[child_id][0].append((a, b))
        else:
            extra[child_id][1].append((_scheme_key(kind, a), b))
    out = []
    for cid, directory_id, given, family, dob, gender, postcode, lines, shield in rows:
        aliases, idents = extra[cid]
        out.append(
            CandidateRecord(
                child_id=cid,
                given_names=given,
                family_name=family,
                date_of_birth=dob,
                gender=Gender(gender) if gender in Gender.__members__ else Gender.unknown,
                aliases=tuple(sorted(aliases)),
                postcode=postcode,
                address_line=lines[0] if lines else None,
                identifiers=((IdentifierScheme.directory_id.value, directory_id), *sorted(idents)),
                shielded=shield is not None,
            )
        )
    out.sort(key=lambda r: r.child_id)
    return out


def blocked_candidates(session: Session, identity: ChildIdentity) -> list[CandidateRecord]:
    """Every child sharing a blocking key with ``identity``: one indexed ``IN`` probe of the key
    index, then the candidates' rows by primary key (two plain plans the planner cannot get wrong).

    A shielded child sharing only address keys (:func:`.blocking.is_address_key`) is left
    out: whether it is a candidate must not depend on the postcode the sender gave.
    """
    keys = query_keys(identity)
    if not keys:
        return []
    ids: set[int] = set()
    by_visible: set[int] = set()  # found through a key that is not an address key
    for child_id, key in session.connection().execute(_BLOCKED, {"keys": keys}):
        ids.add(child_id)
        if not is_address_key(key):
            by_visible.add(child_id)
    return [r for r in candidate_records(session, ids) if not r.shielded or r.child_id in by_visible]


# --- keys -------------------------------------------------------------------------------------


def insert_keys(session: Session, records: Sequence[CandidateRecord]) -> int:
    """Insert the blocking keys of ``records`` (no delete first); the number of rows."""
    rows = [{"key": k, "child_id": r.child_id} for r in records for k in record_keys(r)]
    if rows:
        session.execute(ChildMatchKey.__table__.insert(), rows)
    return len(rows)


def reindex(session: Session, child_ids: Iterable[int]) -> int:
    """Re-compute the stored keys of ``child_ids`` from their rows (merged children get none)."""
    ids = sorted(set(child_ids))
    if not ids:
        return 0
    session.execute(delete(ChildMatchKey).where(ChildMatchKey.child_id.in_(ids)))
    return insert_keys(session, candidate_records(session, ids, shields=False))


def reindex_all(session: Session, batch: int = 5000) -> int:
    """Rebuild every child's keys (after the migration, or to recover); the number of keys."""
    session.execute(delete(ChildMatchKey))
    total, last = 0, 0
    while True:
        ids = list(session.scalars(select(Child.id).where(Child.id > last).order_by(Child.id).limit(batch)))
        if not ids:
            return total
        total += insert_keys(session, candidate_records(session, ids, shields=False))
        last = ids[-1]


# --- name frequencies -----------------------------------------------------------------------


def _name_counts(records: Iterable[tuple[str, str]]) -> tuple[Counter, Counter, int]:
    given: Counter[str] = Counter()
    family: Counter[str] = Counter()
    total = 0
    for g, f in records:
        total += 1
        tokens = nm.given_tokens(g)
        if tokens:
            given[tokens[0][:40]] += 1
        family.update({t[:40] for t in nm.family_tokens(f)})
    return given, family, total


def _upsert(session: Session, rows: list[dict]) -> None:
    if not rows:
        return
    table = NameFrequency.__table__
    dialect = session.get_bind().dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    stmt = ins.on_conflict_do_update(index_elements=["kind", "token"], set_={"count": table.c.count + ins.excluded.count})
    session.execute(stmt, sorted(rows, key=lambda r: (r["kind"], r["token"])))


def count_names(session: Session, names: Iterable[tuple[str, str]]) -> None:
    """Add children with these (given names, family name) to the counts."""
    given, family, total = _name_counts(names)
    if not total:
        return
    rows = [{"kind": "g", "token": t, "count": n} for t, n in given.items()]
    rows += [{"kind": "f", "token": t, "count": n} for t, n in family.items()]
    rows.append({"kind": "t", "token": "", "count": total})
    _upsert(session, rows)


def refresh_name_frequencies(session: Session, batch: int = 20000) -> int:
    """Rebuild the counts from the live children (a periodic job); the number of children counted."""
    given: Counter[str] = Counter()
    family: Counter[str] = Counter()
    total, last = 0, 0
    while True:
        rows = session.execute(
            select(Child.id, Child.given_names, Child.family_name)
            .where(Child.id > last, Child.status != MERGED)
            .order_by(Child.id)
            .limit(batch)
        ).all()
        if not rows:
            break
        g, f, n = _name_counts((r[1], r[2]) for r in rows)
        given.update(g)
        family.update(f)
        total += n
        last = rows[-1][0]
    session.execute(delete(NameFrequency))
    rows = [{"kind": "g", "token": t, "count": n} for t, n in given.items()]
    rows += [{"kind": "f", "token": t, "count": n} for t, n in family.items()]
    rows.append({"kind": "t", "token": "", "count": total})
    session.execute(NameFrequency.__table__.insert(), rows)
    return total


_FREQUENCIES = text(
    "SELECT kind, token, count FROM name_frequencies"
    " WHERE (kind = 't' AND token = '') OR (kind = 'g' AND token IN :g) OR (kind = 'f' AND token IN :f)"
).bindparams(bindparam("g", expanding=True), bindparam("f", expanding=True))

#: Below this many children, shares are too noisy to weigh names by (every name in a small
#: store looks common): the scorer uses the flat table weights instead.
MIN_FREQUENCY_TOTAL = 10_000


def frequencies_for(session: Session, identity: ChildIdentity) -> NameFrequencies | None:
    """The counts the scorer needs for ``identity``: its own name tokens and the total.

    Only the incoming tokens matter (an ``exact`` or shared-part level weighs the
    incoming token), so one small indexed query serves each match. None (flat
    weights) while the store holds fewer than :data:`MIN_FREQUENCY_TOTAL` children.
    """
    given, family = set(), set()
    for g, f in [(identity.given_names, identity.family_name)] + [(a.given_names, a.family_name) for a in identity.aliases]:
        tokens = nm.given_tokens(g)
        if tokens:
            given.add(tokens[0][:40])
        family.update(t[:40] for t in nm.family_tokens(f))
    g_counts: dict[str, int] = {}
    f_counts: dict[str, int] = {}
    total = 0
    params = {"g": sorted(given) or [""], "f": sorted(family) or [""]}
    for kind, token, count in session.connection().execute(_FREQUENCIES, params):
        if kind == "t":
            total = count
        elif kind == "g":
            g_counts[token] = count
        else:
            f_counts[token] = count
    if total < MIN_FREQUENCY_TOTAL:
        return None
    return NameFrequencies(g_counts, f_counts, total)


# --- keeping the keys current --------------------------------------------------------------

_CHANGED = "cpbridge.matching.changed"
_CREATED = "cpbridge.matching.created"
_IDENTITY_COLUMNS = ("given_names", "family_name", "date_of_birth", "gender", "postcode", "address_lines", "status")


def _note(session: Session, target, created: bool = False) -> None:
    session.info.setdefault(_CHANGED, set()).add(target)
    if created:
        session.info.setdefault(_CREATED, set()).add(target)


@event.listens_for(Session, "before_flush")
def _note_changes(session: Session, _context, _instances) -> None:
    for obj in session.new:
        if isinstance(obj, Child):
            _note(session, obj, created=True)
        elif isinstance(obj, (ChildName, ChildIdentifier)):
            _note(session, obj.child if obj.child is not None else obj.child_id)
    for obj in session.dirty:
        if isinstance(obj, Child):
            state = inspect(obj)
            if any(state.attrs[col].history.has_changes() for col in _IDENTITY_COLUMNS):
                _note(session, obj)
        elif isinstance(obj, (ChildName, ChildIdentifier)):
            _note(session, obj.child_id)
    for obj in session.deleted:
        if isinstance(obj, (ChildName, ChildIdentifier)):
            _note(session, obj.child_id)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_CHANGED, None)
    session.info.pop(_CREATED, None)


@event.listens_for(Session, "before_commit")
def _sync_before_commit(session: Session) -> None:
    sync(session)


def mark_changed(session: Session, child_ids: Iterable[int]) -> None:
    """Note children changed outside the ORM (core UPDATEs), to be re-keyed by :func:`sync`."""
    for cid in child_ids:
        _note(session, cid)


def sync(session: Session) -> None:
    """Re-key every child noted as changed in this session, and count created children's names."""
    if not session.info.get(_CHANGED):
        return
    session.flush()
    changed = session.info.pop(_CHANGED, set())
    created = session.info.pop(_CREATED, set())
    ids = {t.id if isinstance(t, Child) else t for t in changed}
    ids.discard(None)
    reindex(session, ids)
    new = [c for c in created if isinstance(c, Child)]
    count_names(session, [(c.given_names, c.family_name) for c in new])
