"""The synthetic generator and a small run of the quality benchmark."""

import itertools
from collections import Counter

from bench.quality import run
from bench.synth import REFERENCE_DATE, children, households, population
from cpbridge.directory.matching import normalise as nm
from cpbridge.identifiers import normalise_nhs_number, normalise_postcode, normalise_upn


def test_children_are_valid_unique_and_reproducible():
    kids = list(children(3000, seed=7))
    assert len(kids) == 3000
    assert [k.child_id for k in kids[:50]] == [k.child_id for k in children(50, seed=7)]
    assert len({k.nhs_number for k in kids}) == 3000
    upns = [k.upn for k in kids if k.upn]
    assert len(set(upns)) == len(upns) > 1000
    for k in kids:
        assert normalise_nhs_number(k.nhs_number) == k.nhs_number
        assert normalise_postcode(k.postcode) == k.postcode
        assert k.upn is None or normalise_upn(k.upn) == k.upn
        assert 0 <= (REFERENCE_DATE - k.date_of_birth).days <= 18 * 366
        k.identity()  # passes the canonical model


def test_households_hold_siblings_and_twins_sharing_surname_and_address():
    homes = list(itertools.islice(households(seed=3), 3000))
    twins = [kid for home in homes for kid in home if kid.twin_id]
    assert twins and len(twins) % 2 == 0
    for home in homes:
        assert len({(k.family_name, k.postcode, k.address_line) for k in home}) == 1
        firsts = [nm.given_tokens(k.given_names)[0] for k in home]
        assert len(set(firsts)) == len(firsts)  # siblings never share a first name
    backgrounds = Counter(kid.background for home in homes for kid in home)
    assert len(backgrounds) >= 6


def test_feed_has_truth_and_every_error_type():
    pop = population(4000, 1500, seed=5)
    errors = Counter(item.error for item in pop.feed)
    assert len(pop.feed) == 1500
    assert {"nickname", "dob_swap", "moved", "given_family_swap", "surname_variant", "baby_placeholder", "twin_new", "new"} <= set(errors)
    base_ids = {k.child_id for k in pop.base}
    for item in pop.feed:
        assert item.true_id is None or item.true_id in base_ids
        assert (item.true_id is None) == (item.error in ("new", "twin_new", "sibling_new"))


def test_small_benchmark_meets_the_targets():
    report = run(records=5000, feed=1500, seed=11)
    assert report.false_merges == []
    assert report.found_share >= 0.99
    assert report.review_share <= 0.04


import pytest


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_small_store_benchmark_through_the_real_match_path(db, tmp_path):
    """A smoke run of bench.match_db (the million-record run is a benchmark, not a test)."""
    from bench.match_db import run as run_db

    report, seconds = run_db(db, 4000, 600, 13, path=tmp_path / "bench.db")
    assert report.false_merges == []
    assert report.found_share >= 0.99
    assert report.review_share <= 0.04
    assert set(seconds) == {"generate", "load", "match feed"}
