"""The durable outbox: accepted events wait here until the directory has applied them.

Guarantees (tests/adapter/test_outbox.py and tests/faults/ hold them):

* :meth:`Outbox.accept` commits every event of a message in one transaction
  before the local system is acknowledged; the same message (same system and
  message id) accepted twice is stored once.
* Delivery is at least once; event ids are deterministic and the directory is
  idempotent on them, so the effect is exactly once.
* Per child, rows are handed out in the order they were accepted: a row is
  claimable only when no earlier row of the same ``child_key`` is pending.
* A claim is a lease (``claimed_until``): a worker that dies mid-delivery
  loses its lease and another worker (or its restart) delivers the row.
* Dead letters keep their reason, block nothing, and can be replayed.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

from ..contract import EVENT_OPERATIONS
from ..db import is_postgres, make_engine, migrate
from ..model import EventBase, WriteResult
from .tables import Message, OutboxEvent

MIGRATIONS = Path(__file__).parent / "migrations"
STATUSES = ("pending", "delivered", "dead", "discarded")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Accepted:
    """What the local system is told: its tracking id, and whether it was a resend."""

    tracking_id: str
    message_type: str
    event_count: int
    duplicate: bool


@dataclass(frozen=True)
class Claimed:
    """A row leased to one worker for delivery."""

    id: int
    event_id: str
    tracking_id: str
    system_id: str
    operation: str
    event_type: str
    payload: dict
    attempts: int
    created_at: datetime


class Outbox:
    """The outbox on SQLite (embedded) or PostgreSQL (several adapter processes)."""

    def __init__(self, url: str, *, lease_seconds: float = 60.0, run_migrations: bool = True):
        self.engine = make_engine(url)
        if run_migrations:
            migrate(self.engine, MIGRATIONS, "alembic_version_adapter")
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.lease = timedelta(seconds=lease_seconds)
        self.postgres = is_postgres(self.engine)

    # --- intake -------------------------------------------------------------------

    def accept(self, system_id: str, message_id: str, message_type: str, events: list[EventBase]) -> Accepted:
        """Store a message's events durably; return the tracking id to acknowledge with."""
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
                    message_type=message_type,
                    received_at=now,
                    event_count=len(events),
                )
            )
            s.flush()
            for event in events:
                s.add(
                    OutboxEvent(
                        tracking_id=tracking_id,
                        event_id=event.event_id,
                        system_id=system_id,
                        child_key=event.child_key[:200],
                        event_type=event.type,  # type: ignore[attr-defined]
                        operation=EVENT_OPERATIONS[event.type],  # type: ignore[attr-defined]
                        payload=json.dumps(event.wire(), separators=(",", ":")),
                        status="pending",
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
            try:
                s.commit()
            except IntegrityError:
                # A concurrent accept of the same message won the race: answer as a resend.
                s.rollback()
                existing = s.scalars(
                    select(Message).where(Message.system_id == system_id, Message.message_id == message_id)
                ).one()
                return Accepted(existing.tracking_id, existing.message_type, existing.event_count, True)
            return Accepted(tracking_id, message_type, len(events), False)

    # --- delivery -----------------------------------------------------------------

    def claim(self, limit: int = 20, *, now: datetime | None = None) -> list[Claimed]:
        """Lease up to ``limit`` due rows, oldest first, at most one per child."""
        now = now or utcnow()
        earlier = aliased(OutboxEvent)
        blocked = exists().where(
            earlier.child_key == OutboxEvent.child_key,
            earlier.status == "pending",
            earlier.id < OutboxEvent.id,
        )
        query = (
            select(OutboxEvent)
            .where(
                OutboxEvent.status == "pending",
                OutboxEvent.next_attempt_at <= now,
                or_(OutboxEvent.claimed_until.is_(None), OutboxEvent.claimed_until < now),
                ~blocked,
            )
            .order_by(OutboxEvent.id)
            .limit(limit)
        )
        if self.postgres:
            query = query.with_for_update(skip_locked=True, of=OutboxEvent)
        claimed: list[Claimed] = []
        with self.sessions() as s:
            rows = s.scalars(query).all()
            for row in rows:
                won = s.execute(
                    update(OutboxEvent)
                    .where(
                        OutboxEvent.id == row.id,
                        OutboxEvent.status == "pending",
                        or_(OutboxEvent.claimed_until.is_(None), OutboxEvent.claimed_until < now),
                    )
                    .values(claimed_until=now + self.lease)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if won:
                    claimed.append(
                        Claimed(
                            row.id,
                            row.event_id,
                            row.tracking_id,
                            row.system_id,
                            row.operation,
                            row.event_type,
                            json.loads(row.payload),
                            row.attempts,
                            row.created_at,
                        )
                    )
            s.commit()
        return claimed

    def _finish(self, row_id: int, **values) -> None:
        with self.sessions() as s:
            s.execute(update(OutboxEvent).where(OutboxEvent.id == row_id).values(claimed_until=None, **values))
            s.commit()

    def delivered(self, row_id: int, result: WriteResult) -> None:
        self._finish(
            row_id,
            status="delivered",
            delivered_at=utcnow(),
            attempts=OutboxEvent.attempts + 1,
            outcome=json.dumps(result.wire()),
            last_error=None,
            error_code=None,
        )

    def retry_later(self, row_id: int, code: str, error: str, delay_seconds: float) -> None:
        self._finish(
            row_id,
            attempts=OutboxEvent.attempts + 1,
            next_attempt_at=utcnow() + timedelta(seconds=delay_seconds),
            error_code=code,
            last_error=error[:500],
        )

    def park(self, row_id: int, code: str, error: str) -> None:
        """Make the row a dead letter: kept with its reason, blocking nothing."""
        self._finish(row_id, status="dead", attempts=OutboxEvent.attempts + 1, error_code=code, last_error=error[:500])

    # --- operators ----------------------------------------------------------------

    def replay(self, row_ids: Iterable[int] | None = None) -> int:
        """Put dead letters (all, or those listed) back in the queue."""
        stmt = update(OutboxEvent).where(OutboxEvent.status == "dead")
        if row_ids is not None:
            stmt = stmt.where(OutboxEvent.id.in_(list(row_ids)))
        with self.sessions() as s:
            n = s.execute(stmt.values(status="pending", next_attempt_at=utcnow(), claimed_until=None)).rowcount
            s.commit()
        return n

    def discard(self, row_ids: Iterable[int]) -> int:
        """An operator decides a dead letter will never be delivered."""
        with self.sessions() as s:
            n = s.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_(list(row_ids)), OutboxEvent.status == "dead")
                .values(status="discarded", payload="{}")
            ).rowcount
            s.commit()
        return n

    def prune(self, older_than: timedelta) -> int:
        """Delete delivered and discarded rows (and their messages) older than ``older_than``."""
        cutoff = utcnow() - older_than
        with self.sessions() as s:
            done = OutboxEvent.status.in_(("delivered", "discarded"))
            n = s.execute(
                delete(OutboxEvent).where(done, or_(OutboxEvent.delivered_at < cutoff, and_(OutboxEvent.delivered_at.is_(None), OutboxEvent.created_at < cutoff)))
            ).rowcount
            still = select(OutboxEvent.tracking_id).distinct()
            s.execute(delete(Message).where(Message.received_at < cutoff, Message.tracking_id.not_in(still)))
            s.commit()
        return n

    def rows(self, status: str | None = None, *, limit: int = 100, system_id: str | None = None) -> list[OutboxEvent]:
        stmt = select(OutboxEvent).order_by(OutboxEvent.id).limit(limit)
        if status:
            stmt = stmt.where(OutboxEvent.status == status)
        if system_id:
            stmt = stmt.where(OutboxEvent.system_id == system_id)
        with self.sessions() as s:
            return list(s.scalars(stmt).all())

    def row(self, row_id: int) -> OutboxEvent | None:
        with self.sessions() as s:
            return s.get(OutboxEvent, row_id)

    def counts(self) -> dict[str, int]:
        with self.sessions() as s:
            got = dict(s.execute(select(OutboxEvent.status, func.count()).group_by(OutboxEvent.status)).all())
        return {st: got.get(st, 0) for st in STATUSES}

    def oldest_pending(self) -> datetime | None:
        with self.sessions() as s:
            return s.scalar(select(func.min(OutboxEvent.created_at)).where(OutboxEvent.status == "pending"))

    def status(self, tracking_id: str) -> dict | None:
        """The outcome of one message, as a local system asks for it."""
        with self.sessions() as s:
            msg = s.get(Message, tracking_id)
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


def session_scope(outbox: Outbox) -> Session:  # pragma: no cover - convenience for tests
    return outbox.sessions()
