"""Audit review finds likely misuse; subject access reports what is held and who looked."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from audit_helpers import BRADFORD, LEEDS, as_user, caller, send
from directory_helpers import new_identity, opened
from sqlalchemy import select
from typer.testing import CliRunner

from cpbridge.codes import ActorRole
from cpbridge.directory import audit, service, subject_access
from cpbridge.directory.audit_review import ReviewRules, review
from cpbridge.directory.tables import Child
from cpbridge.faults import Fault

SYSTEM = caller(role=ActorRole.system, user_id="svc-ics")
#: Tuesday 4 June 2024, 10:00 London time (09:00 UTC)
WORKDAY = datetime(2024, 6, 4, 9, 0)


def new_child(sessions, organisation: str = "Leeds City Council") -> Child:
    with sessions.begin() as s:
        directory_id = service.register_involvement(s, SYSTEM, opened(new_identity(), organisation=organisation)).directory_id
    with sessions() as s:
        return s.scalar(select(Child).where(Child.directory_id == directory_id))


def view(sessions, child: Child, who, at: datetime, n: int = 1, outcome: str = "full", operation: str = "ReadChild") -> None:
    with sessions.begin() as s:
        for i in range(n):
            audit.record(s, who, operation, outcome=outcome, child=child, at=at + timedelta(seconds=i))


def kinds(findings) -> list[tuple[str, str]]:
    return sorted((f.kind, f.user_id) for f in findings)


def test_a_view_without_involvement_is_found(sessions):
    ours = new_child(sessions)
    theirs = new_child(sessions, organisation="Bradford MDC")
    view(sessions, ours, caller(user_id="fine"), WORKDAY)
    view(sessions, theirs, caller(user_id="nosy"), WORKDAY, n=2)
    view(sessions, theirs, caller(role=ActorRole.management_team, user_id="mgr"), WORKDAY)
    with sessions() as s:
        found = review(s, since=WORKDAY - timedelta(days=1), until=WORKDAY + timedelta(days=1))
    assert kinds(found) == [("no_involvement", "nosy")]
    assert found[0].count == 2 and found[0].directory_ids == [theirs.directory_id]
    assert len(found[0].audit_seqs) == 2


def test_unusual_volume_against_the_limit_and_the_users_usual(sessions):
    child = new_child(sessions)
    for day in range(1, 8):  # a usual week: 5 views a day
        view(sessions, child, caller(user_id="busy"), WORKDAY - timedelta(days=day), n=5)
    view(sessions, child, caller(user_id="busy"), WORKDAY, n=40)
    view(sessions, child, caller(user_id="steady"), WORKDAY, n=15)
    rules = ReviewRules(daily_limit=100, volume_factor=5, volume_minimum=20)
    with sessions() as s:
        found = review(s, since=WORKDAY - timedelta(hours=1), until=WORKDAY + timedelta(hours=1), rules=rules)
        over_limit = review(s, since=WORKDAY - timedelta(hours=1), until=WORKDAY + timedelta(hours=1), rules=ReviewRules(daily_limit=10))
    assert kinds(found) == [("unusual_volume", "busy")]
    assert "usually about 5" in found[0].summary
    assert kinds(f for f in over_limit if f.kind == "unusual_volume") == [("unusual_volume", "busy"), ("unusual_volume", "steady")]


def test_out_of_hours_and_weekends(sessions):
    child = new_child(sessions)
    view(sessions, child, caller(user_id="late"), datetime(2024, 6, 4, 21, 30))  # 22:30 in London
    view(sessions, child, caller(user_id="weekend"), datetime(2024, 6, 8, 10, 0))  # Saturday
    view(sessions, child, caller(user_id="daytime"), WORKDAY)
    view(sessions, child, SYSTEM, datetime(2024, 6, 4, 23, 0))  # feeds are not reviewed
    with sessions() as s:
        found = review(s, since=datetime(2024, 6, 1), until=datetime(2024, 6, 10))
    assert kinds(found) == [("out_of_hours", "late"), ("out_of_hours", "weekend")]


def test_repeated_shielded_views_and_overrides(sessions):
    child = new_child(sessions)
    view(sessions, child, caller(user_id="curious"), WORKDAY, n=2, outcome="shielded")
    view(sessions, child, caller(user_id="once"), WORKDAY, outcome="shielded")
    view(sessions, child, caller(user_id="overrider"), WORKDAY, n=2, outcome="override", operation=audit.SHIELD_OVERRIDE)
    with sessions() as s:
        found = [f for f in review(s, since=WORKDAY - timedelta(hours=1), until=WORKDAY + timedelta(hours=1)) if f.kind == "shielded_views"]
    assert kinds(found) == [("shielded_views", "curious"), ("shielded_views", "overrider")]


def test_review_by_authority(sessions):
    child = new_child(sessions)  # a Leeds child
    view(sessions, child, caller(user_id="bradford_user", la=BRADFORD, organisation="Bradford MDC"), WORKDAY)
    with sessions() as s:
        window = dict(since=WORKDAY - timedelta(hours=1), until=WORKDAY + timedelta(hours=1))
        assert kinds(review(s, la=LEEDS, **window)) == [("no_involvement", "bradford_user")]  # their child
        assert kinds(review(s, la=BRADFORD, **window)) == [("no_involvement", "bradford_user")]  # their user
        assert review(s, la="E08000003", **window) == []


def test_subject_access_through_soap_accesses(live):
    client = live.client()
    identity = new_identity()
    consent = {"given_by": "child", "recorded_on": date(2024, 4, 1)}
    directory_id = send(client, opened(identity)).directoryId
    send(client, opened(identity, service="mental_health", consent=consent, organisation="Leeds CAMHS"))
    client.service.ReadChild(directoryId=directory_id, _soapheaders=as_user("asmith", name="Al Smith", reason="safeguarding"))

    leeds_manager = caller(role=ActorRole.management_team, user_id="mgr", la=LEEDS)
    with live.sessions.begin() as s:
        report = subject_access.subject_access(s, leeds_manager, directory_id)
    assert report.status == "live" and report.record["familyName"] == identity.family_name
    assert sorted(i["service"] for i in report.record["involvements"]) == ["mental_health", "social_care"]
    assert report.record["identifiers"][0]["value"] == identity.identifiers[0].value
    looked = [(a.user_id, a.user_name, a.organisation, a.reason) for a in report.accesses if a.operation == "ReadChild"]
    assert looked == [("asmith", "Al Smith", "Leeds City Council", "safeguarding")]
    text = subject_access.render_text(report)
    assert "Al Smith (asmith), Leeds City Council" in text and identity.family_name in text

    with live.sessions() as s:
        sar_rows = s.scalars(select(audit.AuditRow).where(audit.AuditRow.operation == "SubjectAccess")).all()
    assert [(r.directory_id, r.user_id, r.reason) for r in sar_rows][-1] == (directory_id, "mgr", "subject_access")

    with live.sessions.begin() as s:
        with pytest.raises(Fault) as other_area:
            subject_access.subject_access(s, caller(role=ActorRole.management_team, la=BRADFORD), directory_id)
        with pytest.raises(Fault) as practitioner:
            subject_access.subject_access(s, caller(), directory_id)
    assert other_area.value.code == practitioner.value.code == "NotAuthorised"


def test_cli_review_and_subject_access(sessions, store_url, monkeypatch, tmp_path):
    from cpbridge.cli import app
    from cpbridge.directory.commands_audit import register

    register(app)
    monkeypatch.setenv("CPBRIDGE_DIRECTORY__DATABASE_URL", store_url)
    monkeypatch.setenv("CPBRIDGE_DATA_DIR", str(tmp_path))
    child = new_child(sessions, organisation="Bradford MDC")
    view(sessions, child, caller(user_id="nosy"), datetime(2024, 6, 4, 21, 0))
    runner = CliRunner()
    table = runner.invoke(app, ["audit", "review", "--since", "2024-06-01", "--until", "2024-06-10"])
    assert table.exit_code == 0, table.output
    assert "no_involvement" in table.output and "out_of_hours" in table.output and "2 finding(s)" in table.output
    as_json = runner.invoke(app, ["audit", "review", "--since", "2024-06-01", "--until", "2024-06-10", "--json"])
    assert sorted(f["kind"] for f in json.loads(as_json.output)) == ["no_involvement", "out_of_hours"]

    out = tmp_path / "sar.json"
    sar = runner.invoke(app, ["audit", "subject-access", child.directory_id, "--json", "--out", str(out)])
    assert sar.exit_code == 0, sar.output
    report = json.loads(out.read_text())
    assert report["directory_id"] == child.directory_id and report["record"]["givenNames"] == "Amelia Rose"
    assert [a["user_id"] for a in report["accesses"] if a["operation"] == "ReadChild"] == ["nosy"]
    assert runner.invoke(app, ["audit", "subject-access", "CP12"]).exit_code == 2
