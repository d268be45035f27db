"""The audit trail: every read and write of a child's record, append-only and hash-chained.

Writing. Service functions queue entries with :func:`record` (or are wrapped by
:func:`audited`); the queue is written by :func:`flush`, which runs automatically
just before the session commits, in the same transaction as the access itself — an
access that is not audited does not happen, and an audit row for a change that was
rolled back is never written. A refusal (a Fault) rolls the transaction back, so
callers audit it afterwards in a transaction of its own with :func:`record_refusal`.

The chain. Each row holds ``prev_hash`` (the previous row's ``row_hash``) and
``row_hash = SHA-256(prev_hash + canonical JSON of the row's other columns)``; row
numbers (``seq``) run 1, 2, 3 ... without gaps. One writer at a time: :func:`flush`
first updates the single ``audit_head`` row, which takes SQLite's write lock or a
PostgreSQL row lock held until commit, then reads the head, chains its rows on and
moves the head. :func:`verify` walks the chain and names every edited, deleted or
inserted row. An :class:`Anchor` (the head's seq and hash) kept outside the
database makes truncation of the tail detectable as well.

Never message content or case data: the audit holds who, for whom, from where,
which record (directory ID and internal id), the *names* of fields read or
written, the reason code, the outcome and the time.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from cpbridge.codes import ActorRole, ReasonCode
from cpbridge.faults import Fault
from cpbridge.model import Actor, ChildRecord, LookupResult, WriteResult

from .audit_tables import GENESIS_HASH, AuditHead, AuditRow
from .auth import Caller
from .tables import Child, utcnow

log = logging.getLogger("cpbridge.directory.audit")

#: session.info key of the entries waiting for the commit
_PENDING = "cpbridge.audit.pending"
#: session.info key of {savepoint transaction: len(pending) when it began}
_MARKS = "cpbridge.audit.savepoint_marks"

#: Operations that disclose a record (the review looks at these).
READ_OPERATIONS = frozenset({"SearchChildren", "ReadChild", "SubjectAccess"})
#: The operation part A's shield override is audited under (also seen as outcome ``override``).
SHIELD_OVERRIDE = "ShieldOverride"

#: The columns that make up a row's canonical content, in a fixed order (row_hash excluded).
CONTENT_COLUMNS = (
    "seq", "at", "account", "user_id", "user_name", "user_role", "organisation", "organisation_code",
    "user_la", "operation", "child_id", "directory_id", "child_la", "fields", "reason",
    "source_address", "outcome", "event_id", "detail", "prev_hash",
)  # fmt: skip

#: The principal of the directory's own scheduled work (lifecycle sweep, extract).
SYSTEM_CALLER = Caller(
    account="cpbridge",
    organisation="cpbridge directory",
    actor=Actor(user_id="cpbridge-system", organisation="cpbridge directory", role=ActorRole.system),
    reason=ReasonCode.record_update,
)


# --- writing ---------------------------------------------------------------------------


def record(
    session: Session,
    caller: Caller,
    operation: str,
    *,
    outcome: str,
    child: Child | None = None,
    directory_id: str | None = None,
    child_id: int | None = None,
    child_la: str | None = None,
    fields: Iterable[str] = (),
    event_id: str | None = None,
    detail: str | None = None,
    reason: str | None = None,
    at: datetime | None = None,
) -> None:
    """Queue one audit row for the commit of ``session`` (written by :func:`flush`).

    ``child`` fills the record's ids and area; ``fields`` are names, never values;
    ``at`` (naive UTC) defaults to now.
    """
    if child is not None:
        directory_id, child_id, child_la = child.directory_id, child.id, child.responsible_la
    actor = caller.actor
    entry = {
        "at": at or utcnow(),
        "account": _cut(caller.account, 100),
        "user_id": actor.user_id,
        "user_name": actor.name,
        "user_role": actor.role.value,
        "organisation": actor.organisation,
        "organisation_code": actor.organisation_code,
        "user_la": getattr(caller, "local_authority", None) or None,
        "operation": operation,
        "child_id": child_id,
        "directory_id": directory_id,
        "child_la": child_la,
        "fields": _cut(",".join(fields), 300) or None,
        "reason": reason or caller.reason.value,
        "source_address": getattr(caller, "source_address", None),
        "outcome": _cut(outcome, 60),
        "event_id": event_id,
        "detail": _cut(detail, 200) if detail else None,
    }
    session.info.setdefault(_PENDING, []).append(entry)


def flush(session: Session) -> int:
    """Write the queued rows onto the chain (in the session's transaction); their count.

    Runs by itself before every commit; call it directly only to see the rows before committing.
    """
    pending: list[dict[str, Any]] = session.info.pop(_PENDING, None) or []
    if not pending:
        return 0
    head = AuditHead.__table__
    # Take the writers' lock first: SQLite's write lock, or PostgreSQL's lock on the head row.
    locked = session.execute(head.update().where(head.c.id == 1).values(updated_at=utcnow()))
    if locked.rowcount != 1:
        raise RuntimeError("audit_head has no row 1: the directory's audit migration has not run")
    seq, prev = session.execute(select(head.c.seq, head.c.row_hash).where(head.c.id == 1)).one()
    rows = []
    for entry in pending:
        seq += 1
        row = dict(entry, seq=seq, prev_hash=prev)
        row["row_hash"] = prev = row_hash(row)
        rows.append(row)
    session.execute(AuditRow.__table__.insert(), rows)
    session.execute(head.update().where(head.c.id == 1).values(seq=seq, row_hash=prev))
    return len(rows)


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    # before_commit also fires when a savepoint is released: the rows wait for the real commit,
    # so that rolling back an enclosing savepoint cannot take rows queued before it with it.
    if not session.in_nested_transaction():
        flush(session)


@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction) -> None:
    """Remember how many rows were queued when a savepoint began."""
    if transaction.nested:
        session.info.setdefault(_MARKS, {})[transaction] = len(session.info.get(_PENDING) or ())


@event.listens_for(Session, "after_transaction_end")
def _forget_savepoint(session: Session, transaction) -> None:
    if transaction.nested:
        session.info.get(_MARKS, {}).pop(transaction, None)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    """Drop the rows of what was rolled back: a savepoint's own rows, or all of a transaction's.

    Fires while the savepoint being rolled back is still the session's nested transaction;
    with none, the whole transaction was rolled back.
    """
    savepoint = session.get_nested_transaction()
    if savepoint is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_MARKS, None)
        return
    pending = session.info.get(_PENDING)
    if pending:
        del pending[session.info.get(_MARKS, {}).get(savepoint, 0) :]


def record_shield_override(session: Session, caller: Caller, child: Child, override_reason: str) -> None:
    """Audit that ``caller`` overrode ``child``'s shield, stating ``override_reason`` (called by records.py)."""
    record(
        session, caller, SHIELD_OVERRIDE,
        outcome="override", child=child, fields=["overrideReason"], detail=f"override_reason={override_reason}",
    )  # fmt: skip


def record_refusal(
    sessions: sessionmaker[Session], caller: Caller, operation: str, fault: Fault, request: BaseModel | None = None
) -> None:
    """Audit a refused request in a transaction of its own (the refused one was rolled back).

    Never raises: a failure is logged (without personal data) and the refusal stands.
    """
    try:
        with sessions.begin() as session:
            record(
                session,
                caller,
                operation,
                outcome=f"refused:{fault.code}",
                directory_id=_target_directory_id(request),
                fields=_request_fields(request),
                event_id=getattr(request, "event_id", None),
                detail=f"field={fault.field}" if fault.field else None,
            )
    except Exception as exc:  # noqa: BLE001 - auditing a refusal must not turn it into a crash
        log.error("could not audit a refused %s: %s", operation, type(exc).__name__)


def audited(operation: str) -> Callable:
    """Decorate a service function ``(session, caller, request) -> result`` so its result is audited.

    A WriteResult gives one row (outcome applied/duplicate/stale); a LookupResult one
    row per record returned (``no_match`` when none); a ChildRecord one row. The view a
    record was disclosed in is the outcome (see :func:`view_of`).
    """

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def inner(session: Session, caller: Caller, request: BaseModel, *args, **kwargs):
            result = fn(session, caller, request, *args, **kwargs)
            audit_result(session, caller, operation, request, result)
            return result

        return inner

    return wrap


def audit_result(session: Session, caller: Caller, operation: str, request: BaseModel, result: BaseModel) -> None:
    """Queue the audit rows for one answered request (see :func:`audited`)."""
    fields = _request_fields(request)
    if isinstance(result, WriteResult):
        ids = _children(session, [result.directory_id] if result.directory_id else [])
        child_id, child_la = ids.get(result.directory_id or "", (None, None))
        record(
            session, caller, operation,
            outcome=result.outcome.value, directory_id=result.directory_id, child_id=child_id, child_la=child_la,
            fields=fields, event_id=result.event_id,
            detail=f"source={getattr(request, 'source_system', '')} match={result.match_outcome.value}",
        )  # fmt: skip
        return
    records = result.records if isinstance(result, LookupResult) else [result] if isinstance(result, ChildRecord) else []
    if not records:
        record(session, caller, operation, outcome="no_match", fields=fields)
        return
    ids = _children(session, [r.directory_id for r in records])
    for rec in records:
        child_id, child_la = ids.get(rec.directory_id, (None, None))
        record(
            session, caller, operation,
            outcome=view_of(rec), directory_id=rec.directory_id, child_id=child_id, child_la=child_la, fields=fields,
            detail=f"results={len(records)}" if isinstance(result, LookupResult) else None,
        )  # fmt: skip


def view_of(rec: ChildRecord) -> str:
    """How a record was disclosed: ``override`` (a shield overridden), ``behind_shield`` (a shielded
    record in full, to the shielding authority's management team), ``shielded`` (its four visible
    fields only) or ``full``."""
    if getattr(rec, "override_reason", None):
        return "override"
    if rec.shielded:
        return "behind_shield" if rec.address or rec.carers or rec.settings or rec.involvements else "shielded"
    return "full"


# --- the chain -------------------------------------------------------------------------


def canonical(row: dict[str, Any]) -> str:
    """A row's content as canonical JSON: fixed keys, sorted, dates in ISO form."""
    content = {name: _plain(row.get(name)) for name in CONTENT_COLUMNS}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def row_hash(row: dict[str, Any]) -> str:
    """SHA-256 hex of the row's ``prev_hash`` followed by its canonical content."""
    return hashlib.sha256((row["prev_hash"] + canonical(row)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Anchor:
    """The head of the chain at one moment, to keep outside the database."""

    seq: int
    row_hash: str
    at: datetime

    def line(self) -> str:
        return f"cpbridge-audit-anchor seq={self.seq} hash={self.row_hash} at={self.at.isoformat(timespec='seconds')}Z"

    @classmethod
    def parse(cls, line: str) -> Anchor:
        m = re.fullmatch(r"cpbridge-audit-anchor seq=(\d+) hash=([0-9a-f]{64}) at=(\S+?)Z?", line.strip())
        if not m:
            raise ValueError(f"not an audit anchor line: {line.strip()[:80]!r}")
        return cls(int(m[1]), m[2], datetime.fromisoformat(m[3]))


def anchor(session: Session) -> Anchor:
    """The chain's head now (print it, mail it, or append it to a write-once store)."""
    seq, h = session.execute(select(AuditHead.seq, AuditHead.row_hash).where(AuditHead.id == 1)).one()
    return Anchor(seq, h, utcnow())


@dataclass(frozen=True)
class ChainProblem:
    """One thing wrong with the chain. ``kind``: edited, deleted, inserted, relinked, head, anchor."""

    seq: int
    kind: str
    message: str


@dataclass
class VerifyReport:
    rows: int = 0
    last_seq: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    problems: list[ChainProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session, anchors: Sequence[Anchor] = ()) -> VerifyReport:
    """Walk the whole chain in order and report every row that was edited, deleted or inserted.

    * edited — the row's content no longer gives its ``row_hash``;
    * deleted — a gap in ``seq`` (and the next row's ``prev_hash`` names a row that is gone);
    * relinked — a row's ``prev_hash`` is not its predecessor's hash (a row rewritten with a
      fresh hash, or one slipped in);
    * inserted — a row outside 1..head (e.g. appended with SQL, bypassing the writer's head);
    * head — the head names a row that is missing, or a different hash;
    * anchor — a row an anchor recorded is gone or changed (the tail was truncated or rewritten).
    """
    report = VerifyReport()
    report.head_seq, report.head_hash = session.execute(
        select(AuditHead.seq, AuditHead.row_hash).where(AuditHead.id == 1)
    ).one()
    wanted = {a.seq: a for a in anchors}
    seen_anchor: set[int] = set()
    problems = report.problems
    expected, prev_hash, prev_seq = 1, GENESIS_HASH, 0
    cols = [getattr(AuditRow, c) for c in CONTENT_COLUMNS] + [AuditRow.row_hash]
    for r in session.execute(select(*cols).order_by(AuditRow.seq).execution_options(yield_per=2000)):
        row = r._asdict()
        seq = row["seq"]
        report.rows += 1
        if seq < 1:
            problems.append(ChainProblem(seq, "inserted", f"row {seq} is outside the chain (rows start at 1)"))
            continue
        if seq > expected:
            gap = f"row {expected}" if seq == expected + 1 else f"rows {expected}-{seq - 1}"
            problems.append(ChainProblem(expected, "deleted", f"{gap} deleted (the chain jumps from {prev_seq} to {seq})"))
        if row_hash(row) != row["row_hash"]:
            problems.append(ChainProblem(seq, "edited", f"row {seq} was edited or forged: its content does not give its hash"))
        elif row["prev_hash"] != prev_hash and seq == expected:
            problems.append(
                ChainProblem(seq, "relinked", f"row {seq} does not follow row {prev_seq}: one of them was rewritten or inserted")
            )
        if seq > report.head_seq:
            problems.append(ChainProblem(seq, "inserted", f"row {seq} is beyond the head ({report.head_seq}): added outside the audit writer"))
        if seq in wanted:
            seen_anchor.add(seq)
            if row["row_hash"] != wanted[seq].row_hash:
                problems.append(ChainProblem(seq, "anchor", f"row {seq} differs from the anchor of {wanted[seq].at:%Y-%m-%d %H:%M}"))
        prev_hash, prev_seq, expected = row["row_hash"], seq, seq + 1
    report.last_seq = prev_seq
    if report.head_seq > prev_seq:
        problems.append(
            ChainProblem(prev_seq + 1, "deleted", f"rows {prev_seq + 1}-{report.head_seq} deleted from the end (the head is {report.head_seq})")
        )
    elif report.head_seq == prev_seq and report.head_hash != prev_hash:
        problems.append(ChainProblem(prev_seq, "head", f"the head's hash does not match row {prev_seq}"))
    for seq, a in sorted(wanted.items()):
        if seq not in seen_anchor and seq > 0:
            problems.append(
                ChainProblem(seq, "anchor", f"row {seq}, anchored on {a.at:%Y-%m-%d %H:%M}, is gone: the log was truncated or rewritten")
            )
    return report


# --- helpers ---------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _cut(text: str | None, limit: int) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _children(session: Session, directory_ids: list[str]) -> dict[str, tuple[int, str | None]]:
    if not directory_ids:
        return {}
    rows = session.execute(
        select(Child.directory_id, Child.id, Child.responsible_la).where(Child.directory_id.in_(set(directory_ids)))
    )
    return {d: (i, la) for d, i, la in rows}


#: request fields that are about the message, not the record
_META = {"eventId", "sourceSystem", "occurredAt", "type", "actor", "reason"}


def _request_fields(request: BaseModel | None) -> list[str]:
    """The names (wire form, one level deep) of the fields a request carried — never their values."""
    if request is None:
        return []
    wire = request.model_dump(mode="json", by_alias=True, exclude_none=True)
    names: list[str] = []
    for key, value in wire.items():
        if key in _META or value in (None, [], {}, False):
            continue
        if isinstance(value, dict) and value:
            names.extend(f"{key}.{sub}" for sub in value if value[sub] not in (None, [], False))
        elif isinstance(value, list) and value and isinstance(value[0], dict) and "scheme" in value[0]:
            names.extend(f"{key}.{v['scheme']}" for v in value)
        else:
            names.append(key)
    return names


def _target_directory_id(request: BaseModel | None) -> str | None:
    """The directory ID a (refused) request named, if it named one."""
    if request is None:
        return None
    if getattr(request, "directory_id", None):
        return request.directory_id  # type: ignore[attr-defined]
    child = getattr(request, "child", None)
    for ident in getattr(child, "identifiers", None) or []:
        if ident.scheme.value == "directory_id":
            return ident.value
    return None
