"""Fixtures shared by the audit and lifecycle tests: a live directory (SQLite) and stores on SQLite
and PostgreSQL. Each folder's conftest imports them."""

from __future__ import annotations

import pytest
import zeep
from audit_helpers import LiveDirectory, settings_for

from cpbridge.directory.app import create_app
from cpbridge.directory.db import make_engine, migrate, session_factory
from cpbridge.testing import serve


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The directory served on a free port for this module, with sessions on its SQLite store."""
    settings = settings_for(tmp_path_factory.mktemp("audit-directory"))
    app = create_app(settings)
    with serve(app) as base:
        url = f"{base}/directory/soap"
        engine = make_engine(settings.directory_db_url())
        try:
            yield LiveDirectory(url, zeep.Client(f"{url}?wsdl").wsdl, session_factory(engine))
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'directory.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def sessions(store_url):
    """A sessionmaker on a freshly migrated store (SQLite and PostgreSQL)."""
    migrate(store_url)
    engine = make_engine(store_url)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()
