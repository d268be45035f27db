"""The nickname table: UK diminutives, equivalence without transitive leaks."""

import pytest

from cpbridge.directory.matching import nicknames


@pytest.mark.parametrize(
    "a, b",
    [
        ("Bill", "William"), ("Liz", "Elizabeth"), ("Beth", "Elizabeth"), ("Betty", "Elizabeth"),
        ("Jack", "John"), ("Alfie", "Alfred"), ("Ollie", "Oliver"), ("Harry", "Henry"), ("Harry", "Harold"),
        ("Sam", "Samuel"), ("Sam", "Samantha"), ("Kate", "Katherine"), ("Kate", "Catherine"), ("Tom", "Thomas"),
        ("Mo", "Mohammed"), ("Muhammad", "Mohammed"), ("Mohammad", "Mohamed"), ("Kasia", "Katarzyna"),
        ("Wojtek", "Wojciech"), ("Seun", "Oluwaseun"), ("Zoë", "Zoe"),
    ],
)
def test_nicknames_agree(a, b):
    assert nicknames.are_nicknames(a, b)
    assert nicknames.are_nicknames(b, a)


@pytest.mark.parametrize(
    "a, b",
    [("Samuel", "Samantha"), ("Henry", "Harold"), ("Oliver", "Olivia"), ("Amelia", "Emily"), ("Taiwo", "Kehinde"), ("Jack", "Sean"), ("Molly", "Maisie"), ("Oliver", "George")],
)
def test_groups_do_not_merge_transitively(a, b):
    assert not nicknames.are_nicknames(a, b)


def test_table_is_a_few_hundred_groups():
    assert nicknames.GROUP_COUNT >= 300
    pairs = sum(len(nicknames.variants(n)) for n in nicknames.known_names()) // 2
    assert pairs >= 1000
