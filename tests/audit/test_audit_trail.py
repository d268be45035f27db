"""Every read and write through the SOAP interface leaves an audit row: who, for whom, from where, what, why."""

from __future__ import annotations

import pytest
import zeep.exceptions
from audit_helpers import LEEDS, as_user, send
from directory_helpers import every_event, new_identity, opened
from sqlalchemy import select

from cpbridge.directory.audit_tables import AuditRow


def rows_for(live, directory_id: str | None = None, after: int = 0) -> list[AuditRow]:
    with live.sessions() as s:
        q = select(AuditRow).where(AuditRow.seq > after).order_by(AuditRow.seq)
        if directory_id is not None:
            q = q.where(AuditRow.directory_id == directory_id)
        return list(s.scalars(q))


def last_seq(live) -> int:
    rows = rows_for(live)
    return rows[-1].seq if rows else 0


def test_every_write_is_audited_with_who_what_and_where(live):
    client = live.client()
    identity = new_identity()
    results = [send(client, e) for e in every_event(identity)]
    directory_id = results[0].directoryId
    rows = rows_for(live, directory_id)
    writes = [r for r in rows if r.operation != "AreaMove"]
    assert [r.operation for r in writes] == [
        "RegisterInvolvement", "RegisterInvolvement", "SetLeadProfessional", "RemoveLeadProfessional",
        "RecordAssessment", "UpdateDemographics", "UpdateSetting", "EndInvolvement",
    ]  # fmt: skip
    assert {r.outcome for r in writes} == {"applied"}
    first = writes[0]
    assert (first.account, first.user_id, first.user_role, first.organisation) == ("adapter", "svc-ics", "system", "Leeds City Council")
    assert (first.reason, first.source_address, first.user_la, first.child_la) == ("record_update", "127.0.0.1", LEEDS, LEEDS)
    assert first.event_id.startswith("ev-")
    assert first.child_id is not None
    assert "involvement.service" in first.fields and "child.givenNames" in first.fields


def test_the_audit_holds_field_names_never_values(live):
    client = live.client()
    identity = new_identity()
    for e in every_event(identity):
        send(client, e)
    client.service.SearchChildren(
        criteria={"familyName": identity.family_name, "dateOfBirth": "2015-03-02"}, _soapheaders=as_user()
    )
    text = " ".join(
        str(v) for r in rows_for(live) for v in (r.fields, r.detail, r.outcome, r.operation, r.user_name) if v
    )
    for value in (identity.family_name, "Amelia", "Beech Grove", "LS8 3PQ", identity.identifiers[0].value,
                  "Laura", "Harehills Primary", "2015-03-02", "0113 222 3333"):  # fmt: skip
        assert value not in text


def test_a_replay_is_audited_as_duplicate(live):
    client = live.client()
    event = opened(new_identity())
    first = send(client, event)
    again = send(client, event)
    assert again.outcome == "duplicate"
    rows = [r for r in rows_for(live, first.directoryId) if r.operation == "RegisterInvolvement"]
    assert [r.outcome for r in rows] == ["applied", "duplicate"]
    assert rows[1].event_id == event.event_id


def test_each_record_a_search_returns_is_one_audit_row(live):
    client = live.client()
    twins = []
    for given in ("Ada", "Bea"):
        identity = new_identity().model_copy(update={"given_names": given, "aliases": []})
        if twins:
            identity = identity.model_copy(update={"family_name": twins[0].family_name})
        twins.append(identity)
        send(client, opened(identity))
    before = last_seq(live)
    found = client.service.SearchChildren(
        criteria={"familyName": twins[0].family_name, "dateOfBirth": "2015-03-02"},
        _soapheaders=as_user("asmith", name="Al Smith"),
    )
    assert len(found) == 2
    rows = rows_for(live, after=before)
    assert [r.operation for r in rows] == ["SearchChildren", "SearchChildren"]
    assert {r.directory_id for r in rows} == {m.record.directoryId for m in found}
    assert {(r.user_id, r.user_name, r.user_role, r.reason, r.outcome) for r in rows} == {
        ("asmith", "Al Smith", "practitioner", "direct_work", "full")
    }
    assert rows[0].fields == "criteria.familyName,criteria.dateOfBirth"
    assert rows[0].detail == "results=2"


def test_a_search_that_finds_nothing_is_audited_once(live):
    before = last_seq(live)
    found = live.client().service.SearchChildren(
        criteria={"familyName": "Nobodyhere", "dateOfBirth": "2015-03-02"}, _soapheaders=as_user()
    )
    assert not found
    rows = rows_for(live, after=before)
    assert [(r.operation, r.outcome, r.directory_id) for r in rows] == [("SearchChildren", "no_match", None)]


def test_reads_and_refused_reads_are_audited(live):
    client = live.client()
    result = send(client, opened(new_identity()))
    client.service.ReadChild(directoryId=result.directoryId, _soapheaders=as_user(reason="safeguarding"))
    missing = "CP0000000000"
    with pytest.raises(zeep.exceptions.Fault):
        client.service.ReadChild(directoryId=missing, _soapheaders=as_user())
    read = [r for r in rows_for(live, result.directoryId) if r.operation == "ReadChild"]
    assert [(r.outcome, r.reason, r.fields) for r in read] == [("full", "safeguarding", "directoryId")]
    refused = rows_for(live, missing)
    assert [(r.operation, r.outcome, r.user_id) for r in refused] == [("ReadChild", "refused:NoSuchChild", "jbloggs")]


def test_a_refused_write_is_audited_and_changes_nothing(live):
    client = live.client()
    event = opened(new_identity(), service="mental_health")  # sensitive without consent
    before = last_seq(live)
    with pytest.raises(zeep.exceptions.Fault):
        send(client, event)
    rows = rows_for(live, after=before)
    assert [(r.operation, r.outcome, r.event_id, r.directory_id) for r in rows] == [
        ("RegisterInvolvement", "refused:ConsentRequired", event.event_id, None)
    ]


def test_the_chain_stays_intact_through_the_service(live):
    from cpbridge.directory import audit

    send(live.client(), opened(new_identity()))
    with live.sessions() as s:
        report = audit.verify(s)
    assert report.ok, report.problems
    assert report.rows == report.head_seq == report.last_seq > 0
