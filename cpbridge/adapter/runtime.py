"""Wiring of one adapter process: host, outbox, directory client, worker, intake, metrics."""

from __future__ import annotations

import base64
import hmac
from datetime import timedelta

import pluggy

from ..faults import Fault
from ..settings import Settings
from ..soap import NonceCache, Request, read_username_token, verify_username_token
from ..systems import LocalSystem
from .delivery import DeliveryWorker
from .directory_client import DirectoryClient
from .host import Host
from .housekeeping import DirectoryProbe, Pruner, ReviewFollowUp
from .intake import Intake
from .metrics import AdapterMetrics
from .outbox import Outbox
from .polling import SourcePoller


class AdapterRuntime:
    def __init__(self, settings: Settings, pm: pluggy.PluginManager | None = None):
        cfg = settings.adapter
        self.settings = settings
        self.host = Host(settings, pm)
        self.outbox = Outbox(settings.outbox_db_url(), lease_seconds=cfg.lease_seconds)
        account = settings.directory.accounts.get(cfg.directory_username)
        self.client = DirectoryClient(
            cfg.directory_url,
            cfg.directory_username,
            cfg.directory_secret,
            organisation=account.organisation if account else "cpbridge adapter",
            timeout=cfg.directory_timeout,
        )
        self.metrics = AdapterMetrics(self.outbox)
        self.workers = [
            DeliveryWorker(
                self.outbox,
                self.client,
                poll_interval=cfg.poll_interval,
                max_attempts=cfg.max_attempts,
                backoff_initial=cfg.backoff_initial,
                backoff_max=cfg.backoff_max,
                batch_size=cfg.batch_size,
                metrics=self.metrics,
            )
            for _ in range(max(1, cfg.delivery_workers))
        ]
        self.worker = self.workers[0]
        self.pruner = Pruner(
            self.outbox, timedelta(days=cfg.retain_delivered_days), cfg.prune_interval_seconds, self.metrics
        )
        self.review_follow_up = ReviewFollowUp(self.outbox, self.client, cfg.review_follow_up_seconds)
        self.probe = DirectoryProbe(self.client.ping, metrics=self.metrics)
        self.intake = Intake(self.host, self.outbox, self.client, self.metrics)
        sources = [
            (system, source)
            for system in self.host.systems.values()
            for found in self.host.pm.hook.register_intake_sources(system=system)
            for source in (found or [])
        ]
        self.poller = SourcePoller(self.intake, sources, interval=cfg.poll_interval * 10)
        self._nonces = NonceCache()

    def _credentials(self, system: LocalSystem) -> tuple[str, str] | None:
        cfg = self.settings.adapter.systems.get(system.id)
        if cfg and cfg.username and cfg.secret:
            return cfg.username, cfg.secret
        return None

    def authenticate(self, system: LocalSystem, request: Request) -> None:
        """Where the system has credentials configured, require its UsernameToken."""
        creds = self._credentials(system)
        if creds is None:
            return
        token = read_username_token(request)
        if token.username != creds[0]:
            raise Fault("NotAuthenticated", "wrong user name or password")
        verify_username_token(token, creds[1], self._nonces, max_age=timedelta(minutes=5))

    def authenticate_basic(self, system: LocalSystem, header: str | None) -> None:
        """Plain XML callers authenticate with HTTP Basic where credentials are configured."""
        creds = self._credentials(system)
        if creds is None:
            return
        if not header or not header.lower().startswith("basic "):
            raise Fault("NotAuthenticated", "HTTP Basic credentials are required")
        try:
            user, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            raise Fault("NotAuthenticated", "malformed Basic credentials") from None
        if not (hmac.compare_digest(user.encode(), creds[0].encode()) and hmac.compare_digest(secret.encode(), creds[1].encode())):
            raise Fault("NotAuthenticated", "wrong user name or password")

    def start(self) -> None:
        """Start the background delivery worker, the source poller and the periodic prune."""
        for worker in self.workers:
            worker.start()
        self.poller.start()
        self.pruner.start()
        self.review_follow_up.start()

    def stop(self) -> None:
        self.poller.stop()
        for worker in self.workers:
            worker.signal_stop()  # all stop together, then each is joined
        for worker in self.workers:
            worker.stop()
        self.pruner.stop()
        self.review_follow_up.stop()

    def close(self) -> None:
        self.stop()
        self.outbox.close()
