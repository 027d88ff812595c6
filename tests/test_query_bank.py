"""The authored query bank: coverage, distinctness and the paper's rules."""

import re

from penguin.dataset.query_bank import near_duplicates, query_bank
from penguin.taxonomy import leaves, tree


def test_taxonomy_shape():
    assert list(tree()) == ["Relationship", "Career", "Financial", "Social", "Health", "Life", "Education"]
    assert all(len(subs) == 2 for subs in tree().values())
    assert len(leaves()) == 140
    assert len({leaf.scenario for leaf in leaves()}) == 140


def test_every_leaf_has_at_least_ten_distinct_queries():
    bank = query_bank()
    assert set(bank) == {leaf.scenario for leaf in leaves()}
    for leaf, queries in bank.items():
        normalised = {re.sub(r"[^a-z0-9]+", " ", q.lower()).strip() for q in queries}
        assert len(normalised) == len(queries) >= 10, leaf
    assert sum(len(q) for q in bank.values()) >= 1400


def test_no_near_duplicates_within_a_leaf():
    for leaf, queries in query_bank().items():
        assert near_duplicates(queries, threshold=0.6) == [], leaf


def test_queries_never_state_the_background():
    stated = re.compile(
        r"\b(i am|i'm) (\d{2}|a \d{2})\b|\bmy (depression|diagnosis|self[- ]harm)\b|\bi (was|have been) diagnosed\b"
        r"|\bi have (depression|anxiety|bipolar)\b|\byears old\b|\bsuicid",
        re.I,
    )
    offenders = [q for qs in query_bank().values() for q in qs if stated.search(q)]
    assert offenders == []
