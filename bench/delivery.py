"""Delivery benchmark: intake and delivery throughput on SQLite and PostgreSQL, and the memory of a large message.

    .venv/bin/python -m bench.delivery                       # SQLite and PostgreSQL, 2,000 messages each
    .venv/bin/python -m bench.delivery --messages 5000 --backends sqlite
    .venv/bin/python -m bench.delivery --directory real      # deliver to the reference directory instead

* intake: ICS CaseView messages POSTed as SOAP to the adapter (in this process,
  delivery paused) by 4 client threads; messages/s acknowledged. Each message is
  parsed, mapped, and committed to the outbox before its acknowledgement.
* delivery: the adapter's delivery threads drain that outbox into a directory —
  by default :class:`bench.delivery_directory.FakeDirectory`, which answers at
  once, so the figure is the adapter's own ceiling; ``--directory real`` uses
  the reference directory (SQLite) and measures the pair.
* memory: one ~4.5 MB message (a huge case-notes text node) POSTed and
  stored: the process's peak RSS growth (client and server both in this
  process, so the 4.5 MB request body is counted on both sides) and the
  tracemalloc peak (Python objects only; lxml's tree lives outside it).

Localhost only. PostgreSQL runs in a fresh schema of ``--postgres`` (dropped after).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
import tracemalloc
import uuid
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

from cpbridge.adapter.app import create_app
from cpbridge.adapter.runtime import AdapterRuntime
from cpbridge.logging import configure_logging
from cpbridge.settings import PROJECT_ROOT, AdapterSettings, DirectorySettings, Settings
from cpbridge.testing import ServerThread, free_port

from .delivery_directory import FakeDirectory
from .delivery_messages import referral, soap, stream

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def ics_project(base: Path) -> Path:
    root = base / "project"
    shutil.copytree(PROJECT_ROOT / "mappings" / "ics", root / "mappings" / "ics")
    (root / "samples").mkdir()
    (root / "samples" / "ics").symlink_to(PROJECT_ROOT / "samples" / "ics")
    return root


def settings_for(base: Path, outbox_url: str | None, dport: int, workers: int) -> Settings:
    return Settings(
        data_dir=base / "data",
        directory=DirectorySettings(port=dport),
        adapter=AdapterSettings(
            port=free_port(),
            database_url=outbox_url,
            directory_url=f"http://127.0.0.1:{dport}/directory/soap",
            mappings_dir=ics_project(base) / "mappings",
            poll_interval=0.02,
            backoff_initial=0.05,
            backoff_max=0.5,
            delivery_workers=workers,
        ),
    )


def rss_kib(field: str) -> int | None:
    """This process's resident memory from /proc (Linux), or None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak() -> None:
    """Reset VmHWM to the current RSS so the next peak is the large message's (Linux)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def run_backend(name: str, outbox_url: str | None, n_messages: int, directory: str, workers: int) -> dict:
    base = Path(tempfile.mkdtemp(prefix=f"cpbridge-bench-{name}-"))
    dport = free_port()
    settings = settings_for(base, outbox_url, dport, workers)
    if directory == "real":
        from cpbridge.directory.app import create_app as directory_app

        dir_server = ServerThread(directory_app(settings), dport).start()
    else:
        dir_server = ServerThread(FakeDirectory().app, dport).start()
    runtime = AdapterRuntime(settings)
    server = ServerThread(create_app(runtime, start_worker=False), settings.adapter.port).start()
    children = max(1, n_messages // 3)
    bodies = [soap(xml) for _, xml in stream(children, reallocations=1)][:n_messages]
    lanes = [bodies[i::4] for i in range(4)]
    url = f"{server.url}/systems/ics/soap"

    def send(lane):
        with requests.Session() as http:
            for body in lane:
                r = http.post(url, data=body, headers={"Content-Type": "text/xml"}, timeout=30)
                r.raise_for_status()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=send, args=(lane,)) for lane in lanes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    intake_s = time.perf_counter() - t0
    events = runtime.outbox.counts()["pending"]

    t0 = time.perf_counter()
    runtime.start()
    while runtime.outbox.counts()["pending"]:
        time.sleep(0.02)
    delivery_s = time.perf_counter() - t0
    runtime.stop()

    # one large message through the SOAP endpoint: read, parse, map, store
    big = soap(referral(10**6, 10**6, padding=int(4.5 * 1024 * 1024)))
    reset_peak()
    rss0 = rss_kib("VmRSS")
    tracemalloc.start()
    requests.post(url, data=big, headers={"Content-Type": "text/xml"}, timeout=60).raise_for_status()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss1 = rss_kib("VmHWM")

    server.stop()
    dir_server.stop()
    runtime.close()
    shutil.rmtree(base, ignore_errors=True)
    return {
        "backend": name,
        "messages": len(bodies),
        "intake msg/s": len(bodies) / intake_s,
        "events": events,
        "delivery ev/s": events / delivery_s,
        "large message bytes": len(big),
        "tracemalloc peak MiB": peak / 2**20,
        "peak RSS growth MiB": (rss1 - rss0) / 1024 if rss0 and rss1 else float("nan"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--postgres", default=PG_DEFAULT, help="PostgreSQL URL (a schema is created and dropped)")
    ap.add_argument("--directory", choices=("fake", "real"), default="fake")
    ap.add_argument("--workers", type=int, default=2, help="delivery threads")
    args = ap.parse_args()
    configure_logging("warning")
    results = []
    for backend in args.backends.split(","):
        if backend == "sqlite":
            results.append(run_backend("sqlite", None, args.messages, args.directory, args.workers))
        elif backend == "postgres":
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                url = f"{args.postgres}?options=-csearch_path%3D{schema}"
                results.append(run_backend("postgres", url, args.messages, args.directory, args.workers))
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
        else:
            ap.error(f"unknown backend {backend!r}")
    print(f"directory: {args.directory}, delivery threads: {args.workers}")
    print(f"{'backend':<10}{'messages':>9}{'intake msg/s':>14}{'events':>8}{'delivery ev/s':>15}{'large msg MiB':>15}{'tracemalloc MiB':>17}{'RSS growth MiB':>16}")
    for r in results:
        print(
            f"{r['backend']:<10}{r['messages']:>9}{r['intake msg/s']:>14.0f}{r['events']:>8}{r['delivery ev/s']:>15.0f}"
            f"{r['large message bytes'] / 2**20:>15.1f}{r['tracemalloc peak MiB']:>17.1f}{r['peak RSS growth MiB']:>16.1f}"
        )


if __name__ == "__main__":
    main()
