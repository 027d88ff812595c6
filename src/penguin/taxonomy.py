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


def select_leaves(domains: list[str] | None = None, scenarios: list[str] | None = None) -> list[tuple[int, Leaf]]:
    """(index, leaf) for the named leaf scenarios, else the leaves of the named domains (any
    case), else all 140; unknown names are an error naming them."""
    from .errors import ConfigError

    all_leaves = list(enumerate(leaves()))
    if scenarios:
        bad = [w for w in scenarios if find_leaf(w) is None]
        if bad:
            raise ConfigError(f"scenarios: unknown leaf scenario(s) {bad}")
        return [(n, leaf) for n, leaf in all_leaves if leaf.scenario in scenarios]
    if domains:
        wanted = {d.strip().lower() for d in domains}
        unknown = wanted - {d.lower() for d in tree()}
        if unknown:
            raise ConfigError(f"domains: unknown domain(s) {', '.join(sorted(unknown))}")
        return [(n, leaf) for n, leaf in all_leaves if leaf.domain.lower() in wanted]
    return all_leaves
