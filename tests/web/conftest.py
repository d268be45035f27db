"""Fixtures for the web link and the panel: the directory app with both mounted, on SQLite."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from web_helpers import settings_for

from cpbridge.directory.app import create_app


@pytest.fixture
def settings(tmp_path):
    return settings_for(tmp_path)


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def sessions(app):
    return app.state.endpoint.sessions


@pytest.fixture
def client(app):
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as c:
        yield c
