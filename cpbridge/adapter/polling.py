"""Polls the intake sources plugins register (watched folders) and feeds the intake."""

from __future__ import annotations

import structlog

from ..faults import Fault
from ..systems import IntakeSource, LocalSystem
from ..xmlsafe import parse_xml
from .background import BackgroundLoop
from .intake import Intake

log = structlog.get_logger("cpbridge.polling")


class SourcePoller(BackgroundLoop):
    """Takes what every registered source holds, every ``interval`` seconds."""

    thread_name = "cpbridge-sources"

    def __init__(self, intake: Intake, sources: list[tuple[LocalSystem, IntakeSource]], *, interval: float = 5.0):
        super().__init__(interval)
        self.intake = intake
        self.sources = sources

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

    def tick(self) -> bool:
        self.poll_once()
        return False  # wait for the next interval whatever was found

    def start(self) -> None:
        if self.sources:
            super().start()
