"""Fixtures for the audit tests: a live directory (SQLite) and stores on SQLite and PostgreSQL."""

from audit_fixtures import live, sessions, store_url  # noqa: F401  (fixtures)
