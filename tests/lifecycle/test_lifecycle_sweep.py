"""The lifecycle sweep: archive at 18 (later with an extension, earlier after a death), destroy six years on."""

from __future__ import annotations

from datetime import date

import pytest
import zeep.exceptions
from audit_helpers import BRADFORD, LEEDS, as_user, caller, send
from directory_helpers import fresh_id, new_identity, opened
from sqlalchemy import func, select
from typer.testing import CliRunner

from cpbridge.codes import ActorRole
from cpbridge.directory import lifecycle, service
from cpbridge.directory.audit_tables import AuditRow, ChildAreaMove, RecordExtension
from cpbridge.directory.tables import AppliedEvent, Carer, Child, ChildIdentifier, InvolvementRow
from cpbridge.faults import Fault
from cpbridge.model import Address

SYSTEM = caller(role=ActorRole.system, user_id="svc-ics")
MANAGER = caller(role=ActorRole.management_team, user_id="mgr", la=LEEDS)


def child_born(sessions, born: date, **identity) -> str:
    ident = new_identity().model_copy(update={"date_of_birth": born, **identity})
    with sessions.begin() as s:
        return service.register_involvement(s, SYSTEM, opened(ident)).directory_id


def state(sessions, directory_id: str) -> tuple[str, date | None, str | None] | None:
    with sessions() as s:
        child = s.scalar(select(Child).where(Child.directory_id == directory_id))
        return (child.status, child.archived_on, child.archive_reason) if child else None


def test_dates_and_rules():
    assert lifecycle.add_years(date(2008, 2, 29), 18) == date(2026, 3, 1)
    assert lifecycle.add_years(date(2008, 2, 29), 20) == date(2028, 2, 29)
    child = Child(date_of_birth=date(2008, 5, 1), date_of_death=None)
    assert lifecycle.leaves_on(child) == (date(2026, 5, 1), lifecycle.ArchiveReason.age)
    ext = RecordExtension(reason="care_leaver", ends_on=None, withdrawn_on=None)
    assert lifecycle.leaves_on(child, [ext]) == (date(2033, 5, 1), lifecycle.ArchiveReason.extension_ended)
    connexions = RecordExtension(reason="connexions", ends_on=None, withdrawn_on=None)
    assert lifecycle.leaves_on(child, [connexions])[0] == date(2027, 5, 1)
    early = RecordExtension(reason="learning_difficulty", ends_on=date(2029, 1, 1), withdrawn_on=None)
    assert lifecycle.leaves_on(child, [early])[0] == date(2029, 1, 1)
    withdrawn = RecordExtension(reason="care_leaver", ends_on=None, withdrawn_on=date(2026, 1, 1))
    assert lifecycle.leaves_on(child, [withdrawn])[0] == date(2026, 5, 1)
    dead = Child(date_of_birth=date(2012, 5, 1), date_of_death=date(2020, 6, 30))
    assert lifecycle.leaves_on(dead) == (date(2021, 6, 30), lifecycle.ArchiveReason.deceased)


def test_archive_at_18_then_destroy_after_six_years(sessions):
    adult = child_born(sessions, date(2006, 6, 1))
    young = child_born(sessions, date(2010, 6, 1))
    leap = child_born(sessions, date(2008, 2, 29))

    report = lifecycle.sweep(sessions, date(2024, 5, 31))
    assert report.archived == [] and report.destroyed == 0
    report = lifecycle.sweep(sessions, date(2024, 6, 1))
    assert report.archived == [(adult, "age")]
    assert state(sessions, adult) == ("archived", date(2024, 6, 1), "age")
    assert state(sessions, young)[0] == "live"
    assert lifecycle.sweep(sessions, date(2024, 6, 1)).summary() == "2024-06-01: 0 archived, 0 destroyed"  # idempotent

    assert lifecycle.sweep(sessions, date(2026, 2, 28)).archived == []
    assert lifecycle.sweep(sessions, date(2026, 3, 1)).archived == [(leap, "age")]

    assert lifecycle.sweep(sessions, date(2030, 5, 31)).destroyed == 0
    assert lifecycle.sweep(sessions, date(2030, 6, 1)).destroyed == 1
    assert state(sessions, adult) is None
    assert lifecycle.sweep(sessions, date(2030, 6, 1)).destroyed == 0


def test_destruction_leaves_nothing_but_an_anonymous_audit_row(sessions):
    ident = new_identity().model_copy(
        update={"date_of_birth": date(2000, 1, 1), "address": Address(lines=["1 Main St", "Bradford"], postcode="BD8 9RZ")}
    )
    with sessions.begin() as s:
        directory_id = service.register_involvement(s, SYSTEM, opened(ident)).directory_id
    with sessions.begin() as s:
        child = s.scalar(select(Child).where(Child.directory_id == directory_id))
        child_id = child.id
        child.carers.append(Carer(source_system="ics", given_names="Laura", family_name="Smith", family_key="SMITH"))
    lifecycle.sweep(sessions, date(2018, 1, 1))
    report = lifecycle.sweep(sessions, date(2024, 1, 1))
    assert report.destroyed == 1
    with sessions() as s:
        for table in (InvolvementRow, ChildIdentifier, Carer, ChildAreaMove):
            assert s.scalar(select(func.count()).select_from(table).where(table.child_id == child_id)) == 0
        assert s.scalar(select(func.count()).select_from(AppliedEvent).where(AppliedEvent.directory_id == directory_id)) == 0
        destroy = s.scalars(select(AuditRow).where(AuditRow.operation == "Destroy")).all()
    assert len(destroy) == 1
    row = destroy[0]
    assert (row.directory_id, row.child_id, row.child_la, row.fields) == (None, None, None, None)
    assert row.user_role == "system" and "retention" in row.detail


def test_an_extension_keeps_a_care_leaver_until_25(sessions):
    directory_id = child_born(sessions, date(2006, 6, 1))
    with sessions.begin() as s:
        lifecycle.record_extension(s, MANAGER, directory_id, "care_leaver", date(2024, 1, 10), "child")
    assert lifecycle.sweep(sessions, date(2024, 6, 1)).archived == []
    assert lifecycle.sweep(sessions, date(2031, 5, 31)).archived == []
    assert lifecycle.sweep(sessions, date(2031, 6, 1)).archived == [(directory_id, "extension_ended")]


def test_a_withdrawn_extension_no_longer_counts(sessions):
    directory_id = child_born(sessions, date(2005, 6, 1))
    with sessions.begin() as s:
        lifecycle.record_extension(s, MANAGER, directory_id, "connexions", date(2023, 1, 10))
    assert lifecycle.sweep(sessions, date(2023, 6, 1)).archived == []
    with sessions.begin() as s:
        assert lifecycle.withdraw_extension(s, MANAGER, directory_id, date(2023, 7, 1)) == 1
    assert lifecycle.sweep(sessions, date(2023, 7, 1)).archived == [(directory_id, "age")]


def test_only_the_childs_management_team_records_extensions(sessions):
    directory_id = child_born(sessions, date(2007, 6, 1))
    with sessions.begin() as s:
        with pytest.raises(Fault) as practitioner:
            lifecycle.record_extension(s, caller(), directory_id, "care_leaver", date(2024, 1, 1))
        with pytest.raises(Fault) as other_area:
            lifecycle.record_extension(s, caller(role=ActorRole.management_team, la=BRADFORD), directory_id, "care_leaver", date(2024, 1, 1))
        with pytest.raises(Fault) as bad_reason:
            lifecycle.record_extension(s, MANAGER, directory_id, "sports_club", date(2024, 1, 1))
    assert practitioner.value.code == other_area.value.code == "NotAuthorised"
    assert (bad_reason.value.code, bad_reason.value.field) == ("InvalidRequest", "reason")


def test_a_deceased_childs_record_stays_a_year(sessions):
    directory_id = child_born(sessions, date(2015, 3, 2), date_of_death=date(2024, 2, 10))
    assert lifecycle.sweep(sessions, date(2025, 2, 9)).archived == []
    assert lifecycle.sweep(sessions, date(2025, 2, 10)).archived == [(directory_id, "deceased")]


def test_archived_records_are_hidden_from_practitioners_and_seen_by_the_management_team_for_a_year(live):
    ident = new_identity().model_copy(update={"date_of_birth": date(2000, 1, 1)})
    client = live.client()
    directory_id = send(client, opened(ident)).directoryId
    lifecycle.sweep(live.sessions, date(2018, 1, 1))  # archived on 2018-01-01, i.e. more than a year ago

    with pytest.raises(zeep.exceptions.Fault, match="no record"):
        client.service.ReadChild(directoryId=directory_id, _soapheaders=as_user())
    found = client.service.SearchChildren(criteria={"familyName": ident.family_name, "dateOfBirth": "2000-01-01"}, _soapheaders=as_user())
    assert not found
    with pytest.raises(zeep.exceptions.Fault, match="no record"):
        client.service.ReadChild(directoryId=directory_id, _soapheaders=as_user("mgr", role="management_team"))

    with live.sessions.begin() as s:  # archived within the year
        s.scalar(select(Child).where(Child.directory_id == directory_id)).archived_on = date.today()
    record = client.service.ReadChild(directoryId=directory_id, _soapheaders=as_user("mgr", role="management_team"))
    assert record.directoryId == directory_id
    by_name = {"familyName": ident.family_name, "dateOfBirth": "2000-01-01"}
    found = client.service.SearchChildren(criteria=by_name, _soapheaders=as_user("mgr", role="management_team"))
    assert [m.record.directoryId for m in found] == [directory_id]
    assert not client.service.SearchChildren(criteria=by_name, _soapheaders=as_user())
    bradford = live.client("bradford")
    with pytest.raises(zeep.exceptions.Fault, match="no record"):
        bradford.service.ReadChild(directoryId=directory_id, _soapheaders=as_user("bmgr", "Bradford MDC", role="management_team"))
    with pytest.raises(zeep.exceptions.Fault, match="no record"):
        client.service.ReadChild(directoryId=directory_id, _soapheaders=as_user())


def test_cli_sweep_and_extend(sessions, store_url, monkeypatch, tmp_path):
    from cpbridge.cli import app
    from cpbridge.directory.commands_audit import register

    register(app)
    monkeypatch.setenv("CPBRIDGE_DIRECTORY__DATABASE_URL", store_url)
    monkeypatch.setenv("CPBRIDGE_DATA_DIR", str(tmp_path))
    kept = child_born(sessions, date(2006, 6, 1))
    gone = child_born(sessions, date(2006, 6, 1))
    runner = CliRunner()
    ext = runner.invoke(app, ["directory", "extend", kept, "--reason", "learning_difficulty", "--consent-on", "2024-01-02"])
    assert ext.exit_code == 0, ext.output
    bad = runner.invoke(app, ["directory", "extend", kept, "--reason", "hobby", "--consent-on", "2024-01-02"])
    assert bad.exit_code == 2 and "reason must be one of" in bad.output
    swept = runner.invoke(app, ["directory", "sweep", "--today", "2024-06-01"])
    assert swept.exit_code == 0 and "1 archived, 0 destroyed" in swept.output
    assert state(sessions, kept)[0] == "live" and state(sessions, gone)[0] == "archived"


def test_an_archived_record_takes_no_new_data_and_is_not_duplicated(live):
    ident = new_identity().model_copy(update={"date_of_birth": date(2000, 1, 1)})
    client = live.client()
    send(client, opened(ident))
    lifecycle.sweep(live.sessions, date(2018, 1, 1))
    with live.sessions() as s:
        before = s.scalar(select(func.count()).select_from(Child))
    later = opened(ident).model_copy(update={"event_id": fresh_id()})
    later = later.model_copy(update={"involvement": later.involvement.model_copy(update={"local_reference": "LATER-1"})})
    with pytest.raises(zeep.exceptions.Fault) as err:
        send(client, later)
    assert err.value.detail.findtext(".//{urn:cpbridge:faults:1}code") == "RecordArchived"
    with live.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Child)) == before  # no fresh duplicate either
