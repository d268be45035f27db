"""One delivery process for the shared-outbox test: ``python worker_process.py OUTBOX_URL DIRECTORY_URL``.

Runs two delivery threads against the outbox until it has stayed empty for a
second, then prints how many rows this process delivered (a JSON line).
"""

from __future__ import annotations

import json
import sys
import time

from cpbridge.adapter.delivery import DeliveryWorker
from cpbridge.adapter.directory_client import DirectoryClient
from cpbridge.adapter.metrics import AdapterMetrics
from cpbridge.adapter.outbox import Outbox


def main(outbox_url: str, directory_url: str, lease_seconds: float) -> None:
    outbox = Outbox(outbox_url, lease_seconds=lease_seconds, run_migrations=False)
    client = DirectoryClient(directory_url, "adapter", "adapter-secret", organisation="Leeds City Council", timeout=1.0)
    metrics = AdapterMetrics()
    workers = [
        DeliveryWorker(outbox, client, poll_interval=0.02, backoff_initial=0.05, backoff_max=0.2, batch_size=10, metrics=metrics)
        for _ in range(2)
    ]
    print("ready", flush=True)
    idle_since = None
    for w in workers:
        w.start()
    while True:
        time.sleep(0.1)
        if outbox.counts()["pending"] == 0:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > 1.0:
                break
        else:
            idle_since = None
    for w in workers:
        w.stop()
    delivered = sum(s.value for m in metrics.delivered.collect() for s in m.samples if s.name.endswith("_total"))
    print(json.dumps({"delivered": int(delivered)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
