"""The hash chain: intact after many writers; every edit, deletion and insertion is found (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from audit_helpers import caller
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from cpbridge.directory import audit
from cpbridge.directory.audit_tables import GENESIS_HASH, AuditRow


def append(sessions, n: int, user: str = "jbloggs") -> None:
    with sessions.begin() as s:
        for i in range(n):
            audit.record(s, caller(user_id=user), "ReadChild", outcome="full", directory_id=f"CP00000000{i % 10:02d}"[:12], child_id=i)


def tamper(sessions, sql: str, **params) -> None:
    """Run ``sql`` as someone with the table owner's rights (append-only triggers switched off)."""
    with sessions.begin() as s:
        if s.bind.dialect.name == "postgresql":
            s.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            s.execute(text(sql), params)
            s.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        else:
            s.execute(text("DROP TRIGGER audit_log_no_update"))
            s.execute(text("DROP TRIGGER audit_log_no_delete"))
            s.execute(text(sql), params)


def problems(sessions, anchors=()) -> list[tuple[int, str]]:
    with sessions() as s:
        return [(p.seq, p.kind) for p in audit.verify(s, anchors).problems]


def test_an_untouched_chain_verifies(sessions):
    append(sessions, 5)
    append(sessions, 3)
    with sessions() as s:
        report = audit.verify(s)
        first = s.get(AuditRow, 1)
    assert report.ok and report.rows == 8 and report.head_seq == 8
    assert first.prev_hash == GENESIS_HASH
    assert first.row_hash == audit.row_hash({c: getattr(first, c) for c in audit.CONTENT_COLUMNS})


def test_the_log_refuses_update_and_delete(sessions):
    append(sessions, 2)
    for sql in ("UPDATE audit_log SET user_id = 'someone' WHERE seq = 1", "DELETE FROM audit_log WHERE seq = 2"):
        with pytest.raises(DBAPIError, match="append-only"):
            with sessions.begin() as s:
                s.execute(text(sql))
    assert problems(sessions) == []


def test_an_edited_row_is_named(sessions):
    append(sessions, 6)
    tamper(sessions, "UPDATE audit_log SET user_id = 'someone_else' WHERE seq = 3")
    assert problems(sessions) == [(3, "edited")]


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(sessions):
    append(sessions, 6)
    with sessions() as s:
        row = {c: getattr(s.get(AuditRow, 3), c) for c in audit.CONTENT_COLUMNS}
    row["outcome"] = "no_match"
    tamper(sessions, "UPDATE audit_log SET outcome = 'no_match', row_hash = :h WHERE seq = 3", h=audit.row_hash(row))
    assert problems(sessions) == [(4, "relinked")]


def test_a_deleted_row_is_named(sessions):
    append(sessions, 6)
    tamper(sessions, "DELETE FROM audit_log WHERE seq = 4")
    assert problems(sessions) == [(4, "deleted")]


def test_deleted_rows_at_the_end_are_named(sessions):
    append(sessions, 6)
    tamper(sessions, "DELETE FROM audit_log WHERE seq >= 5")
    assert problems(sessions) == [(5, "deleted")]


def _forge(sessions, seq: int, good_hash: bool) -> None:
    with sessions() as s:
        prev = s.get(AuditRow, seq - 1)
        row = {c: getattr(prev, c) for c in audit.CONTENT_COLUMNS}
    row.update(seq=seq, user_id="forged", prev_hash=prev.row_hash)
    row["row_hash"] = audit.row_hash(row) if good_hash else "f" * 64
    cols = ", ".join(row)
    tamper(sessions, f"INSERT INTO audit_log ({cols}) VALUES ({', '.join(':' + c for c in row)})", **row)


def test_a_forged_row_is_named(sessions):
    append(sessions, 4)
    _forge(sessions, 5, good_hash=False)
    assert problems(sessions) == [(5, "edited"), (5, "inserted")]


def test_a_forged_row_with_a_correct_hash_is_beyond_the_head(sessions):
    append(sessions, 4)
    _forge(sessions, 5, good_hash=True)
    assert problems(sessions) == [(5, "inserted")]


def test_an_anchor_catches_a_truncation_that_also_rewound_the_head(sessions):
    append(sessions, 5)
    with sessions() as s:
        kept = audit.anchor(s)
    assert audit.Anchor.parse(kept.line()) == kept.__class__(kept.seq, kept.row_hash, kept.at.replace(microsecond=0))
    tamper(sessions, "DELETE FROM audit_log WHERE seq >= 4")
    with sessions.begin() as s:
        prev = s.get(AuditRow, 3)
        s.execute(text("UPDATE audit_head SET seq = 3, row_hash = :h"), {"h": prev.row_hash})
    assert problems(sessions) == []  # the database alone cannot tell ...
    assert problems(sessions, [kept]) == [(5, "anchor")]  # ... the anchor kept elsewhere can


def test_concurrent_writers_make_one_unbroken_chain(sessions):
    errors: list[BaseException] = []

    def work(user: str) -> None:
        try:
            for _ in range(5):
                append(sessions, 3, user=user)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"user{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with sessions() as s:
        report = audit.verify(s)
    assert report.ok, report.problems
    assert report.rows == report.head_seq == 4 * 5 * 3


def test_a_rolled_back_transaction_leaves_no_audit_row(sessions):
    append(sessions, 1)
    with pytest.raises(RuntimeError):
        with sessions.begin() as s:
            audit.record(s, caller(), "ReadChild", outcome="full")
            raise RuntimeError("the access failed")
    with sessions() as s:
        assert audit.verify(s).rows == 1


def test_cli_verify_exits_non_zero_and_names_the_row(sessions, store_url, monkeypatch, tmp_path):
    from cpbridge.cli import app
    from cpbridge.directory.commands_audit import register

    register(app)
    monkeypatch.setenv("CPBRIDGE_DIRECTORY__DATABASE_URL", store_url)
    monkeypatch.setenv("CPBRIDGE_DATA_DIR", str(tmp_path))
    append(sessions, 3)
    runner = CliRunner()
    anchors = tmp_path / "anchors.txt"
    assert runner.invoke(app, ["audit", "anchor", "--append", str(anchors)]).exit_code == 0
    ok = runner.invoke(app, ["audit", "verify", "--anchor-file", str(anchors)])
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    tamper(sessions, "UPDATE audit_log SET reason = 'safeguarding' WHERE seq = 2")
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "edited" in broken.output and "row 2 was edited" in broken.output
