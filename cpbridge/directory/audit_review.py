"""Audit review: likely misuse, found in the audit trail for a person to look into.

Misuse of the directory (looking up celebrities, friends, one's own family) is a
criminal matter; the review points at accesses worth a question, it decides nothing.
:func:`review` returns :class:`Finding` objects of four kinds:

* ``no_involvement`` — a practitioner viewed a record although their organisation has
  no involvement with the child (nor is the child's school, early-years setting or GP
  practice). The management team (who broker contact) and system feeds are left out.
* ``unusual_volume`` — a user viewed more records in one day than
  ``rules.daily_limit``, or more than ``rules.volume_factor`` times their usual day
  (the median of their active days over the previous ``rules.baseline_days``).
* ``out_of_hours`` — views outside working hours (``rules.work_start``-``rules.work_end``
  on Monday to Friday, in ``rules.timezone``); bank holidays are not known.
* ``shielded_views`` — a user viewed the same shielded record, or overrode its shield,
  ``rules.repeat_shielded`` times or more.

Only accesses by people are reviewed (role ``system`` — the feeds — is not).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cpbridge.codes import ActorRole
from cpbridge.directory.access import same_organisation

from .audit import READ_OPERATIONS, SHIELD_OVERRIDE
from .audit_tables import AuditRow
from .tables import ChildSetting, InvolvementRow, utc, utcnow

#: Outcomes of a read that disclosed a record.
DISCLOSED = ("full", "shielded", "behind_shield", "override")


@dataclass(frozen=True)
class ReviewRules:
    """Thresholds of :func:`review` (all configurable from the CLI)."""

    daily_limit: int = 100
    volume_factor: float = 5.0
    #: A day must have at least this many views to count as unusual against the user's usual.
    volume_minimum: int = 20
    baseline_days: int = 30
    work_start: time = time(8, 0)
    work_end: time = time(18, 0)
    timezone: str = "Europe/London"
    repeat_shielded: int = 2


@dataclass
class Finding:
    """One thing worth a question. ``audit_seqs`` point at the audit rows behind it."""

    kind: str
    user_id: str
    user_name: str | None
    organisation: str
    account: str
    count: int
    first_at: datetime
    last_at: datetime
    summary: str
    directory_ids: list[str] = field(default_factory=list)
    audit_seqs: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "userId": self.user_id,
            "userName": self.user_name,
            "organisation": self.organisation,
            "account": self.account,
            "count": self.count,
            "firstAt": self.first_at.isoformat(),
            "lastAt": self.last_at.isoformat(),
            "summary": self.summary,
            "directoryIds": self.directory_ids,
            "auditSeqs": self.audit_seqs,
        }


def review(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    la: str | None = None,
    rules: ReviewRules = ReviewRules(),
) -> list[Finding]:
    """Likely misuse among the accesses from ``since`` (default: the last 7 days) to ``until``.

    ``la`` limits the review to one authority: accesses by its users, or to its children.
    Findings come most serious kind first, then by count.
    """
    until = utc(until) if until else utcnow()
    since = utc(since) if since else until - timedelta(days=7)
    rows = _views(session, since, until, la)
    findings = (
        _no_involvement(session, rows)
        + _shielded(rows, rules)
        + _volume(session, rows, since, la, rules)
        + _out_of_hours(rows, rules)
    )
    order = {"shielded_views": 0, "no_involvement": 1, "unusual_volume": 2, "out_of_hours": 3}
    findings.sort(key=lambda f: (order[f.kind], -f.count, f.user_id))
    return findings


def _views(session: Session, since: datetime, until: datetime, la: str | None) -> list[AuditRow]:
    query = select(AuditRow).where(
        AuditRow.at >= since,
        AuditRow.at < until,
        AuditRow.user_role != ActorRole.system.value,
        or_(AuditRow.operation == SHIELD_OVERRIDE, AuditRow.operation.in_(READ_OPERATIONS) & AuditRow.outcome.in_(DISCLOSED)),
    )
    if la:
        query = query.where(or_(AuditRow.user_la == la, AuditRow.child_la == la))
    return list(session.scalars(query.order_by(AuditRow.seq)))


def _finding(kind: str, rows: list[AuditRow], summary: str) -> Finding:
    first = rows[0]
    return Finding(
        kind=kind,
        user_id=first.user_id,
        user_name=first.user_name,
        organisation=first.organisation,
        account=first.account,
        count=len(rows),
        first_at=min(r.at for r in rows),
        last_at=max(r.at for r in rows),
        summary=summary,
        directory_ids=sorted({r.directory_id for r in rows if r.directory_id}),
        audit_seqs=[r.seq for r in rows],
    )


def _no_involvement(session: Session, rows: list[AuditRow]) -> list[Finding]:
    views = [
        r for r in rows
        if r.operation != SHIELD_OVERRIDE and r.child_id is not None and r.user_role != ActorRole.management_team.value
    ]  # fmt: skip
    child_ids = {r.child_id for r in views}
    if not child_ids:
        return []
    orgs: dict[int, list[str]] = defaultdict(list)
    for cid, org in session.execute(select(InvolvementRow.child_id, InvolvementRow.organisation).where(InvolvementRow.child_id.in_(child_ids))):
        orgs[cid].append(org)
    for cid, name in session.execute(select(ChildSetting.child_id, ChildSetting.name).where(ChildSetting.child_id.in_(child_ids))):
        orgs[cid].append(name)
    groups: dict[tuple[str, int], list[AuditRow]] = defaultdict(list)
    for r in views:
        if not any(same_organisation(r.organisation, o) for o in orgs.get(r.child_id, [])):
            groups[(r.user_id, r.child_id)].append(r)
    return [
        _finding(
            "no_involvement", g,
            f"{len(g)} view(s) of {g[0].directory_id}, with which {g[0].organisation} has no involvement",
        )  # fmt: skip
        for g in groups.values()
    ]


def _shielded(rows: list[AuditRow], rules: ReviewRules) -> list[Finding]:
    groups: dict[tuple[str, str], list[AuditRow]] = defaultdict(list)
    for r in rows:
        if r.directory_id and (r.operation == SHIELD_OVERRIDE or r.outcome == "shielded"):
            groups[(r.user_id, r.directory_id)].append(r)
    out = []
    for g in groups.values():
        if len(g) >= rules.repeat_shielded:
            overrides = sum(r.operation == SHIELD_OVERRIDE for r in g)
            out.append(_finding("shielded_views", g, f"{len(g)} views of shielded record {g[0].directory_id} ({overrides} by override)"))
    return out


def _volume(session: Session, rows: list[AuditRow], since: datetime, la: str | None, rules: ReviewRules) -> list[Finding]:
    reads = [r for r in rows if r.operation != SHIELD_OVERRIDE]
    by_day: dict[tuple[str, date], list[AuditRow]] = defaultdict(list)
    for r in reads:
        by_day[(r.user_id, r.at.date())].append(r)
    users = {u for u, _ in by_day}
    baseline = _usual_days(session, users, since - timedelta(days=rules.baseline_days), since, la)
    out = []
    for (user, day), g in by_day.items():
        usual = baseline.get(user)
        if len(g) > rules.daily_limit:
            out.append(_finding("unusual_volume", g, f"{len(g)} record views on {day} (limit {rules.daily_limit} a day)"))
        elif usual and len(g) >= rules.volume_minimum and len(g) > rules.volume_factor * usual:
            out.append(_finding("unusual_volume", g, f"{len(g)} record views on {day}; usually about {usual:g} a day"))
    return out


def _usual_days(session: Session, users: set[str], start: datetime, end: datetime, la: str | None) -> dict[str, float]:
    """Each user's median daily views over their active days in [start, end)."""
    if not users:
        return {}
    query = select(AuditRow.user_id, AuditRow.at).where(
        AuditRow.user_id.in_(users),
        AuditRow.at >= start,
        AuditRow.at < end,
        AuditRow.operation.in_(READ_OPERATIONS),
        AuditRow.outcome.in_(DISCLOSED),
    )
    if la:
        query = query.where(or_(AuditRow.user_la == la, AuditRow.child_la == la))
    counts: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for user, at in session.execute(query):
        counts[user][at.date()] += 1
    return {u: statistics.median(days.values()) for u, days in counts.items() if days}


def _out_of_hours(rows: list[AuditRow], rules: ReviewRules) -> list[Finding]:
    zone = ZoneInfo(rules.timezone)
    groups: dict[tuple[str, date], list[AuditRow]] = defaultdict(list)
    for r in rows:
        local = r.at.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
        if local.weekday() >= 5 or not (rules.work_start <= local.time() < rules.work_end):
            groups[(r.user_id, local.date())].append(r)
    return [
        _finding(
            "out_of_hours", g,
            f"{len(g)} access(es) outside working hours on {day:%a %d %b %Y}",
        )  # fmt: skip
        for (_, day), g in groups.items()
    ]
