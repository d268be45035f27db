"""Fixtures for the directory: a live server, zeep clients, and stores on SQLite and PostgreSQL.

Reuse elsewhere: ``cpbridge.testing.serve(create_app(settings))`` runs the
directory on a free localhost port for as long as a ``with`` block (see
``directory_server`` below for the settings); the root conftest's ``serve`` fixture
does the same per test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import zeep
from directory_helpers import ORG, SECRET
from zeep.wsse.username import UsernameToken

from cpbridge.codes import ActorRole, ReasonCode
from cpbridge.directory.app import create_app
from cpbridge.directory.auth import Caller
from cpbridge.directory.db import make_engine, migrate, session_factory
from cpbridge.testing import serve as serve_app
from cpbridge.model import Actor
from cpbridge.settings import DirectorySettings, Settings, SystemAccount


@pytest.fixture
def caller() -> Caller:
    """The ICS feed's system account acting for itself."""
    return Caller(
        account="adapter",
        organisation=ORG,
        actor=Actor(user_id="svc-ics", organisation=ORG, role=ActorRole.system),
        reason=ReasonCode.record_update,
    )


# --- stores on SQLite and PostgreSQL ---------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """The embedded default, and a fresh schema on the real PostgreSQL (the root conftest's
    ``pg_url``, which fails rather than skips when PostgreSQL is down)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'directory.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def sessions(store_url):
    """A sessionmaker on a freshly migrated directory store."""
    migrate(store_url)
    engine = make_engine(store_url)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


# --- the live service ------------------------------------------------------------------


def directory_settings(data_dir: Path, **directory) -> Settings:
    accounts = {
        "adapter": SystemAccount(secret=SECRET, organisation=ORG),
        "restricted": SystemAccount(secret="restricted-secret", organisation="Bradford", organisations=["Bradford MDC"]),
    }
    return Settings(data_dir=data_dir, directory=DirectorySettings(accounts=accounts, **directory))


@pytest.fixture(scope="session")
def directory_server(tmp_path_factory) -> str:
    """The directory on SQLite, served on a free localhost port for the whole session."""
    settings = directory_settings(tmp_path_factory.mktemp("directory"), max_message_bytes=64 * 1024)
    with serve_app(create_app(settings)) as base:
        yield base


@pytest.fixture
def soap_url(directory_server) -> str:
    return f"{directory_server}/directory/soap"


@pytest.fixture(scope="session")
def served_wsdl(directory_server):
    """The served WSDL, parsed once by zeep (clients made from it are cheap)."""
    return zeep.Client(f"{directory_server}/directory/soap?wsdl").wsdl


@pytest.fixture
def zeep_client(served_wsdl) -> zeep.Client:
    """A zeep client authenticating as 'adapter' with a PasswordDigest UsernameToken."""
    return zeep.Client(wsdl=served_wsdl, wsse=UsernameToken("adapter", SECRET, use_digest=True))
