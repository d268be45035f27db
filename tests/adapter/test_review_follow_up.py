"""Events the directory holds for identity review: followed up, all of them, and never pruned while held."""

from __future__ import annotations

from datetime import timedelta

from cpbridge.adapter.housekeeping import ReviewFollowUp
from cpbridge.adapter.outbox import Outbox
from cpbridge.model import WriteResult

from .test_outbox import opened


class HoldingDirectory:
    """Answers every resend as still held, and remembers what it was asked about."""

    def __init__(self):
        self.asked: list[str] = []

    def apply(self, operation, payload):
        self.asked.append(payload["eventId"])
        return WriteResult(event_id=payload["eventId"], outcome="duplicate", match_outcome="review", reason_code="uncertain")


def held_rows(outbox: Outbox, n: int) -> None:
    for i in range(n):
        child = {"givenNames": "Ava", "familyName": "Khan", "dateOfBirth": "2016-04-01",
                 "identifier": [{"scheme": "local", "value": f"C-{i}", "system": "ics"}]}  # fmt: skip
        outbox.accept("ics", f"m{i}", "referral", [opened(f"m{i}", child=child, ref=f"R{i}")])
        row = outbox.claim(1)[0]
        outbox.delivered(row, WriteResult(event_id=row.event_id, outcome="queued_for_review", match_outcome="review"))


def test_every_held_event_is_followed_up_and_none_is_pruned_while_held(sqlite_url):
    outbox = Outbox(sqlite_url)
    held_rows(outbox, 60)
    directory = HoldingDirectory()
    assert ReviewFollowUp(outbox, directory, interval=0, batch=25).follow_up_once() == 0
    assert len(set(directory.asked)) == 60  # every page, not just the first
    assert outbox.prune(timedelta(seconds=-1)) == 0  # still held: the local system has not heard the outcome
    assert outbox.counts()["delivered"] == 60
    outbox.close()
