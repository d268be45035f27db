"""Alerts to a local authority's management team, raised at once in the same transaction.

Today one kind exists: ``shield_override`` (a user with the override right opened a
shielded record in full). The alert is a row the management team sees in
:func:`open_alerts` (the web pages list them) the moment the viewing commits; it
is also logged at WARNING level (ids and codes only) so a log-based pager can
react. Alerts are acknowledged, never deleted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cpbridge.codes import StrEnum
from cpbridge.faults import Fault

from . import access
from .auth import Caller
from .shield_tables import AlertRow
from .tables import Child, utcnow

log = logging.getLogger("cpbridge.directory.alerts")


class AlertKind(StrEnum):
    shield_override = "shield_override"


@dataclass(frozen=True)
class AlertView:
    """An alert as the management team sees it."""

    id: int
    kind: str
    directory_id: str | None
    user_id: str
    user_name: str | None
    organisation: str
    role: str
    reason: str
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None


def _view(row: AlertRow) -> AlertView:
    return AlertView(
        id=row.id,
        kind=row.kind,
        directory_id=row.directory_id,
        user_id=row.user_id,
        user_name=row.user_name,
        organisation=row.organisation,
        role=row.role,
        reason=row.reason,
        raised_at=row.raised_at,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
    )


def raise_alert(
    session: Session,
    kind: AlertKind | str,
    child_id: int,
    actor: Caller,
    reason: str,
    *,
    local_authority: str | None = None,
) -> AlertRow:
    """Record an alert about ``child_id`` caused by ``actor`` for ``reason`` (a code).

    It goes to ``local_authority`` (for an override: the authority that placed the
    shield), else to the actor's own authority.
    """
    child = session.get(Child, child_id)
    row = AlertRow(
        kind=str(kind),
        child_id=child_id,
        directory_id=child.directory_id if child is not None else None,
        local_authority=local_authority or actor.local_authority,
        account=actor.account,
        user_id=actor.actor.user_id,
        user_name=actor.actor.name,
        organisation=actor.actor.organisation,
        role=actor.actor.role.value,
        reason=str(reason),
        raised_at=utcnow(),
    )
    session.add(row)
    session.flush()
    log.warning("alert %s raised: %s for authority %s by user %s", row.id, row.kind, row.local_authority, row.user_id)
    return row


def open_alerts(session: Session, local_authority: str) -> list[AlertView]:
    """The authority's alerts not yet acknowledged, oldest first."""
    rows = session.scalars(
        select(AlertRow)
        .where(AlertRow.local_authority == local_authority, AlertRow.acknowledged_at.is_(None))
        .order_by(AlertRow.raised_at, AlertRow.id)
    )
    return [_view(r) for r in rows]


def alerts_for(session: Session, caller: Caller) -> list[AlertView]:
    """:func:`open_alerts` for the caller's authority (right ``handle_alerts``)."""
    access.require(caller, access.Right.handle_alerts)
    return open_alerts(session, caller.local_authority)


def acknowledge(session: Session, caller: Caller, alert_id: int) -> AlertView:
    """Mark one of the caller's authority's alerts as checked (right ``handle_alerts``)."""
    access.require(caller, access.Right.handle_alerts)
    row = session.get(AlertRow, alert_id)
    if row is None or row.local_authority != caller.local_authority:
        raise Fault("InvalidRequest", f"no alert {alert_id} for authority {caller.local_authority}", field="alertId")
    if row.acknowledged_at is None:
        row.acknowledged_at = utcnow()
        row.acknowledged_by = caller.actor.user_id
        session.flush()
    return _view(row)
