"""Fault tests: crashes, outages, a misbehaving directory, hostile input.

Helpers: a throw-away project holding only the ICS mapping (other systems'
mappings may be mid-change in the tree), an adapter run as a real
``cpbridge adapter serve`` subprocess that can be killed with SIGKILL, a client
that resends until acknowledged, and ``fault_summary`` — each test's counts,
printed at the end of the run by the terminal summary hook in tests/conftest.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cpbridge.settings import AdapterSettings, DirectorySettings, Settings
from cpbridge.testing import free_port

VENV_BIN = Path(sys.executable).parent
ADAPTER_NS = "{urn:cpbridge:adapter:1}"


@pytest.fixture
def project(tmp_path) -> Path:
    """A project folder with the ICS mapping only (mappings/ics, samples/ics)."""
    root = tmp_path / "project"
    shutil.copytree(ROOT / "mappings" / "ics", root / "mappings" / "ics")
    (root / "samples").mkdir()
    (root / "samples" / "ics").symlink_to(ROOT / "samples" / "ics")
    return root


def adapter_settings(project: Path, data_dir: Path, directory_port: int, **adapter) -> Settings:
    options = dict(
        port=free_port(),
        directory_url=f"http://127.0.0.1:{directory_port}/directory/soap",
        directory_timeout=2.0,
        poll_interval=0.05,
        backoff_initial=0.05,
        backoff_max=0.5,
        lease_seconds=5.0,
        mappings_dir=project / "mappings",
    )
    options.update(adapter)
    return Settings(data_dir=data_dir, directory=DirectorySettings(port=directory_port), adapter=AdapterSettings(**options))


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


class AdapterProcess:
    """``cpbridge adapter serve`` in a subprocess, configured by a TOML file; killable with SIGKILL."""

    def __init__(self, settings: Settings, workdir: Path):
        self.settings = settings
        self.port = settings.adapter.port
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = workdir / "cpbridge.toml"
        lines = [f"data_dir = {toml_value(settings.data_dir)}", 'log_level = "warning"', "[adapter]"]
        for key in (
            "host", "port", "database_url", "directory_url", "directory_timeout", "poll_interval", "backoff_initial",
            "backoff_max", "lease_seconds", "mappings_dir", "max_message_bytes", "batch_size",
        ):
            value = getattr(settings.adapter, key)
            if value is not None:
                lines.append(f"{key} = {toml_value(value)}")
        self.config.write_text("\n".join(lines) + "\n")
        self.log = (workdir / "adapter.log").open("ab")
        self.proc: subprocess.Popen | None = None
        self.kills = 0

    def start(self, timeout: float = 30.0) -> AdapterProcess:
        env = dict(os.environ, CPBRIDGE_CONFIG=str(self.config))
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "cpbridge"), "adapter", "serve"], env=env, stdout=self.log, stderr=self.log, cwd=self.config.parent
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"adapter exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"adapter did not start within {timeout}s; see {self.log.name}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, in-flight transactions and answers are cut off."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.kills += 1

    def rss_kib(self, field_name: str = "VmHWM") -> int:
        """Resident memory of the process from /proc (VmHWM: the peak so far)."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
        raise RuntimeError(f"{field_name} not in /proc status")

    def reset_peak(self) -> None:
        """Reset the process's peak-RSS mark (VmHWM) to its current RSS (Linux /proc/PID/clear_refs)."""
        assert self.proc is not None
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


@dataclass
class Sent:
    """What a resending client saw."""

    acked: dict[str, str] = field(default_factory=dict)  # message id -> tracking id
    posts: int = 0
    failures: Counter = field(default_factory=Counter)
    duplicates: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def send_until_acked(url: str, message_id: str, body: bytes, sent: Sent, *, deadline: float, pause: float = 0.05) -> str:
    """POST a SOAP message until the adapter acknowledges it; return the tracking id."""
    from lxml import etree

    while time.monotonic() < deadline:
        with sent.lock:
            sent.posts += 1
        try:
            resp = requests.post(url, data=body, headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=10)
        except requests.RequestException as exc:
            with sent.lock:
                sent.failures[type(exc).__name__] += 1
            time.sleep(pause)
            continue
        if resp.status_code == 200:
            root = etree.fromstring(resp.content)
            tracking = root.findtext(f".//{ADAPTER_NS}trackingId")
            with sent.lock:
                sent.acked[message_id] = tracking
                sent.duplicates += root.findtext(f".//{ADAPTER_NS}duplicate") == "true"
            return tracking
        with sent.lock:
            sent.failures[f"HTTP {resp.status_code}"] += 1
        time.sleep(pause)
    raise AssertionError(f"message {message_id} was never acknowledged")


@pytest.fixture
def fault_summary(request):
    """A dict of counts for this test, shown in the run's terminal summary."""
    counts: dict[str, object] = {}
    yield counts
    if counts:
        text = ", ".join(f"{k} {v}" for k, v in counts.items())
        request.node.user_properties.append(("fault_summary", f"{request.node.name}: {text}"))


@dataclass
class InProcessAdapter:
    """The adapter app served in this process (its worker thread running)."""

    settings: Settings
    runtime: object
    server: object

    @property
    def url(self) -> str:
        return self.server.url

    def wait_settled(self, timeout: float = 60.0) -> dict:
        """Wait until nothing is pending; return the outbox counts."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            counts = self.runtime.outbox.counts()
            if counts["pending"] == 0:
                return counts
            time.sleep(0.05)
        raise AssertionError(f"outbox not settled: {self.runtime.outbox.counts()}")


@pytest.fixture
def inprocess_adapter(project, tmp_path):
    """Start the adapter in this process against a directory on ``directory_port``."""
    from cpbridge.adapter.app import create_app
    from cpbridge.adapter.runtime import AdapterRuntime
    from cpbridge.logging import configure_logging
    from cpbridge.testing import ServerThread

    made: list[InProcessAdapter] = []

    def make(directory_port: int, **adapter) -> InProcessAdapter:
        configure_logging("info", stream=(tmp_path / "adapter.log").open("a"))
        settings = adapter_settings(project, tmp_path / "data", directory_port, **adapter)
        runtime = AdapterRuntime(settings)
        server = ServerThread(create_app(runtime), settings.adapter.port).start()
        made.append(InProcessAdapter(settings, runtime, server))
        return made[-1]

    yield make
    for a in made:
        a.server.stop()
        a.runtime.close()
