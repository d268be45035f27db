"""Polls the intake sources plugins register (watched folders) and feeds the intake."""

from __future__ import annotations

import structlog
from sqlalchemy.exc import DBAPIError

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
        """Take everything waiting in every source; return how many messages were accepted.

        A message refused with a fault is noted by its source and the rest carry on; an
        unexpected error in one message is a refusal too (InternalError), so one bad record
        cannot stop a folder. If the outbox itself fails, this source's pass ends and its
        file stays for the next pass. One source's trouble never holds up another's.
        """
        accepted = 0
        for system, source in self.sources:
            try:
                accepted += self._drain(system, source)
            except Exception as exc:
                log.error("source_pass_failed", system=system.id, source=source.name, error=type(exc).__name__)
        return accepted

    def _drain(self, system: LocalSystem, source: IntakeSource) -> int:
        accepted = 0
        for item in source.poll():
            try:
                root = item.root if item.root is not None else parse_xml(item.data or b"")
                self.intake.handle(system, root, message_id=item.message_id)
            except Fault as fault:
                item.rejected(fault)
                continue
            except DBAPIError:
                raise  # the outbox is away: stop here, the file stays where it is
            except Exception as exc:
                log.error("source_item_failed", system=system.id, error=type(exc).__name__)
                item.rejected(Fault("InternalError", f"the adapter could not process this message ({type(exc).__name__})"))
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
