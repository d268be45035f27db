"""The directory's database: engine, sessions and migrations.

SQLite (the default, ``Settings.directory_db_url()``) runs with WAL, foreign keys
and a busy timeout; PostgreSQL is used by URL (``postgresql+psycopg://``). The
schema is owned by the Alembic scripts in ``migrations/`` (version table
``alembic_version_directory``); :func:`migrate` brings a database to the newest.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cpbridge import db as shared_db

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_directory"


def make_engine(url: str, **kwargs) -> Engine:
    """An engine for ``url`` (SQLite gets WAL, foreign keys on and a busy timeout)."""
    return shared_db.make_engine(url, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit (results are built after the write)."""
    return sessionmaker(engine, expire_on_commit=False)


def migrate(url_or_engine: str | Engine) -> None:
    """Apply every directory migration not yet applied to the database."""
    if isinstance(url_or_engine, Engine):
        shared_db.migrate(url_or_engine, MIGRATIONS, VERSION_TABLE)
        return
    engine = make_engine(url_or_engine)
    try:
        shared_db.migrate(engine, MIGRATIONS, VERSION_TABLE)
    finally:
        engine.dispose()
