"""Fixtures shared by every test folder: databases and paths.

PostgreSQL tests never skip: if 127.0.0.1:5432 is unreachable they fail, so
CI cannot go green without having exercised the production database.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
PG_BASE = os.environ.get("CPBRIDGE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_url():
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # pragma: no cover - environment problem, must be loud
        pytest.fail(f"PostgreSQL at {PG_BASE} is required for this test and is unreachable: {exc}")
    yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    """Runs a storage test on the embedded default and on the real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("pg_url")


# --- running services on localhost ---------------------------------------------------

from cpbridge.testing import ServerThread  # noqa: E402


@pytest.fixture
def serve():
    """Start ASGI apps on free ports; all are stopped at the end of the test."""
    started: list[ServerThread] = []

    def _serve(app, port: int | None = None) -> ServerThread:
        st = ServerThread(app, port).start()
        started.append(st)
        return st

    yield _serve
    for st in reversed(started):
        st.stop()


# --- counts the fault tests report (tests/faults; printed even without -s, also under xdist) ---

_FAULT_SUMMARIES: list[str] = []


def pytest_runtest_logreport(report):
    if report.when == "teardown":
        _FAULT_SUMMARIES.extend(v for k, v in report.user_properties if k == "fault_summary")


def pytest_terminal_summary(terminalreporter):
    if _FAULT_SUMMARIES:
        terminalreporter.section("delivery under faults (tests/faults)")
        for line in sorted(set(_FAULT_SUMMARIES)):
            terminalreporter.write_line(line)
