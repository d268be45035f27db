"""The durable outbox: accepted events wait here until the directory has applied them.

Guarantees (tests/adapter/test_outbox.py and tests/faults/ hold them):

* :meth:`Outbox.accept` commits every event of a message in one transaction
  before the local system is acknowledged; the same message (same system and
  message id) accepted twice is stored once. On SQLite the outbox commits with
  ``synchronous=FULL`` so an acknowledged message survives a power cut too.
* Delivery is at least once; event ids are deterministic and the directory is
  idempotent on them, so the effect is exactly once.
* Per child (``child_key``), rows are handed out in the order the local system
  produced them (``occurred_at``, then acceptance order), one at a time: a row
  is claimable only when no earlier row of its child is pending and no other
  row of its child is leased. A close that arrives before its open waits behind
  the open once the open arrives.
* A claim is a lease (``claimed_until``) under a token. A worker renews the
  lease before each call (:meth:`Outbox.renew`, which re-checks the order), and
  its outcome is written only while its token still holds the row, so a worker
  that stalled past its lease cannot overwrite the outcome of the worker that
  took over. A worker that dies loses its lease and the row is delivered again.
* Claims are serialised: on PostgreSQL by a transaction-scoped advisory lock
  around ``SELECT ... FOR UPDATE SKIP LOCKED``, on SQLite by the database's
  single writer (each row is taken by one guarded ``UPDATE``). So several
  processes may share one outbox without two of them ever holding two events
  of the same child.
* Dead letters keep their reason, block nothing, and can be replayed or discarded.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import (
    and_,
    bindparam,
    delete,
    event,
    exists,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, sessionmaker

from ..contract import EVENT_OPERATIONS
from ..db import is_postgres, make_engine, migrate
from ..faults import Fault
from ..model import EventBase, WriteResult
from .tables import Message, OutboxEvent

MIGRATIONS = Path(__file__).parent / "migrations"
#: How a stored outcome of an event held for identity review reads (JSON text).
HELD_PATTERN = '%"queued_for_review"%'
STATUSES = ("pending", "delivered", "dead", "discarded")
#: Key of the PostgreSQL advisory lock that serialises claims (any constant bigint).
CLAIM_LOCK_KEY = 0x63706272_6964  # "cpbrid"
MAX_MESSAGE_ID = 80


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(dt: datetime) -> datetime:
    """Aware UTC (naive values are taken as UTC): the one form the outbox stores and compares."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


_ID_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9/_.:#\-]*")


def storable_message_id(message_id: str) -> str:
    """The local message id as it is when it looks like an id; otherwise (too long, or with spaces
    or other characters free text would have) a stable digest of it, so nothing else is stored."""
    if len(message_id) <= MAX_MESSAGE_ID and _ID_SHAPE.fullmatch(message_id):
        return message_id
    return "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Accepted:
    """What the local system is told: its tracking id, and whether it was a resend."""

    tracking_id: str
    message_type: str
    event_count: int
    duplicate: bool


@dataclass(frozen=True)
class Claimed:
    """A row leased to one worker for delivery (``lease_token`` proves the lease)."""

    id: int
    event_id: str
    tracking_id: str
    system_id: str
    operation: str
    event_type: str
    payload: dict
    attempts: int
    created_at: datetime
    lease_token: str | None = None
    child_key: str = ""
    #: When the lease ends, by this process's clock.
    leased_until: datetime | None = None


@dataclass(frozen=True)
class DeadLetterGroup:
    """Dead letters that share a system and a reason code."""

    system_id: str
    error_code: str | None
    count: int
    oldest: datetime
    example_id: int


class Outbox:
    """The outbox on SQLite (embedded) or PostgreSQL (several adapter processes)."""

    def __init__(self, url: str, *, lease_seconds: float = 60.0, run_migrations: bool = True):
        self.engine = make_engine(url)
        self.postgres = is_postgres(self.engine)
        if not self.postgres:
            event.listen(self.engine, "connect", _sqlite_full_sync)
        if run_migrations:
            migrate(self.engine, MIGRATIONS, "alembic_version_adapter")
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.lease = timedelta(seconds=lease_seconds)
        self._build_statements()

    # --- intake -------------------------------------------------------------------

    def accept(self, system_id: str, message_id: str, message_type: str, events: list[EventBase]) -> Accepted:
        """Store a message's events durably; return the tracking id to acknowledge with."""
        message_id = storable_message_id(message_id)
        for i, ev in enumerate(events):
            if len(ev.event_id) > 40:
                raise Fault("InvalidRequest", f"event {i}: its id is longer than 40 characters", field="eventId")
        with self.sessions() as s:
            existing = s.scalars(
                select(Message).where(Message.system_id == system_id, Message.message_id == message_id)
            ).first()
            if existing:
                return Accepted(existing.tracking_id, existing.message_type, existing.event_count, True)
            now = utcnow()
            tracking_id = str(uuid.uuid4())
            s.add(
                Message(
                    tracking_id=tracking_id,
                    system_id=system_id,
                    message_id=message_id,
                    message_type=message_type[:60],
                    received_at=now,
                    event_count=len(events),
                )
            )
            s.flush()
            for ev in events:
                s.add(
                    OutboxEvent(
                        tracking_id=tracking_id,
                        event_id=ev.event_id,
                        system_id=system_id,
                        child_key=ev.child_key[:200],
                        event_type=ev.type,  # type: ignore[attr-defined]
                        operation=EVENT_OPERATIONS[ev.type],  # type: ignore[attr-defined]
                        payload=json.dumps(ev.wire(), separators=(",", ":")),
                        status="pending",
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                        occurred_at=as_utc(ev.occurred_at),
                    )
                )
            try:
                s.commit()
            except IntegrityError:
                # A concurrent accept of the same message won the race: answer as a resend.
                s.rollback()
                existing = s.scalars(
                    select(Message).where(Message.system_id == system_id, Message.message_id == message_id)
                ).first()
                if existing is None:  # an event id collided with another message's
                    raise Fault("InvalidRequest", "an event id of this message was already used by another message", field="eventId") from None
                return Accepted(existing.tracking_id, existing.message_type, existing.event_count, True)
            return Accepted(tracking_id, message_type, len(events), False)

    # --- delivery -----------------------------------------------------------------

    def _in_order(self):
        """SQL condition: the row is its child's next event and no sibling is leased (at ``:now``)."""
        other = aliased(OutboxEvent)
        earlier_pending = exists().where(
            other.child_key == OutboxEvent.child_key,
            other.status == "pending",
            other.id != OutboxEvent.id,
            or_(
                other.occurred_at < OutboxEvent.occurred_at,
                and_(other.occurred_at == OutboxEvent.occurred_at, other.id < OutboxEvent.id),
            ),
        )
        leased = aliased(OutboxEvent)
        sibling_leased = exists().where(
            leased.child_key == OutboxEvent.child_key,
            leased.status == "pending",
            leased.id != OutboxEvent.id,
            leased.claimed_until >= bindparam("now"),
        )
        return and_(~earlier_pending, ~sibling_leased)

    def _claimable(self):
        """SQL condition: the row may be leased at ``:now``."""
        now = bindparam("now")
        return and_(
            OutboxEvent.status == "pending",
            OutboxEvent.next_attempt_at <= now,
            or_(OutboxEvent.claimed_until.is_(None), OutboxEvent.claimed_until < now),
            self._in_order(),
        )

    def _build_statements(self) -> None:
        """The delivery statements, built once (SQLAlchemy then caches their compiled SQL)."""
        candidates = select(OutboxEvent.id).where(self._claimable()).order_by(OutboxEvent.id).limit(bindparam("limit"))
        if self.postgres:
            candidates = candidates.with_for_update(skip_locked=True, of=OutboxEvent)
        self._candidates = candidates
        self._take = (
            update(OutboxEvent)
            .where(OutboxEvent.id == bindparam("row_id"), self._claimable())
            .values(claimed_until=bindparam("until"), lease_token=bindparam("token"))
            .execution_options(synchronize_session=False)
        )
        self._renew = (
            update(OutboxEvent)
            .where(
                OutboxEvent.id == bindparam("row_id"),
                OutboxEvent.status == "pending",
                OutboxEvent.lease_token == bindparam("token"),
                self._in_order(),
            )
            .values(claimed_until=bindparam("until"))
            .execution_options(synchronize_session=False)
        )

    def _lock_claims(self, s) -> None:
        if self.postgres:
            s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CLAIM_LOCK_KEY})

    def claim(self, limit: int = 20, *, now: datetime | None = None) -> list[Claimed]:
        """Lease up to ``limit`` due rows, oldest first, at most one per child."""
        now = now or utcnow()
        token = uuid.uuid4().hex
        with self.sessions() as s:
            self._lock_claims(s)
            ids = list(s.scalars(self._candidates, {"now": now, "limit": limit}).all())
            if not self.postgres:
                s.commit()  # end the read snapshot: each UPDATE below re-checks under the write lock
            won: list[int] = []
            for row_id in ids:
                n = s.execute(self._take, {"row_id": row_id, "now": now, "until": now + self.lease, "token": token}).rowcount
                if n:
                    won.append(row_id)
            s.commit()
            if not won:
                return []
            rows = s.scalars(select(OutboxEvent).where(OutboxEvent.id.in_(won)).order_by(OutboxEvent.id)).all()
        return [
            Claimed(
                r.id,
                r.event_id,
                r.tracking_id,
                r.system_id,
                r.operation,
                r.event_type,
                json.loads(r.payload),
                r.attempts,
                r.created_at,
                token,
                r.child_key,
                now + self.lease,
            )
            for r in rows
            if r.lease_token == token
        ]

    def renew(self, row: Claimed, *, now: datetime | None = None) -> bool:
        """Extend the lease before a call; False (and the lease given up) if the row is no longer ours to send.

        The order is re-checked: an earlier event of the child that arrived
        since the claim, or a sibling leased by a worker that took over after
        this lease expired, means this row must not be sent now.
        """
        now = now or utcnow()
        with self.sessions() as s:
            self._lock_claims(s)
            n = s.execute(self._renew, {"row_id": row.id, "token": row.lease_token, "now": now, "until": now + self.lease}).rowcount
            if not n:
                s.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.id == row.id, OutboxEvent.lease_token == row.lease_token)
                    .values(claimed_until=None, lease_token=None)
                    .execution_options(synchronize_session=False)
                )
            s.commit()
        return bool(n)

    def _finish(self, row: Claimed | int, token: str | None, **values) -> bool:
        """Write an outcome; with a token, only while that lease still holds the row."""
        row_id = row.id if isinstance(row, Claimed) else row
        token = row.lease_token if isinstance(row, Claimed) and token is None else token
        stmt = update(OutboxEvent).where(OutboxEvent.id == row_id, OutboxEvent.status == "pending")
        if token is not None:
            stmt = stmt.where(OutboxEvent.lease_token == token)
        with self.sessions() as s:
            n = s.execute(stmt.values(claimed_until=None, lease_token=None, **values)).rowcount
            s.commit()
        return bool(n)

    def delivered(self, row: Claimed | int, result: WriteResult, *, token: str | None = None) -> bool:
        """The directory applied the event (or had already): the row is done."""
        return self._finish(
            row,
            token,
            status="delivered",
            delivered_at=utcnow(),
            attempts=OutboxEvent.attempts + 1,
            outcome=json.dumps(result.wire()),
            last_error=None,
            error_code=None,
        )

    def awaiting_review(self, limit: int = 50, *, after_id: int = 0) -> list[tuple[int, str, str, dict]]:
        """Delivered rows the directory is holding for identity review, by id after ``after_id``:
        (id, operation, system, payload)."""
        with self.sessions() as s:
            rows = s.execute(
                select(OutboxEvent.id, OutboxEvent.operation, OutboxEvent.system_id, OutboxEvent.payload, OutboxEvent.outcome)
                .where(OutboxEvent.status == "delivered", OutboxEvent.outcome.like(HELD_PATTERN), OutboxEvent.id > after_id)
                .order_by(OutboxEvent.id)
                .limit(limit)
            ).all()
        return [(i, op, system, json.loads(payload)) for i, op, system, payload, outcome in rows
                if json.loads(outcome or "{}").get("outcome") == "queued_for_review"]  # fmt: skip

    def review_settled(self, row_id: int, result: WriteResult) -> bool:
        """Record the outcome a held event got once the management team decided (final or still held)."""
        with self.sessions() as s:
            n = s.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id == row_id, OutboxEvent.status == "delivered")
                .values(outcome=json.dumps(result.wire()))
                .execution_options(synchronize_session=False)
            ).rowcount
            s.commit()
        return bool(n)

    def retry_later(self, row: Claimed | int, code: str, error: str, delay_seconds: float, *, token: str | None = None) -> bool:
        """One attempt failed in a way a later one may not: try again after ``delay_seconds``."""
        return self._finish(
            row,
            token,
            attempts=OutboxEvent.attempts + 1,
            next_attempt_at=utcnow() + timedelta(seconds=delay_seconds),
            error_code=code,
            last_error=error[:500],
        )

    def release(self, row: Claimed | int, delay_seconds: float = 0.0, *, token: str | None = None) -> bool:
        """Give a claimed row back untried (no attempt counted), due after ``delay_seconds``."""
        return self._finish(row, token, next_attempt_at=utcnow() + timedelta(seconds=delay_seconds))

    def park(self, row: Claimed | int, code: str, error: str, *, token: str | None = None) -> bool:
        """Make the row a dead letter: kept with its reason, blocking nothing."""
        return self._finish(
            row, token, status="dead", attempts=OutboxEvent.attempts + 1, error_code=code, last_error=error[:500]
        )

    # --- operators ----------------------------------------------------------------

    def replay(self, row_ids: Iterable[int] | None = None, *, code: str | None = None, system_id: str | None = None) -> int:
        """Put dead letters back in the queue: those listed, or all (optionally of one reason code or system)."""
        stmt = update(OutboxEvent).where(OutboxEvent.status == "dead")
        if row_ids is not None:
            stmt = stmt.where(OutboxEvent.id.in_(list(row_ids)))
        if code is not None:
            stmt = stmt.where(OutboxEvent.error_code == code)
        if system_id is not None:
            stmt = stmt.where(OutboxEvent.system_id == system_id)
        with self.sessions() as s:
            n = s.execute(
                stmt.values(status="pending", attempts=0, next_attempt_at=utcnow(), claimed_until=None, lease_token=None)
            ).rowcount
            s.commit()
        return n

    def discard(self, row_ids: Iterable[int]) -> int:
        """An operator decides a dead letter will never be delivered (its payload is erased)."""
        with self.sessions() as s:
            n = s.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_(list(row_ids)), OutboxEvent.status == "dead")
                .values(status="discarded", payload="{}", delivered_at=utcnow())
            ).rowcount
            s.commit()
        return n

    def prune(self, older_than: timedelta) -> int:
        """Delete delivered and discarded rows (and messages left with no rows) older than ``older_than``.

        Rows the directory still holds for identity review are kept: the local system has
        not heard their final outcome yet (see :class:`~cpbridge.adapter.housekeeping.ReviewFollowUp`).
        """
        cutoff = utcnow() - older_than
        with self.sessions() as s:
            done = OutboxEvent.status.in_(("delivered", "discarded"))
            held = OutboxEvent.outcome.like(HELD_PATTERN)
            n = s.execute(
                delete(OutboxEvent).where(
                    done,
                    or_(OutboxEvent.outcome.is_(None), ~held),
                    or_(
                        OutboxEvent.delivered_at < cutoff,
                        and_(OutboxEvent.delivered_at.is_(None), OutboxEvent.created_at < cutoff),
                    ),
                )
            ).rowcount
            has_rows = exists().where(OutboxEvent.tracking_id == Message.tracking_id)
            s.execute(delete(Message).where(Message.received_at < cutoff, ~has_rows))
            s.commit()
        return n

    def rows(
        self, status: str | None = None, *, limit: int = 100, system_id: str | None = None, code: str | None = None
    ) -> list[OutboxEvent]:
        stmt = select(OutboxEvent).order_by(OutboxEvent.id).limit(limit)
        if status:
            stmt = stmt.where(OutboxEvent.status == status)
        if system_id:
            stmt = stmt.where(OutboxEvent.system_id == system_id)
        if code:
            stmt = stmt.where(OutboxEvent.error_code == code)
        with self.sessions() as s:
            return list(s.scalars(stmt).all())

    def row(self, row_id: int) -> OutboxEvent | None:
        with self.sessions() as s:
            return s.get(OutboxEvent, row_id)

    def dead_letters(self) -> list[DeadLetterGroup]:
        """Dead letters grouped by system and reason code, most numerous first."""
        stmt = (
            select(
                OutboxEvent.system_id,
                OutboxEvent.error_code,
                func.count(),
                func.min(OutboxEvent.created_at),
                func.min(OutboxEvent.id),
            )
            .where(OutboxEvent.status == "dead")
            .group_by(OutboxEvent.system_id, OutboxEvent.error_code)
        )
        with self.sessions() as s:
            got = [DeadLetterGroup(*r) for r in s.execute(stmt).all()]
        return sorted(got, key=lambda g: (-g.count, g.system_id, g.error_code or ""))

    def counts(self) -> dict[str, int]:
        with self.sessions() as s:
            got = dict(s.execute(select(OutboxEvent.status, func.count()).group_by(OutboxEvent.status)).all())
        return {st: got.get(st, 0) for st in STATUSES}

    def counts_by_system(self) -> dict[tuple[str, str], int]:
        """Row counts keyed by (system, status)."""
        stmt = select(OutboxEvent.system_id, OutboxEvent.status, func.count()).group_by(
            OutboxEvent.system_id, OutboxEvent.status
        )
        with self.sessions() as s:
            return {(sys_, st): n for sys_, st, n in s.execute(stmt).all()}

    def oldest_pending(self) -> datetime | None:
        with self.sessions() as s:
            got = s.scalar(select(func.min(OutboxEvent.created_at)).where(OutboxEvent.status == "pending"))
        return as_utc(got) if got is not None else None

    def oldest_pending_by_system(self) -> dict[str, datetime]:
        stmt = (
            select(OutboxEvent.system_id, func.min(OutboxEvent.created_at))
            .where(OutboxEvent.status == "pending")
            .group_by(OutboxEvent.system_id)
        )
        with self.sessions() as s:
            return {sys_: as_utc(t) for sys_, t in s.execute(stmt).all()}

    def status(self, tracking_id: str, *, system_id: str | None = None) -> dict | None:
        """The outcome of one message, as a local system asks for it (``None`` if unknown, or if
        ``system_id`` is given and the message came from another system)."""
        try:
            uuid.UUID(tracking_id)
        except ValueError:
            return None
        with self.sessions() as s:
            msg = s.get(Message, tracking_id)
            if msg is not None and system_id is not None and msg.system_id != system_id:
                return None
            if msg is None:
                return None
            rows = s.scalars(
                select(OutboxEvent).where(OutboxEvent.tracking_id == tracking_id).order_by(OutboxEvent.id)
            ).all()
        events = []
        for r in rows:
            outcome = json.loads(r.outcome) if r.outcome else {}
            events.append(
                {
                    "eventId": r.event_id,
                    "type": r.event_type,
                    "status": r.status,
                    "outcome": outcome.get("outcome"),
                    "matchOutcome": outcome.get("matchOutcome"),
                    "reasonCode": outcome.get("reasonCode") or r.error_code,
                    "directoryId": outcome.get("directoryId"),
                }
            )
        statuses = {e["status"] for e in events}
        if "dead" in statuses:
            overall = "failed"
        elif statuses <= {"delivered", "discarded"}:
            overall = "delivered"
        else:
            overall = "accepted"
        return {"trackingId": tracking_id, "status": overall, "messageType": msg.message_type, "events": events}

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_full_sync(dbapi_conn, _record) -> None:
    """The outbox acknowledges only what is on disk: fsync the WAL at every commit."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()
