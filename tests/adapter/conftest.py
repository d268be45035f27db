"""Adapter test fixtures: the repository's ``bench`` helpers, an ICS-only project, an in-process stack."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture
def ics_project(tmp_path) -> Path:
    """A project folder with the ICS mapping only (others may be mid-change in the tree)."""
    root = tmp_path / "project"
    shutil.copytree(ROOT / "mappings" / "ics", root / "mappings" / "ics")
    (root / "samples").mkdir()
    (root / "samples" / "ics").symlink_to(ROOT / "samples" / "ics")
    return root


@dataclass
class FakeStack:
    runtime: object
    adapter: object
    directory: object
    fake: object
    log_file: Path

    @property
    def url(self) -> str:
        return self.adapter.url


@pytest.fixture
def fake_stack(ics_project, tmp_path):
    """The adapter (in this process, worker running) delivering to a FakeDirectory; logs as JSON to a file."""
    from bench.delivery_directory import FakeDirectory
    from cpbridge.adapter.app import create_app
    from cpbridge.adapter.runtime import AdapterRuntime
    from cpbridge.logging import configure_logging
    from cpbridge.settings import AdapterSettings, DirectorySettings, Settings
    from cpbridge.testing import ServerThread, free_port

    made = []

    def make(**adapter):
        log_file = tmp_path / "adapter.jsonl"
        configure_logging("debug", stream=log_file.open("a"))
        fake = FakeDirectory()
        dport = free_port()
        directory = ServerThread(fake.app, dport).start()
        options = dict(
            port=free_port(),
            directory_url=f"http://127.0.0.1:{dport}/directory/soap",
            directory_timeout=2.0,
            poll_interval=0.05,
            backoff_initial=0.05,
            backoff_max=0.3,
            mappings_dir=ics_project / "mappings",
        )
        options.update(adapter)
        settings = Settings(data_dir=tmp_path / "data", directory=DirectorySettings(port=dport), adapter=AdapterSettings(**options))
        runtime = AdapterRuntime(settings)
        server = ServerThread(create_app(runtime), settings.adapter.port).start()
        made.append(FakeStack(runtime, server, directory, fake, log_file))
        return made[-1]

    yield make
    for s in made:
        s.adapter.stop()
        s.directory.stop()
        s.runtime.close()
