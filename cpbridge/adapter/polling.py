"""Polls the intake sources plugins register (watched folders) and feeds the intake."""

from __future__ import annotations

import threading

import structlog

from ..faults import Fault
from ..systems import IntakeSource, LocalSystem
from ..xmlsafe import parse_xml
from .intake import Intake

log = structlog.get_logger("cpbridge.polling")


class SourcePoller:
    def __init__(self, intake: Intake, sources: list[tuple[LocalSystem, IntakeSource]], *, interval: float = 5.0):
        self.intake = intake
        self.sources = sources
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> int:
        """Take everything waiting in every source; return how many messages were accepted."""
        accepted = 0
        for system, source in self.sources:
            for item in source.poll():
                try:
                    root = item.root if item.root is not None else parse_xml(item.data or b"")
                    self.intake.handle(system, root, message_id=item.message_id)
                except Fault as fault:
                    item.rejected(fault)
                    continue
                item.accepted()
                accepted += 1
        return accepted

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # a folder briefly unreadable must not stop polling
                log.error("poll_failed", error=type(exc).__name__)
            self._stop.wait(self.interval)

    def start(self) -> None:
        if self.sources and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="cpbridge-sources", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
