"""Blocking keys: few per record, and an incoming identity with one error still finds its record."""

from datetime import date

import pytest

from cpbridge.directory.matching.blocking import (
    MAX_RECORD_KEYS,
    dob_variants,
    query_keys,
    record_keys,
)

from .helpers import NHS_A, child, record


def _found(incoming, stored) -> bool:
    return bool(set(query_keys(incoming)) & set(record_keys(stored)))


def test_record_keys_are_few_and_short():
    rec = record(family="Smith-Jones", nhs=NHS_A, upn="H801200001001", aliases=(("Olly", "Jones"),))
    keys = record_keys(rec)
    assert len(keys) <= MAX_RECORD_KEYS
    assert len(set(keys)) == len(keys)
    assert f"nhs:{NHS_A}" in keys and "upn:H801200001001" in keys
    assert "df:20150314:S530" in keys and "df:20150314:J520" in keys and "ps:LS14:2015" in keys
    assert all(len(k) <= 40 and ":" in k for k in keys)


@pytest.mark.parametrize(
    "incoming",
    [
        child(given="Olly"),  # nickname
        child(given="Baby"),  # placeholder
        child(dob=date(2015, 3, 19)),  # one digit
        child(dob=date(2016, 3, 14)),  # year off by one
        child(family="Smith-Jones"),  # double-barrelled
        child(given="Smith", family="Oliver"),  # swapped
        child(postcode="M1 1AA"),  # moved
        child(family="Xmith"),  # first letter of the surname wrong
        child(given="Olly", family="Smyth", dob=date(2015, 3, 15), postcode=None),  # nickname, typo, one digit
    ],
)
def test_one_error_still_blocks_together(incoming):
    assert _found(incoming, record())


def test_day_month_swap_blocks_together():
    assert _found(child(dob=date(2015, 4, 3)), record(dob=date(2015, 3, 4)))


def test_identifier_alone_blocks_together():
    stored = record(given="Amelia", family="Patel", dob=date(2010, 1, 1), postcode="B1 1AA", nhs=NHS_A)
    assert _found(child(nhs=NHS_A), stored)


def test_unrelated_child_does_not_block_together():
    assert not _found(child(), record(given="Amelia", family="Patel", dob=date(2010, 1, 1), postcode="B1 1AA"))


def test_dob_variants_include_swap_and_neighbouring_years():
    variants = dob_variants(date(2015, 3, 4))
    assert variants[0] == date(2015, 3, 4)
    assert {date(2015, 4, 3), date(2014, 3, 4), date(2016, 3, 4)} <= set(variants)
    assert dob_variants(date(2016, 2, 29))  # no 29 February a year either side: no error
