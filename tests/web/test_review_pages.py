"""The management team's match-review pages, on real held cases.

Every case is made by local systems' events going through the directory's service
(review_seeds): the page decisions go through cpbridge.directory.review, and the
tests check what reached the directory (the held event applied to the right child,
the merge and its undo, the audit), not just the page.
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from review_seeds import (
    BRADFORD,
    HIDDEN_POSTCODES,
    LEEDS,
    add_manager,
    duplicate_pair,
    identifier_conflict,
    involvements_of,
    manager,
    shielded_candidate,
    uncertain,
)
from sqlalchemy import select
from web_helpers import add_user, csrf_of, sign_in

from cpbridge.directory import review
from cpbridge.directory.audit_tables import AuditRow
from cpbridge.web.review_pages import field_label, level_label, value_text
from cpbridge.web.templating import Templates


def _client(app):
    return TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)


def _manager(client, sessions, user="mags", la=LEEDS, name="Mags Ward"):
    add_manager(sessions, user, la, name)
    sign_in(client, sessions, user)
    return client


def _status(sessions, case_id):
    with sessions() as db:
        return review.case(db, case_id).status


def _audited(sessions, operation):
    with sessions() as db:
        return [(r.user_id, r.outcome, r.directory_id) for r in db.scalars(select(AuditRow).where(AuditRow.operation == operation))]


def _post(client, path, page_html, **data):
    return client.post(path, data={**data, "csrf_token": csrf_of(page_html)})


def test_queue_shows_each_authority_its_own_cases_with_reason_source_and_time(app, client, sessions):
    pair, school, conflict = duplicate_pair(sessions), uncertain(sessions), identifier_conflict(sessions)
    hidden = shielded_candidate(sessions)  # shielded by Bradford: Bradford's case
    _manager(client, sessions)
    page = client.get("/web/manage/reviews")
    assert page.status_code == 200
    rows = re.findall(r'<tr class="govuk-table__row">(.*?)</tr>', page.text, re.DOTALL)[1:]
    cells = [re.sub(r"<[^>]+>|\s+", " ", row).split("  ") for row in rows]
    text = [" ".join(" ".join(c).split()) for c in cells]
    assert len(text) == 3, text
    assert "Amelia Precious Okafor, born 4 March 2015" in text[0] and "Too close to call yot" in text[0]
    assert "Sophie Turner" in text[1] and "Uncertain school" in text[1]
    assert "Noah Price" in text[2] and "Identifier conflict chis" in text[2]
    assert re.search(r"\d{1,2} \w+ \d{4}, \d{1,2}(:\d\d)?[ap]m", text[0]), text[0]  # when it arrived
    for case in (pair, school, conflict):
        assert f'href="/web/manage/reviews/{case.case_id}"' in page.text
    assert "Marsh" not in page.text and "Shielded candidate" not in page.text
    assert f"/web/manage/reviews/{hidden.case_id}" not in page.text
    assert "3 records waiting for review" in client.get("/web/manage").text

    with _client(app) as bradford:
        _manager(bradford, sessions, "brad", BRADFORD, "Bea Brown")
        theirs = bradford.get("/web/manage/reviews").text
        assert "Lily Marsh" in theirs and "Shielded candidate" in theirs and "Okafor" not in theirs


def test_case_page_shows_the_incoming_record_beside_each_candidate_with_the_evidence(client, sessions):
    case = duplicate_pair(sessions)
    _manager(client, sessions)
    page = client.get(f"/web/manage/reviews/{case.case_id}")
    assert page.status_code == 200
    html = page.text
    assert "Amelia Precious Okafor, born 4 March 2015" in html
    assert "<strong>Too close to call</strong><br>Two or more candidates are about equally likely" in html
    assert "Involvement opened" in html and "yot" in html  # the held update
    with sessions() as db:
        view = review.case(db, case.case_id)
    tables = re.findall(r'<table class="govuk-table" id="candidate-\d">(.*?)</table>', html, re.DOTALL)
    assert len(tables) == 2
    for cand, table in zip(view.candidates, tables):
        assert f"{cand.given_names} {cand.family_name} ({cand.directory_id})" in table
        rows = re.findall(r'<tr class="govuk-table__row">\s*<th scope="row"[^>]*>(.*?)</th>(.*?)</tr>', table, re.DOTALL)
        assert len(rows) == len(cand.evidence)
        for (label, cells), e in zip(rows, cand.evidence):
            values = [v.strip() for v in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.DOTALL)]
            assert values[0] == value_text(e.field, e.incoming) and values[1] == value_text(e.field, e.candidate), (label, values)
            assert values[3] == f"{e.weight:+.1f}"
    # Field by field: the middle name is part of both candidates' given names; the NHS number only one has.
    assert "Given names" in tables[0] and "Part of the name" in tables[0] and "NHS number" in tables[0]
    assert tables[0].count("Missing on one side") >= 2
    # Actions: link to either, create, and merge (two candidates).
    for cand in view.candidates:
        assert f'value="link:{cand.directory_id}"' in html
        assert f'name="keep" type="radio" value="{cand.directory_id}"' in html
    assert 'value="create"' in html and f'action="/web/manage/reviews/{case.case_id}/merge"' in html
    assert html.count('name="csrf_token"') == 3  # sign out, decision, merge


def test_linking_applies_the_held_update_to_the_chosen_child(client, sessions):
    case = uncertain(sessions)
    child = case.candidates[0]
    _manager(client, sessions)
    page = client.get(f"/web/manage/reviews/{case.case_id}")
    empty = _post(client, f"/web/manage/reviews/{case.case_id}", page.text)
    assert empty.status_code == 400 and 'class="govuk-error-summary"' in empty.text
    assert 'href="#decision"' in empty.text and "Select which child the record is about" in empty.text
    assert ("Ravi Shah", "Park Lane Primary School") not in involvements_of(sessions, child)

    done = _post(client, f"/web/manage/reviews/{case.case_id}", page.text, decision=f"link:{child}")
    assert done.status_code == 200, done.text
    assert "govuk-notification-banner--success" in done.text
    assert f"Review {case.case_id} resolved: the record is linked to {child}, 1 waiting update applied" in done.text
    assert "Nothing is waiting for review" in done.text
    # The point of the page: the school's involvement is now on the child.
    assert ("Ravi Shah", "Park Lane Primary School") in involvements_of(sessions, child)
    assert _status(sessions, case.case_id) == "linked"
    assert _audited(sessions, "ReviewResolved") == [("mags", "linked", child)]
    resolved = client.get(f"/web/manage/reviews/{case.case_id}").text
    assert "by Mags Ward: linked to " + child in resolved and 'value="create"' not in resolved
    # Sending the decision again changes nothing and says why.
    again = _post(client, f"/web/manage/reviews/{case.case_id}", page.text, decision=f"link:{child}")
    assert again.status_code == 400 and "already linked" in again.text


def test_a_refused_link_shows_an_error_summary_and_create_makes_a_new_record(client, sessions):
    case = identifier_conflict(sessions)
    other = case.candidates[0]
    _manager(client, sessions)
    page = client.get(f"/web/manage/reviews/{case.case_id}")
    assert "Identifier conflict" in page.text and "Different identifier" in page.text
    refused = _post(client, f"/web/manage/reviews/{case.case_id}", page.text, decision=f"link:{other}")
    assert refused.status_code == 409
    summary = re.search(r'<div class="govuk-error-summary".*?</div>\s*</div>', refused.text, re.DOTALL).group(0)
    assert "These are two children" in summary and 'href="#decision"' in summary
    assert _status(sessions, case.case_id) == "open"  # the refused decision left nothing behind
    assert ("Kay Moss", "Leeds Health Visiting") not in involvements_of(sessions, other)
    assert [r[1] for r in _audited(sessions, "ReviewResolved")] == ["refused:IdentifierConflict"]
    # A record that is not one of the case's candidates is not offered and not accepted.
    assert _post(client, f"/web/manage/reviews/{case.case_id}", page.text, decision="link:CP0000000000").status_code == 400

    done = _post(client, f"/web/manage/reviews/{case.case_id}", page.text, decision="create")
    assert done.status_code == 200 and "a new record CP" in done.text
    created = re.search(r"a new record (CP\d+)", done.text).group(1)
    assert created != other
    assert involvements_of(sessions, created) == [("Kay Moss", "Leeds Health Visiting")]
    assert _status(sessions, case.case_id) == "created"


def test_merge_is_confirmed_applies_the_update_to_the_record_kept_and_can_be_undone(app, client, sessions):
    case = duplicate_pair(sessions)
    kept, gone = case.candidates
    with sessions() as db:
        names = {c.directory_id: c.given_names for c in review.case(db, case.case_id).candidates}
    if names[kept] != "Amelia":  # keep the record with the NHS number
        kept, gone = gone, kept
    _manager(client, sessions)
    page = client.get(f"/web/manage/reviews/{case.case_id}")
    same = _post(client, f"/web/manage/reviews/{case.case_id}/merge", page.text, keep=kept, merge=kept)
    assert same.status_code == 400 and 'href="#merge"' in same.text and "Select two different records" in same.text
    confirm = _post(client, f"/web/manage/reviews/{case.case_id}/merge", page.text, keep=kept, merge=gone)
    assert confirm.status_code == 200 and "Merge these two records?" in confirm.text
    assert 'name="confirm" value="yes"' in confirm.text and "Yes, merge them" in confirm.text
    assert _status(sessions, case.case_id) == "open"  # nothing happens before the confirmation

    done = _post(client, f"/web/manage/reviews/{case.case_id}/merge", confirm.text, keep=kept, merge=gone, confirm="yes")
    assert done.status_code == 200, done.text
    assert f"the two records are merged into {kept}, 1 waiting update applied" in done.text
    on_kept = set(involvements_of(sessions, kept))
    assert {("Sam Patel", "Leeds Children's Social Work Service"), ("Jo Lee", "Harehills Children's Centre"),
            ("Dana Reid", "Leeds Youth Justice Service")} <= on_kept  # fmt: skip
    assert _status(sessions, case.case_id) == "merged"
    assert ("mags", "merged", kept) in _audited(sessions, "MergeChildren")
    merge_id = int(re.search(r'action="/web/manage/reviews/merges/(\d+)/undo"', done.text).group(1))
    assert f"Undo the merge of {gone} into {kept}" in done.text

    # Another authority's team cannot undo it.
    with _client(app) as bradford:
        _manager(bradford, sessions, "brad", BRADFORD, "Bea Brown")
        theirs = bradford.get("/web/manage/reviews")
        assert "Your team has not merged any records" in theirs.text and kept not in theirs.text
        refused = _post(bradford, f"/web/manage/reviews/merges/{merge_id}/undo", theirs.text, confirm="yes")
        assert refused.status_code == 404
    assert _audited(sessions, "UndoMerge") == []

    ask = _post(client, f"/web/manage/reviews/merges/{merge_id}/undo", done.text)
    assert ask.status_code == 200 and "Undo this merge?" in ask.text and "Yes, undo the merge" in ask.text
    assert _audited(sessions, "UndoMerge") == []
    undone = _post(client, f"/web/manage/reviews/merges/{merge_id}/undo", ask.text, confirm="yes")
    assert undone.status_code == 200 and f"The merge is undone: {kept} and {gone} are separate records again" in undone.text
    assert "govuk-tag--grey" in undone.text and "Undone" in undone.text
    assert involvements_of(sessions, gone) == [("Jo Lee", "Harehills Children's Centre")]
    assert ("Jo Lee", "Harehills Children's Centre") not in involvements_of(sessions, kept)
    assert ("Dana Reid", "Leeds Youth Justice Service") in involvements_of(sessions, kept)
    assert ("mags", "undone", kept) in _audited(sessions, "UndoMerge")
    twice = _post(client, f"/web/manage/reviews/merges/{merge_id}/undo", undone.text, confirm="yes")
    assert twice.status_code == 400 and "already undone" in twice.text


def test_a_merge_of_two_children_is_refused_with_an_error_summary(client, sessions):
    case = duplicate_pair(sessions)
    _manager(client, sessions)
    # Give the duplicate a different NHS number first: now they are two children.
    from review_seeds import apply, identity, nhs, opened

    with sessions() as db:
        gone = next(c.directory_id for c in review.case(db, case.case_id).candidates if c.given_names == "Precious")
        kept = next(c.directory_id for c in review.case(db, case.case_id).candidates if c.given_names == "Amelia")
    apply(sessions, opened(identity("Precious", "Okafor", postcode="LS9 6QT", line="7 Elm Road", nhs_number=nhs(),
                                    local=("ecaf", "E-Okafor")), "ecaf", "Jo Lee", "Harehills Children's Centre", "early_help"))  # fmt: skip
    page = client.get(f"/web/manage/reviews/{case.case_id}")
    refused = _post(client, f"/web/manage/reviews/{case.case_id}/merge", page.text, keep=kept, merge=gone, confirm="yes")
    assert refused.status_code == 409 and 'class="govuk-error-summary"' in refused.text
    assert 'href="#keep"' in refused.text and "These are two children" in refused.text
    assert _status(sessions, case.case_id) == "open"
    assert ("Jo Lee", "Harehills Children's Centre") not in involvements_of(sessions, kept)


def test_a_shielded_candidate_is_seen_and_resolved_only_by_the_shielding_authority(app, client, sessions):
    case = shielded_candidate(sessions)  # shielded by Bradford; sent from Leeds
    hidden_child = case.candidates[0]
    _manager(client, sessions)  # Leeds
    assert client.get(f"/web/manage/reviews/{case.case_id}").status_code == 404
    listing = client.get("/web/manage/reviews").text
    refused = _post(client, f"/web/manage/reviews/{case.case_id}", listing, decision="create")
    assert refused.status_code == 404 and "is not in your authority" in refused.text
    for response in (refused.text, listing):
        assert "Beech Grove" not in response and HIDDEN_POSTCODES[BRADFORD] not in response and hidden_child not in response
    assert _status(sessions, case.case_id) == "open"

    # The review API masks the shielded candidate's hidden fields for anyone else ...
    with sessions() as db:
        masked = review.case(db, case.case_id, caller=manager(LEEDS))
    cand = masked.candidates[0]
    assert cand.masked and cand.postcode is None and cand.address_lines == ()
    assert {e.field: e.candidate for e in cand.evidence if e.field in ("postcode", "address")} == {"postcode": None, "address": None}
    # ... and the case page shows them (and how well they agree) as hidden.
    html = Templates().render(
        "manage/review_item.html", item=masked, item_id=masked.id, errors={}, values={}, choices=[],
        reason=("Uncertain", ""), resolved_by=None, field_label=field_label, level_label=level_label, value_text=value_text, when=str, outcome="", account=None, roles=set(),
        csrf_token="", path="",
    ).body.decode()  # fmt: skip
    table = re.search(r'id="candidate-1">(.*?)</table>', html, re.DOTALL).group(1)
    assert "Hidden: shielded" in table and HIDDEN_POSTCODES[BRADFORD] not in table and "Beech Grove" not in table
    rows = dict(re.findall(r'<th scope="row"[^>]*>(.*?)</th>(.*?)</tr>', table, re.DOTALL))
    for field in ("Postcode", "Address"):  # the agreement level would tell where the child lives: hidden too
        cells = [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", rows[field], re.DOTALL)]
        assert cells[0] == "M1 1AE" if field == "Postcode" else cells[0].startswith("3 Canal Street")
        assert "Hidden: shielded" in cells[1] and cells[2:] == ["Hidden", "–"], cells
    assert "Exact" in rows["Family name"]
    assert "shielded by another authority" in html

    with _client(app) as bradford:
        _manager(bradford, sessions, "brad", BRADFORD, "Bea Brown")
        page = bradford.get(f"/web/manage/reviews/{case.case_id}")
        assert page.status_code == 200
        assert "Shielded candidate" in page.text and HIDDEN_POSTCODES[BRADFORD] in page.text and "14 Beech Grove" in page.text
        assert "Hidden: shielded" not in page.text and "do not pass them on" in page.text
        done = _post(bradford, f"/web/manage/reviews/{case.case_id}", page.text, decision=f"link:{hidden_child}")
        assert done.status_code == 200 and "resolved" in done.text
    assert ("Kay Moss", "Leeds Health Visiting") in involvements_of(sessions, hidden_child, BRADFORD)
    assert _audited(sessions, "ReviewResolved") == [("brad", "linked", hidden_child)]


def test_practitioners_get_the_not_allowed_page_and_forms_need_the_csrf_token(app, client, sessions):
    case = uncertain(sessions)
    add_user(sessions, "pat", ["practitioner"])
    sign_in(client, sessions, "pat")
    search = client.get("/web/search").text
    for path in ("/web/manage/reviews", f"/web/manage/reviews/{case.case_id}"):
        r = client.get(path)
        assert r.status_code == 403 and "You cannot see this page" in r.text and "Sophie" not in r.text
    r = _post(client, f"/web/manage/reviews/{case.case_id}", search, decision="create")
    assert r.status_code == 403 and "You cannot see this page" in r.text
    assert _status(sessions, case.case_id) == "open"

    with _client(app) as mgr:
        _manager(mgr, sessions)
        mgr.get(f"/web/manage/reviews/{case.case_id}")
        for token in (None, "forged-token"):
            data = {"decision": "create", **({"csrf_token": token} if token else {})}
            r = mgr.post(f"/web/manage/reviews/{case.case_id}", data=data)
            assert r.status_code == 403 and "Your form could not be sent" in r.text
            r = mgr.post(f"/web/manage/reviews/{case.case_id}/merge", data={**data, "keep": case.candidates[0], "confirm": "yes"})
            assert r.status_code == 403
    assert _status(sessions, case.case_id) == "open"
    assert _audited(sessions, "ReviewResolved") == []
