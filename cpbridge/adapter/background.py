"""A daemon thread that repeats one unit of work until stopped (delivery, polling, pruning)."""

from __future__ import annotations

import threading

import structlog

log = structlog.get_logger("cpbridge.background")


class BackgroundLoop:
    """Runs :meth:`tick` again at once while it reports work done, else waits ``interval``.

    An exception in a tick is logged (its type only: messages may quote personal data)
    and the loop carries on, so a database that is briefly away stops nothing for good.
    """

    thread_name = "cpbridge-loop"

    def __init__(self, interval: float):
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> int | bool:  # pragma: no cover - interface
        """Do one unit of work; a truthy result means "there may be more, go again now"."""
        raise NotImplementedError

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.tick()
            except Exception as exc:
                log.error("background_pass_failed", loop=self.thread_name, error=type(exc).__name__)
                worked = False
            if not worked:
                self._stop.wait(self.interval)

    @property
    def alive(self) -> bool:
        """False if the loop was started and its thread has died."""
        return self._thread is None or self._thread.is_alive()

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
            self._thread.start()

    def signal_stop(self) -> None:
        """Ask the loop to stop without waiting (several loops then stop together)."""
        self._stop.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
