"""Make the repository's ``bench`` package importable (it is not installed with cpbridge)."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


import pytest

from cpbridge.directory.db import make_engine, migrate, session_factory


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request, tmp_path):
    """A sessionmaker on a freshly migrated directory store, on SQLite and on the real PostgreSQL
    (the root conftest's ``pg_url``, which fails rather than skips when PostgreSQL is down)."""
    url = f"sqlite:///{tmp_path / 'directory.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    migrate(url)
    engine = make_engine(url)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()
