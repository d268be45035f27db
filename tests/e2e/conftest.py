"""A whole stack on localhost: the reference directory and the adapter, SQLite under tmp_path."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from cpbridge.adapter.app import create_app as adapter_app
from cpbridge.adapter.runtime import AdapterRuntime
from cpbridge.directory.app import create_app as directory_app
from cpbridge.logging import configure_logging
from cpbridge.settings import AdapterSettings, DirectorySettings, Settings

from cpbridge.settings import PROJECT_ROOT as ROOT
from cpbridge.testing import ServerThread, free_port


@dataclass
class Stack:
    settings: Settings
    runtime: AdapterRuntime
    adapter: ServerThread
    directory: ServerThread | None
    data_dir: Path
    log_file: Path

    def start_directory(self) -> ServerThread:
        self.directory = ServerThread(directory_app(self.settings), self.settings.directory.port).start()
        return self.directory

    def stop_directory(self) -> None:
        if self.directory:
            self.directory.stop()
            self.directory = None

    def wait_delivered(self, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            counts = self.runtime.outbox.counts()
            if counts["pending"] == 0:
                return counts
            time.sleep(0.05)
        raise AssertionError(f"outbox not drained: {self.runtime.outbox.counts()}")


def make_settings(data_dir: Path) -> Settings:
    dport = free_port()
    return Settings(
        data_dir=data_dir,
        directory=DirectorySettings(port=dport),
        adapter=AdapterSettings(
            port=free_port(),
            directory_url=f"http://127.0.0.1:{dport}/directory/soap",
            poll_interval=0.05,
            backoff_initial=0.05,
            backoff_max=0.5,
            mappings_dir=ROOT / "mappings",
        ),
    )


@pytest.fixture
def stack_factory(tmp_path):
    made: list[Stack] = []

    def make(*, with_directory: bool = True) -> Stack:
        data_dir = tmp_path / "data"
        data_dir.mkdir(exist_ok=True)
        log_file = tmp_path / "cpbridge.log"
        configure_logging("debug", stream=log_file.open("a"))
        settings = make_settings(data_dir)
        runtime = AdapterRuntime(settings)
        stack = Stack(settings, runtime, None, None, data_dir, log_file)  # type: ignore[arg-type]
        if with_directory:
            stack.start_directory()
        stack.adapter = ServerThread(adapter_app(runtime), settings.adapter.port).start()
        made.append(stack)
        return stack

    yield make
    for s in made:
        s.adapter.stop()
        s.stop_directory()
        s.runtime.close()
