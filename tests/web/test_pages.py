"""Searching, reading records, overriding shields and the management pages, through the web link."""

from __future__ import annotations

import re

from web_helpers import add_user, csrf_of, seed_child, shield, sign_in


def _search(client, **fields):
    page = client.get("/web/search")
    return client.post("/web/search", data={"reason": "direct_work", **fields, "csrf_token": csrf_of(page.text)})


def _open_first(client, results_html):
    handle = re.search(r'href="/web/record/([^"/]+)"', results_html).group(1)
    return handle, client.get(f"/web/record/{handle}")


def test_search_needs_the_minimum_fields_and_says_so(client, sessions):
    add_user(sessions, "pat", ["practitioner"])
    sign_in(client, sessions, "pat")
    r = _search(client, family_name="Smith")
    assert r.status_code == 400
    assert 'class="govuk-error-summary"' in r.text and "Enter more details" in r.text
    r = _search(client, family_name="Smith", **{"dob-day": "31", "dob-month": "2", "dob-year": "2015"})
    assert r.status_code == 400 and "Date of birth must be a real date" in r.text and 'href="#dob-day"' in r.text
    r = _search(client, reason="", identifier="CP1234567890")
    assert "Select why you need to search" in r.text


def test_search_results_and_record_show_who_is_working_with_the_child(client, sessions):
    child = seed_child(sessions)
    add_user(sessions, "pat", ["practitioner"])
    sign_in(client, sessions, "pat")
    r = _search(client, family_name=child.family_name, **{"dob-day": "27", "dob-month": "3", "dob-year": "2015"})
    assert r.status_code == 200 and "1 record found" in r.text
    assert child.directory_id not in re.findall(r'href="([^"]+)"', r.text)[-2]  # the link is an opaque handle
    handle, record = _open_first(client, r.text)
    assert child.directory_id not in handle
    text = record.text
    for expected in (
        "Sam Patel", "0113 222 3333", "Children&#39;s social care", "Lead professional", "CAF completed",
        "1 December 2023", "Park Lane Primary School", "Park Surgery", "Laura", "12 Park Lane",
    ):  # fmt: skip
        assert expected in text, expected
    assert record.headers["cache-control"] == "no-store"
    assert client.get("/web/record/not-a-handle").status_code == 404


def test_sensitive_service_is_shown_as_unspecified_with_its_contact(client, sessions):
    child = seed_child(sessions, sensitive=True)
    add_user(sessions, "pat", ["practitioner"])
    sign_in(client, sessions, "pat")
    _, record = _open_first(client, _search(client, identifier=child.directory_id).text)
    assert "Unspecified service" in record.text and "Ria Kaur" in record.text and "0113 666 7777" in record.text
    assert "Mental health" not in record.text


def test_shielded_record_hides_details_and_a_hidden_field_search_finds_nothing(client, sessions):
    child = seed_child(sessions)
    shield(sessions, child.directory_id)
    add_user(sessions, "pat", ["practitioner"])
    sign_in(client, sessions, "pat")
    dob = {"dob-day": "27", "dob-month": "3", "dob-year": "2015"}
    r = _search(client, family_name=child.family_name, postcode="LS1 4AB", **dob)
    assert "No records match" in r.text
    r = _search(client, family_name=child.family_name, **dob)
    assert "Shielded" in r.text
    _, record = _open_first(client, r.text)
    assert "This record is shielded" in record.text
    for hidden in ("Sam Patel", "12 Park Lane", "Park Lane Primary", "Laura"):
        assert hidden not in record.text
    assert "Override the shield" not in record.text  # a plain practitioner has no override right


def test_override_needs_a_reason_shows_the_record_once_and_alerts_the_management_team(client, sessions, app):
    from fastapi.testclient import TestClient

    child = seed_child(sessions)
    shield(sessions, child.directory_id)
    add_user(sessions, "olly", ["shield_override"], name="Olly Grant")
    add_user(sessions, "mags", ["management_team"], name="Mags Ward")
    sign_in(client, sessions, "olly")
    handle, record = _open_first(client, _search(client, identifier=child.directory_id).text)
    assert "Override the shield" in record.text and "Sam Patel" not in record.text
    form = client.get(f"/web/record/{handle}/override")
    assert "alerted as soon as you continue" in form.text
    r = client.post(f"/web/record/{handle}/override", data={"csrf_token": csrf_of(form.text)})
    assert r.status_code == 400 and "Select why you need to see the full record" in r.text
    r = client.post(
        f"/web/record/{handle}/override",
        data={"override_reason": "child_protection_enquiry", "understood": "yes", "csrf_token": csrf_of(form.text)},
    )
    assert r.status_code == 200 and "Shield overridden" in r.text and "Sam Patel" in r.text and "12 Park Lane" in r.text
    # Leaving and coming back: the shield applies again.
    again = client.get(f"/web/record/{handle}")
    assert "Sam Patel" not in again.text and "This record is shielded" in again.text

    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as manager:
        sign_in(manager, sessions, "mags")
        alerts = manager.get("/web/manage/alerts")
        assert alerts.status_code == 200 and "Olly Grant" in alerts.text and child.directory_id in alerts.text
        alert_id = re.search(r'name="alert_id" value="(\d+)"', alerts.text).group(1)
        done = manager.post("/web/manage/alerts/acknowledge", data={"alert_id": alert_id, "csrf_token": csrf_of(alerts.text)})
        assert "marked as checked" in done.text and "Olly Grant" not in done.text


def test_management_pages_need_the_management_role(client, sessions):
    add_user(sessions, "pat", ["practitioner"])
    sign_in(client, sessions, "pat")
    for path in ("/web/manage", "/web/manage/alerts", "/web/manage/shields", "/web/manage/audit", "/web/manage/reviews"):
        assert client.get(path).status_code == 403, path


def test_management_team_places_reviews_and_lifts_a_shield(client, sessions):
    child = seed_child(sessions)
    add_user(sessions, "mags", ["management_team"], name="Mags Ward")
    sign_in(client, sessions, "mags")
    page = client.get("/web/manage/shields")
    assert "no shields in force" in page.text
    r = client.post(
        "/web/manage/shields/place",
        data={"directory_id": child.directory_id, "reason": "police_protection", "csrf_token": csrf_of(page.text)},
    )
    assert r.status_code == 200 and "The shield is placed" in r.text and child.family_name in r.text
    r = client.post("/web/manage/shields/review", data={"directory_id": child.directory_id, "csrf_token": csrf_of(r.text)})
    assert "The review is recorded" in r.text
    r = client.post(
        "/web/manage/shields/lift",
        data={"directory_id": child.directory_id, "reason": "no_longer_needed", "csrf_token": csrf_of(r.text)},
    )
    assert "The shield is lifted" in r.text and "no shields in force" in r.text


def test_subject_access_report_and_audit_review(client, sessions):
    child = seed_child(sessions)
    add_user(sessions, "pat", ["practitioner"])
    add_user(sessions, "mags", ["management_team"], name="Mags Ward")
    sign_in(client, sessions, "pat")
    _open_first(client, _search(client, identifier=child.directory_id).text)
    client.cookies.clear()
    sign_in(client, sessions, "mags")
    page = client.get("/web/manage/subject-access")
    r = client.post("/web/manage/subject-access", data={"directory_id": child.directory_id, "csrf_token": csrf_of(page.text)})
    assert r.status_code == 200 and f"Report for {child.directory_id}" in r.text
    assert "Pat Jones" in r.text and "ReadChild" in r.text
    r = client.post("/web/manage/subject-access", data={"directory_id": "", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 400 and "Enter the child" in r.text
    audit = client.post("/web/manage/audit", data={"days": "30", "csrf_token": csrf_of(page.text)})
    assert audit.status_code == 200 and "Audit review" in audit.text
    reviews = client.get("/web/manage/reviews")
    assert reviews.status_code == 200 and "Nothing is waiting for review" in reviews.text


def test_a_refused_management_action_is_audited_and_answered_with_its_status(client, sessions):
    from sqlalchemy import select

    from cpbridge.directory.audit_tables import AuditRow

    child = seed_child(sessions)
    add_user(sessions, "brad", ["management_team"], name="Brad Ford", local_authority="E08000032")
    sign_in(client, sessions, "brad")
    page = client.get("/web/manage/shields")
    shield(sessions, child.directory_id)  # placed by Leeds: only Leeds may lift it
    r = client.post(
        "/web/manage/shields/lift",
        data={"directory_id": child.directory_id, "reason": "no_longer_needed", "csrf_token": csrf_of(page.text)},
    )
    assert r.status_code == 403 and "There is a problem" in r.text
    r = client.post("/web/manage/subject-access", data={"directory_id": child.directory_id, "csrf_token": csrf_of(r.text)})
    assert r.status_code == 403  # another authority's child: not a form error
    with sessions() as s:
        refused = [(a.operation, a.outcome) for a in s.scalars(select(AuditRow).where(AuditRow.user_id == "brad"))]
    assert ("LiftShield", "refused:NotAuthorised") in refused
    assert ("SubjectAccess", "refused:NotAuthorised") in refused
