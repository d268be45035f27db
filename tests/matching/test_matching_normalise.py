"""Name, date and postcode normalisation."""

from datetime import date

import pytest

from cpbridge.directory.matching import normalise as nm


@pytest.mark.parametrize(
    "raw, folded",
    [("O'Brien", "OBRIEN"), ("Zoë", "ZOE"), ("Łukasz", "LUKASZ"), ("smith-jones", "SMITH JONES"), ("  Mary  Jane ", "MARY JANE"), ("D’Souza", "DSOUZA")],
)
def test_fold(raw, folded):
    assert nm.fold(raw) == folded


@pytest.mark.parametrize("raw", ["Baby", "BABY BOY", "Baby Girl", "Twin A", "twin 1", "BB", "Infant", "Unknown", "Male", "Female", "Baby of Sarah Smith"])
def test_placeholder_given_names_are_ignored(raw):
    assert nm.given_tokens(raw) == ()
    assert nm.is_placeholder_given(raw)


def test_placeholder_removed_but_real_name_kept():
    assert nm.given_tokens("Baby Amara") == ("AMARA",)
    assert nm.given_tokens("Twin 2 Leo") == ("LEO",)
    assert nm.given_tokens("Mary Jane") == ("MARY", "JANE")


def test_double_and_hyphenated_surnames_split_into_parts():
    assert nm.family_tokens("Smith-Jones") == ("SMITH", "JONES")
    assert nm.family_tokens("Smith Jones") == ("SMITH", "JONES")
    assert nm.family_tokens("Unknown") == ()


def test_phonetic_agreement_uses_metaphone_or_soundex():
    assert nm.sounds_alike("CATHERINE", "KATHRYN")  # Metaphone (Soundex keeps C vs K apart)
    assert nm.sounds_alike("AISHA", "AYESHA")  # Soundex
    assert not nm.sounds_alike("OLIVER", "GEORGE")


def test_postcode_parts_and_invalid_postcodes():
    assert nm.postcode_split("ls14ab") == ("LS1", "LS1 4", "LS1 4AB")
    assert nm.postcode_split("not a postcode") is None
    assert nm.postcode_split(None) is None


def test_date_variants():
    assert nm.swapped_day_month(date(2015, 3, 4)) == date(2015, 4, 3)
    assert nm.swapped_day_month(date(2015, 3, 14)) is None  # no 14th month
    assert nm.swapped_day_month(date(2015, 3, 3)) is None
    variants = nm.one_digit_variants(date(2015, 3, 14))
    assert date(2015, 3, 19) in variants and date(2016, 3, 14) in variants
    assert all(nm.digits_differing(v, date(2015, 3, 14)) == 1 for v in variants)
