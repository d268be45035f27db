"""The statistics extract: pseudonymised, no direct identifiers, small counts suppressed."""

from __future__ import annotations

import json
from datetime import date

import pytest
from audit_helpers import caller
from directory_helpers import new_identity, opened
from sqlalchemy import select
from typer.testing import CliRunner

from cpbridge.codes import ActorRole
from cpbridge.directory import extract, service
from cpbridge.directory.audit_tables import AuditRow

SYSTEM = caller(role=ActorRole.system, user_id="svc-ics")
KEY = b"k" * 32


@pytest.fixture
def populated(sessions):
    """12 children with a social care involvement (one a sensitive service) and 3 with youth offending."""
    identities = []
    with sessions.begin() as s:
        for _ in range(12):
            ident = new_identity()
            identities.append(ident)
            service.register_involvement(s, SYSTEM, opened(ident))
        for ident in identities[:3]:
            service.register_involvement(s, SYSTEM, opened(ident, service="youth_offending"))
        consent = {"given_by": "child", "recorded_on": date(2024, 4, 1)}
        service.register_involvement(s, SYSTEM, opened(identities[0], service="sexual_health", consent=consent))
    return identities


def test_no_direct_identifiers_leave(sessions, populated):
    with sessions.begin() as s:
        data = extract.build_extract(s, caller(role=ActorRole.administrator), KEY, date(2024, 6, 1))
    text = json.dumps(data)
    for ident in populated:
        for value in (ident.family_name, ident.given_names, "Millie", "2015-03-02", "LS8 3PQ", "Beech Grove", *(i.value for i in ident.identifiers)):
            assert value not in text
    assert "Jo Bloggs" not in text and "leeds.gov.uk" not in text
    assert len(data["records"]) == 12
    rec = data["records"][0]
    # no services on records: a record-level service list would let anyone recount the suppressed cells
    assert set(rec) == {"pseudonym", "birthYear", "ageBand", "gender", "localAuthority", "leadProfessional", "cafCompleted"}
    assert (rec["birthYear"], rec["ageBand"], rec["localAuthority"]) == (2015, "5-10", "E08000035")


def test_sensitive_services_are_named_nowhere(sessions, populated):
    with sessions.begin() as s:
        data = extract.build_extract(s, caller(role=ActorRole.administrator), KEY, date(2024, 6, 1))
    text = json.dumps(data)
    assert not any(name in text for name in ("sexual_health", "mental_health", "substance_misuse"))
    assert {c["service"] for c in data["counts"]} == {"social_care", "youth_offending", "unspecified"}


def test_suppressed_cells_cannot_be_recounted_from_the_records(sessions, populated):
    """Every dimension a count is made of must not be on the records all together: otherwise
    grouping the records gives back each suppressed cell (the review's h8)."""
    with sessions.begin() as s:
        data = extract.build_extract(s, caller(role=ActorRole.administrator), KEY, date(2024, 6, 1))
    count_dimensions = {k for c in data["counts"] for k in c if k != "involvements"}
    for rec in data["records"]:
        assert not count_dimensions <= set(rec)
        assert not any("service" in key.lower() for key in rec)


def test_small_counts_are_suppressed(sessions, populated):
    with sessions.begin() as s:
        data = extract.build_extract(s, caller(role=ActorRole.administrator), KEY, date(2024, 6, 1))
    cells = {(c["service"], c["ageBand"]): c["involvements"] for c in data["counts"]}
    assert cells[("social_care", "5-10")] == 12
    assert cells[("youth_offending", "5-10")] == "<10"
    assert cells[("unspecified", "5-10")] == "<10"  # the sexual health involvement, masked as records are
    assert not any(isinstance(v, int) and v < 10 for v in cells.values())


def test_pseudonyms_are_keyed(sessions, populated):
    def pseudonyms(key: bytes) -> set[str]:
        with sessions.begin() as s:
            return {r["pseudonym"] for r in extract.build_extract(s, caller(role=ActorRole.administrator), key)["records"]}

    first, again, other = pseudonyms(KEY), pseudonyms(KEY), pseudonyms(b"z" * 32)
    assert first == again and len(first) == 12
    assert not first & other
    assert extract.pseudonym(KEY, "CP1234567890") != extract.pseudonym(KEY, "CP1234567891")


def test_cli_extract_writes_the_file_and_audits_it(sessions, populated, store_url, monkeypatch, tmp_path):
    from cpbridge.cli import app
    from cpbridge.directory.commands_audit import register

    register(app)
    monkeypatch.setenv("CPBRIDGE_DIRECTORY__DATABASE_URL", store_url)
    monkeypatch.setenv("CPBRIDGE_DATA_DIR", str(tmp_path))
    key, out = tmp_path / "extract.key", tmp_path / "extract.json"
    key.write_text("short\n")
    refused = CliRunner().invoke(app, ["directory", "extract", "--out", str(out), "--key-file", str(key)])
    assert refused.exit_code == 2 and "at least 32" in refused.output and not out.exists()
    key.write_text("0123456789abcdef" * 4 + "\n")
    done = CliRunner().invoke(app, ["directory", "extract", "--out", str(out), "--key-file", str(key), "--today", "2024-06-01"])
    assert done.exit_code == 0, done.output
    data = json.loads(out.read_text())
    assert data["format"] == extract.FORMAT and len(data["records"]) == 12
    with sessions() as s:
        rows = s.scalars(select(AuditRow).where(AuditRow.operation == "StatisticsExtract")).all()
    assert [(r.outcome, r.detail, r.directory_id) for r in rows] == [("done", f"records=12 cells={len(data['counts'])}", None)]
