"""In-memory identity-matching quality benchmark (no database).

Builds a blocking index (key -> child ids) over N synthetic base records, runs
a perturbed feed through blocking + scoring + decide, and reports false merges,
false new records, the share of true matches matched or sent to review, the
share sent to review and per-record latency::

    .venv/bin/python -m bench.quality --records 100000 --feed 20000 --seed 1

Exit status 1 when a target is missed (false merges > 0, true matches found
< 99.5%, review > 3%), so the run can gate a change to weights or thresholds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from cpbridge.codes import MatchOutcome
from cpbridge.directory.matching.blocking import query_keys, record_keys
from cpbridge.directory.matching.scoring import (
    DEFAULT_THRESHOLDS,
    CandidateRecord,
    Decision,
    NameFrequencies,
    Thresholds,
    decide,
)

from .synth import population


@dataclass
class Report:
    records: int
    feed: int
    outcomes: Counter = field(default_factory=Counter)
    false_merges: list[tuple[str, str | None, str]] = field(default_factory=list)
    false_new: Counter = field(default_factory=Counter)
    reviews_by_reason: Counter = field(default_factory=Counter)
    reviews_by_error: Counter = field(default_factory=Counter)
    not_blocked: Counter = field(default_factory=Counter)
    true_matches: int = 0
    found: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    candidates: list[int] = field(default_factory=list)
    build_seconds: float = 0.0

    @property
    def review_share(self) -> float:
        return self.outcomes[MatchOutcome.review] / max(self.feed, 1)

    @property
    def found_share(self) -> float:
        return self.found / max(self.true_matches, 1)

    def passed(self) -> bool:
        return not self.false_merges and self.found_share >= 0.995 and self.review_share <= 0.03

    def render(self) -> str:
        lat = sorted(self.latencies_ms)
        p95 = lat[int(0.95 * (len(lat) - 1))] if lat else 0.0
        cand = sorted(self.candidates)
        lines = [
            f"base records            {self.records:>10,}   (index built in {self.build_seconds:.1f}s)",
            f"feed identities         {self.feed:>10,}   ({self.true_matches:,} already in the directory)",
            f"matched / review / new  {self.outcomes[MatchOutcome.matched]:,} / {self.outcomes[MatchOutcome.review]:,} / {self.outcomes[MatchOutcome.new]:,}",
            f"false merges            {len(self.false_merges):>10,}   (target 0)",
            f"false new records       {sum(self.false_new.values()):>10,}   {dict(self.false_new.most_common(6))}",
            f"true matches found      {100 * self.found_share:>9.2f}%   (matched or review; target >= 99.5%)",
            f"sent to review          {100 * self.review_share:>9.2f}%   (target <= 3%)",
            f"review reasons          {dict(self.reviews_by_reason.most_common())}",
            f"review by feed error    {dict(self.reviews_by_error.most_common(8))}",
            f"true child not blocked  {sum(self.not_blocked.values()):>10,}   {dict(self.not_blocked.most_common(6))}",
            f"candidates per record   median {statistics.median(cand) if cand else 0}, p95 {cand[int(0.95 * (len(cand) - 1))] if cand else 0}, max {cand[-1] if cand else 0}",
            f"latency per record      median {statistics.median(lat) if lat else 0:.3f} ms, p95 {p95:.3f} ms (blocking + scoring + decide)",
        ]
        for true_id, got, error in self.false_merges[:20]:
            lines.append(f"  FALSE MERGE: {error}: truth {true_id} -> matched {got}")
        lines.append("PASS" if self.passed() else "FAIL")
        return "\n".join(lines)


def run(records: int, feed: int, seed: int, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Report:
    """Run the benchmark and return its figures."""
    pop = population(records, feed, seed)
    start = time.perf_counter()
    index: dict[str, list[str]] = defaultdict(list)
    by_id: dict[str, CandidateRecord] = {}
    for kid in pop.base:
        rec = kid.candidate()
        by_id[rec.child_id] = rec
        for key in record_keys(rec):
            index[key].append(rec.child_id)
    frequencies = NameFrequencies.from_records(by_id.values())
    report = Report(records=len(pop.base), feed=len(pop.feed), build_seconds=time.perf_counter() - start)

    for item in pop.feed:
        t0 = time.perf_counter()
        ids: dict[str, None] = {}
        for key in query_keys(item.identity):
            for cid in index.get(key, ()):
                ids[cid] = None
        decision: Decision = decide(item.identity, [by_id[c] for c in ids], thresholds, frequencies)
        report.latencies_ms.append((time.perf_counter() - t0) * 1000)
        report.candidates.append(len(ids))
        report.outcomes[decision.outcome] += 1
        if decision.outcome is MatchOutcome.review:
            report.reviews_by_reason[decision.reason] += 1
            report.reviews_by_error[item.error] += 1
        if decision.outcome is MatchOutcome.matched and decision.child_id != item.true_id:
            report.false_merges.append((item.true_id, decision.child_id, item.error))
        if item.true_id is not None:
            report.true_matches += 1
            if item.true_id not in ids:
                report.not_blocked[item.error] += 1
            if decision.outcome is MatchOutcome.new:
                report.false_new[item.error] += 1
            elif decision.outcome is MatchOutcome.review or decision.child_id == item.true_id:
                report.found += 1
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="base records in the directory")
    parser.add_argument("--feed", type=int, default=20_000, help="identities sent by other agencies")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    report = run(args.records, args.feed, args.seed)
    print(report.render())
    print(f"total wall time         {time.perf_counter() - t0:.1f}s")
    return 0 if report.passed() else 1


if __name__ == "__main__":
    sys.exit(main())
