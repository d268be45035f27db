"""Identity matching against the real directory store: a million children, the real match path.

Loads N synthetic children (:mod:`bench.synth`) into the directory's own tables
(``children``, ``child_identifiers``, ``child_match_keys``, ``name_frequencies``),
computing the blocking keys with the service's own key function
(:func:`cpbridge.directory.matching.blocking.record_keys` over the same
CandidateRecord the store builds), then runs a perturbed feed through
:func:`cpbridge.directory.matching.match_identity` — trusted identifiers, one
``IN`` probe of the key index, candidates, name frequencies, scoring and the
decision — and prints the quality figures and the latency per record::

    .venv/bin/python -m bench.match_db --db sqlite   --records 1000000 --feed 10000 --seed 1
    .venv/bin/python -m bench.match_db --db postgres --records 1000000 --feed 10000 --seed 1

SQLite goes to a file in a temporary folder (``--path`` to choose); PostgreSQL to
a fresh schema in ``--url`` (default the test database), dropped afterwards
unless ``--keep``. Loading uses executemany on SQLite and COPY on PostgreSQL.
Exit status 1 when a target is missed (false merges > 0, true matches found
< 99.5%, review > 3%, median latency >= 5 ms).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from cpbridge.codes import IdentifierScheme, MatchOutcome
from cpbridge.directory.db import make_engine, migrate
from cpbridge.directory.matching import match_identity, name_key, store
from cpbridge.directory.matching.blocking import record_keys
from cpbridge.directory.matching.scoring import CandidateRecord
from cpbridge.identifiers import _luhn_digit

from .quality import Report
from .synth import SynthChild, population

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BATCH = 20_000
#: Median latency per record must stay under this (ms).
LATENCY_TARGET_MS = 5.0


def directory_id(n: int) -> str:
    body = f"{n:09d}"
    return f"CP{body}{_luhn_digit(body)}"


def _rows(kids: list[SynthChild], first_id: int, now: datetime):
    """(children, identifiers, keys) rows for a batch; child ids start at ``first_id``."""
    children, idents, keys = [], [], []
    for offset, kid in enumerate(kids):
        cid = first_id + offset
        children.append(
            (cid, directory_id(cid), kid.given_names, kid.family_name, name_key(kid.given_names), name_key(kid.family_name),
             kid.date_of_birth, kid.gender.value, f'["{kid.address_line}"]', kid.postcode, "live", now, now)
        )  # fmt: skip
        idents.append((cid, IdentifierScheme.nhs_number.value, "", kid.nhs_number, "bench", now))
        ids = [(IdentifierScheme.directory_id.value, directory_id(cid)), (IdentifierScheme.nhs_number.value, kid.nhs_number)]
        if kid.upn:
            idents.append((cid, IdentifierScheme.upn.value, "", kid.upn, "bench", now))
            ids.append((IdentifierScheme.upn.value, kid.upn))
        rec = CandidateRecord(
            child_id=cid, given_names=kid.given_names, family_name=kid.family_name, date_of_birth=kid.date_of_birth,
            gender=kid.gender, postcode=kid.postcode, address_line=kid.address_line, identifiers=tuple(ids),
        )  # fmt: skip
        keys.extend((k, cid) for k in record_keys(rec))
    return children, idents, keys


CHILD_COLS = ("id", "directory_id", "given_names", "family_name", "given_key", "family_key", "date_of_birth", "gender",
              "address_lines", "postcode", "status", "created_at", "updated_at")  # fmt: skip
IDENT_COLS = ("child_id", "scheme", "system", "value", "source_system", "created_at")
KEY_COLS = ("key", "child_id")


def _insert_sqlite(engine: Engine, batches) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA synchronous=OFF")
        for children, idents, keys in batches:
            cur.executemany(f"INSERT INTO children ({','.join(CHILD_COLS)}) VALUES ({','.join('?' * len(CHILD_COLS))})", children)
            cur.executemany(f"INSERT INTO child_identifiers ({','.join(IDENT_COLS)}) VALUES (?,?,?,?,?,?)", idents)
            cur.executemany("INSERT INTO child_match_keys (key, child_id) VALUES (?,?)", keys)
            raw.commit()
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def _insert_postgres(engine: Engine, batches) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for children, idents, keys in batches:
            for table, cols, rows in (("children", CHILD_COLS, children), ("child_identifiers", IDENT_COLS, idents), ("child_match_keys", KEY_COLS, keys)):
                with cur.copy(f"COPY {table} ({','.join(cols)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            raw.commit()
        cur.execute("SELECT setval(pg_get_serial_sequence('children', 'id'), (SELECT max(id) FROM children))")
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def load(engine: Engine, base: list[SynthChild]) -> dict[int, str]:
    """Bulk-load ``base``; the map from directory child id to synthetic id."""
    now = datetime(2024, 9, 1)
    ids = {i + 1: kid.child_id for i, kid in enumerate(base)}
    batches = (_rows(base[i : i + BATCH], i + 1, now) for i in range(0, len(base), BATCH))
    (_insert_postgres if engine.dialect.name == "postgresql" else _insert_sqlite)(engine, batches)
    with Session(engine) as session, session.begin():
        store.refresh_name_frequencies(session)
    return ids


def run_feed(engine: Engine, pop, ids: dict[int, str], report: Report) -> None:
    with Session(engine) as session:
        for n, item in enumerate(pop.feed):
            t0 = time.perf_counter()
            decision = match_identity(session, item.identity)
            report.latencies_ms.append((time.perf_counter() - t0) * 1000)
            report.candidates.append(len(decision.comparisons))
            got = ids.get(decision.child_id) if decision.child_id is not None else None
            report.outcomes[decision.outcome] += 1
            if decision.outcome is MatchOutcome.review:
                report.reviews_by_reason[decision.reason_code] += 1
                report.reviews_by_error[item.error] += 1
            if decision.outcome is MatchOutcome.matched and got != item.true_id:
                report.false_merges.append((item.true_id, got, item.error))
            if item.true_id is not None:
                report.true_matches += 1
                if decision.outcome is MatchOutcome.new:
                    report.false_new[item.error] += 1
                elif decision.outcome is MatchOutcome.review or got == item.true_id:
                    report.found += 1
            if n % 500 == 499:
                session.rollback()  # end the read transaction now and then


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.match_db", description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--feed", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--path", type=Path, help="SQLite file (default: a temporary folder)")
    parser.add_argument("--url", default=os.environ.get("CPBRIDGE_BENCH_PG", PG_DEFAULT), help="PostgreSQL database")
    parser.add_argument("--keep", action="store_true", help="keep the loaded database")
    args = parser.parse_args(argv)
    report, seconds = run(args.db, args.records, args.feed, args.seed, path=args.path, url=args.url, keep=args.keep)
    print(report.render().replace("(blocking + scoring + decide)", "(match_identity on the store)"))
    for name, value in seconds.items():
        print(f"{name:<24}{value:>9.1f}s")
    lat = statistics.median(report.latencies_ms) if report.latencies_ms else 0.0
    missed = [name for name, bad in (
        ("false merges", bool(report.false_merges)),
        ("true matches found", report.found_share < 0.995),
        ("review share", report.review_share > 0.03),
        (f"median latency < {LATENCY_TARGET_MS} ms", lat >= LATENCY_TARGET_MS),
    ) if bad]  # fmt: skip
    print("ALL TARGETS MET" if not missed else f"TARGETS MISSED: {', '.join(missed)}")
    return 0 if not missed else 1


def run(db: str, records: int, feed: int, seed: int, *, path: Path | None = None, url: str = PG_DEFAULT, keep: bool = False):
    """Generate, load, match; the report and the seconds each phase took."""
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    pop = population(records, feed, seed)
    seconds["generate"] = time.perf_counter() - t
    tmp = None
    schema = None
    if db == "sqlite":
        if path is None:
            tmp = tempfile.TemporaryDirectory(prefix="cpbridge-bench-")
            path = Path(tmp.name) / "directory.db"
        db_url = f"sqlite:///{path}"
    else:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = make_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        db_url = f"{url}?options=-csearch_path%3D{schema}"
    engine = make_engine(db_url)
    try:
        t = time.perf_counter()
        migrate(engine)
        ids = load(engine, pop.base)
        seconds["load"] = time.perf_counter() - t
        report = Report(records=len(pop.base), feed=len(pop.feed), build_seconds=seconds["load"])
        t = time.perf_counter()
        run_feed(engine, pop, ids, report)
        seconds["match feed"] = time.perf_counter() - t
        return report, seconds
    finally:
        engine.dispose()
        if schema and not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        if schema:
            admin.dispose()
        if tmp is not None and not keep:
            tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
