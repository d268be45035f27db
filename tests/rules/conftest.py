"""Fixtures for the directory rules: a live directory with role-configured accounts, zeep
clients per account, direct sessions on the same store, and stores on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import zeep
from rules_helpers import SECRETS, SYSTEM, rules_settings
from zeep.wsse.username import UsernameToken

from cpbridge.contract import EVENT_OPERATIONS
from cpbridge.directory import search
from cpbridge.directory.app import create_app
from cpbridge.directory.db import make_engine, migrate, session_factory
from cpbridge.testing import serve as serve_app

@pytest.fixture(autouse=True)
def generous_rate_limit(monkeypatch):
    """Each test gets its own buckets (the rate-limit tests install a small limiter)."""
    monkeypatch.setattr(search, "RATE_LIMITER", search.RateLimiter(10_000))


@pytest.fixture(scope="session")
def rules_server(tmp_path_factory):
    """The directory on SQLite for the whole session: (base URL, database URL)."""
    settings = rules_settings(tmp_path_factory.mktemp("rules-directory"))
    with serve_app(create_app(settings)) as base:
        yield base, settings.directory_db_url()


@pytest.fixture(scope="session")
def store(rules_server):
    """Sessions on the live server's own database (to place shields as the web pages would)."""
    engine = make_engine(rules_server[1])
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def rules_wsdl(rules_server):
    return zeep.Client(f"{rules_server[0]}/directory/soap?wsdl").wsdl


@pytest.fixture
def soap_url(rules_server) -> str:
    return f"{rules_server[0]}/directory/soap"


@pytest.fixture
def client(rules_wsdl):
    """``client(account)``: a zeep client with a PasswordDigest token for that account."""

    def make(account: str = "leeds") -> zeep.Client:
        return zeep.Client(wsdl=rules_wsdl, wsse=UsernameToken(account, SECRETS[account], use_digest=True))

    return make


@pytest.fixture
def send(client):
    """Send a canonical event as the adapter's delivery client does (system role)."""

    def _send(event, *, account: str = "adapter", header: dict | None = None):
        wire = event.model_dump(mode="json", by_alias=True, exclude_none=True)
        op = EVENT_OPERATIONS[wire.pop("type")]
        return getattr(client(account).service, op)(**wire, _soapheaders=header or SYSTEM)

    return _send


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request, tmp_path):
    """A sessionmaker on a freshly migrated store (PostgreSQL fails, never skips, when down)."""
    url = f"sqlite:///{tmp_path / 'directory.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    migrate(url)
    engine = make_engine(url)
    yield session_factory(engine)
    engine.dispose()
