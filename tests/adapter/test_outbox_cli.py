"""Working dead letters from the command line: list, dead, show, replay, discard, prune."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cpbridge.adapter.outbox import Outbox
from cpbridge.cli import app

from .test_outbox import CHILD, closed, ok, opened


@pytest.fixture
def cli_outbox(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    monkeypatch.setenv("CPBRIDGE_ADAPTER__DATABASE_URL", url)
    monkeypatch.setenv("CPBRIDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CPBRIDGE_CONFIG", str(tmp_path / "none.toml"))
    import cpbridge.cli

    monkeypatch.setattr(cpbridge.cli.console, "width", 220)  # tables unwrapped, so cells can be searched
    ob = Outbox(url)
    other = dict(CHILD, identifier=[{"scheme": "local", "value": "C-2", "system": "ics"}])
    ob.accept("ics", "m1", "referral", [opened("m1")])
    ob.accept("ics", "m2", "closed", [closed("m2")])
    ob.accept("ics", "m3", "referral", [opened("m3", child=other, ref="R9")])
    a, c = ob.claim(10)
    ob.park(a, "ConsentRequired", "service is sensitive: the involvement needs recorded consent")
    ob.park(c, "IdentifierConflict", "a trusted identifier belongs to a different child")
    b = ob.claim(10)[0]
    ob.delivered(b, ok(b))
    yield ob, a.id, b.id, c.id
    ob.close()


def run(*args: str):
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_dead_groups_by_reason(cli_outbox):
    code, out = run("outbox", "dead")
    assert code == 0
    assert "ConsentRequired" in out and "IdentifierConflict" in out


def test_list_dead_shows_reasons_without_payloads(cli_outbox):
    code, out = run("outbox", "list", "dead")
    assert code == 0 and "dead: 2" in out and "ConsentRequired" in out
    assert "Khan" not in out  # lists carry no personal data
    code, out = run("outbox", "list", "dead", "--code", "IdentifierConflict")
    assert "IdentifierConflict" in out and "ConsentRequired" not in out


def test_show_gives_the_reason_and_the_canonical_event(cli_outbox):
    _, dead_id, _, _ = cli_outbox
    code, out = run("outbox", "show", str(dead_id))
    assert code == 0
    assert "ConsentRequired" in out and "needs recorded consent" in out and "Khan" in out
    assert run("outbox", "show", "99999")[0] == 1


def test_replay_by_id_then_by_code(cli_outbox):
    ob, dead_id, _, other_id = cli_outbox
    assert run("outbox", "replay")[0] == 1  # says what to name
    code, out = run("outbox", "replay", str(dead_id))
    assert code == 0 and "1 dead letter(s)" in out
    assert ob.row(dead_id).status == "pending" and ob.row(dead_id).attempts == 0
    code, out = run("outbox", "replay", "--code", "IdentifierConflict")
    assert code == 0 and ob.row(other_id).status == "pending"


def test_discard_erases_the_payload_and_refuses_live_rows(cli_outbox):
    ob, dead_id, delivered_id, _ = cli_outbox
    code, _ = run("outbox", "discard", str(dead_id))
    assert code == 0 and ob.row(dead_id).status == "discarded" and ob.row(dead_id).payload == "{}"
    code, out = run("outbox", "discard", str(delivered_id))
    assert code == 1 and "not dead letters" in out


def test_prune_removes_old_delivered_rows(cli_outbox):
    ob, _, delivered_id, _ = cli_outbox
    code, out = run("outbox", "prune", "--days", "0")
    assert code == 0 and "1 row(s) pruned" in out
    assert ob.row(delivered_id) is None
