"""A record held for identity review: the local system first hears `queued_for_review`, and once
the management team decides, the adapter asks again and the final outcome reaches GetStatus."""

from __future__ import annotations

from datetime import UTC, date, datetime

from cpbridge.codes import ActorRole, ReasonCode
from cpbridge.directory import review
from cpbridge.directory.auth import Caller
from cpbridge.directory.db import make_engine, session_factory
from cpbridge.identifiers import nhs_check_digit
from cpbridge.model import Actor, Address, ChildIdentity, Identifier, InvolvementOpened, event_id_for


def nhs(seed: int) -> str:
    while nhs_check_digit(f"{seed:09d}") is None:
        seed += 1
    return f"{seed:09d}{nhs_check_digit(f'{seed:09d}')}"


def sophie(nhs_number: str | None, postcode: str | None, line: str = "14 Beech Grove") -> ChildIdentity:
    return ChildIdentity(
        given_names="Sophie",
        family_name="Turner",
        date_of_birth=date(2015, 3, 4),
        gender="female",
        address=Address(lines=[line, "Leeds"], postcode=postcode) if postcode else None,
        identifiers=[Identifier(scheme="nhs_number", value=nhs_number)] if nhs_number else [],
    )


def opened(message_id: str, child: ChildIdentity, ref: str) -> InvolvementOpened:
    return InvolvementOpened(
        event_id=event_id_for("ics", message_id, 0),
        source_system="ics",
        occurred_at=datetime(2024, 5, 1, 9, tzinfo=UTC),
        child=child,
        involvement={"localReference": ref, "service": "social_care", "organisation": "Leeds City Council", "startDate": "2024-04-30"},
    )


def test_the_final_outcome_of_a_reviewed_record_reaches_the_local_system(stack_factory):
    stack = stack_factory()
    outbox = stack.runtime.outbox
    outbox.accept("ics", "m-a", "ReferralAccepted", [opened("m-a", sophie(nhs(412000001), "LS8 3PQ"), "R-A")])
    outbox.accept("ics", "m-b", "ReferralAccepted", [opened("m-b", sophie(nhs(412000101), "LS8 3PR", "16 Beech Grove"), "R-B")])
    stack.wait_delivered()
    held = outbox.accept("ics", "m-c", "ReferralAccepted", [opened("m-c", sophie(None, None), "R-C")])
    stack.wait_delivered()
    [event] = outbox.status(held.tracking_id)["events"]
    assert (event["status"], event["outcome"], event["matchOutcome"], event["directoryId"]) == (
        "delivered", "queued_for_review", "review", None,
    )  # fmt: skip

    follow_up = stack.runtime.review_follow_up
    assert follow_up.follow_up_once() == 0  # still held: nothing changes

    sessions = session_factory(make_engine(stack.settings.directory_db_url()))
    team = Caller(
        account="web",
        organisation="Leeds City Council",
        actor=Actor(user_id="mt-jones", organisation="Leeds City Council", role=ActorRole.management_team),
        reason=ReasonCode.case_coordination,
        local_authority="E08000035",
    )
    with sessions.begin() as s:
        [case] = review.open_cases(s, "E08000035", caller=team)
        chosen = review.case(s, case.id, caller=team).candidates[0].directory_id
        review.resolve_link(s, team, case.id, chosen)

    assert follow_up.follow_up_once() == 1
    [event] = outbox.status(held.tracking_id)["events"]
    assert (event["matchOutcome"], event["reasonCode"], event["directoryId"]) == ("matched", "review_linked", chosen)
    assert follow_up.follow_up_once() == 0  # settled rows are not asked about again
