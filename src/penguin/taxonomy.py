"""The PENGUIN taxonomy: 7 domains -> 14 subcategories -> 140 leaf scenarios (SPEC section 2)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import NamedTuple


class Leaf(NamedTuple):
    domain: str
    subcategory: str
    scenario: str


@cache
def tree() -> dict[str, dict[str, list[str]]]:
    """domain -> subcategory -> leaf scenario names, in the paper's order."""
    return json.loads(resources.files("penguin").joinpath("data/taxonomy.json").read_text("utf-8"))


@cache
def leaves() -> tuple[Leaf, ...]:
    return tuple(
        Leaf(domain, sub, name)
        for domain, subs in tree().items()
        for sub, names in subs.items()
        for name in names
    )


@cache
def leaf_index() -> dict[str, Leaf]:
    """Leaf scenario name -> leaf (names are unique across the taxonomy)."""
    return {leaf.scenario: leaf for leaf in leaves()}


def find_leaf(scenario: str) -> Leaf | None:
    return leaf_index().get(scenario.strip())
