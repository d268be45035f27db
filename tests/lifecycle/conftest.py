"""Fixtures for the lifecycle tests: the audit tests' live directory and stores (tests/audit/audit_fixtures.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "audit"))

from audit_fixtures import live, sessions, store_url  # noqa: E402, F401  (fixtures)
