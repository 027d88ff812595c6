"""``penguin data validate`` and ``penguin data stats``: every problem at once, and a summary.

Validation keeps reading after a bad line so the user sees all problems in one pass:
malformed JSON, missing or invalid fields, unknown domains or leaf scenarios, duplicate
ids, and profiles that break the hard constraints of SPEC section 3.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from statistics import mean, median
from typing import Iterator

from pydantic import BaseModel, ValidationError

from ..errors import DataError, describe_validation
from ..files import scan_jsonl
from ..schema import ATTRIBUTES, Scenario
from ..taxonomy import find_leaf
from .sampler import violations
from .splits import normalise_query
from .sources import load_scenarios


def _scenarios_with_location(path: Path) -> Iterator[tuple[str, Scenario | None, str | None]]:
    """(location, scenario or None, problem or None), continuing past bad JSONL lines."""
    if not path.exists():
        yield str(path), None, f"{path}: no such file"
        return
    if not path.name.lower().endswith((".jsonl", ".jsonl.gz")):
        try:
            for i, s in enumerate(load_scenarios(path)):
                yield f"{path}: record {i + 1}", s, None
        except DataError as exc:
            yield str(path), None, str(exc)
        return
    for lineno, obj, problem in scan_jsonl(path):
        if problem:
            yield f"{path}:{lineno}", None, problem
            continue
        try:
            yield f"{path}:{lineno}", Scenario.model_validate(obj), None
        except ValidationError as exc:
            yield f"{path}:{lineno}", None, f"{path}:{lineno}: {describe_validation(exc)}"


def validate(path: Path, *, max_problems: int = 1000) -> tuple[int, list[str]]:
    """Count valid scenarios and list every problem found (up to ``max_problems``)."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    n_ok = 0
    for where, s, problem in _scenarios_with_location(path):
        if problem:
            problems.append(problem)
        elif s is not None:
            item_problems = []
            if s.id in seen:
                item_problems.append(f"field 'id': duplicate of {seen[s.id]}")
            else:
                seen[s.id] = where
            leaf = find_leaf(s.scenario)
            if leaf is None and s.source == "synthetic":
                item_problems.append(f"field 'scenario': {s.scenario!r} is not a PENGUIN leaf scenario")
            elif leaf is not None and leaf.domain != s.domain:
                item_problems.append(f"field 'domain': {s.domain!r} but scenario {s.scenario!r} is in {leaf.domain}")
            if s.source == "synthetic":
                item_problems += [f"field 'profile.{p.split(':')[0]}': {p}" for p in violations(s.profile, leaf)]
            if item_problems:
                problems += [f"{where}: {p}" for p in item_problems]
            else:
                n_ok += 1
        if len(problems) >= max_problems:
            problems.append(f"... stopped after {max_problems} problems")
            break
    if n_ok == 0 and not problems:
        problems.append(f"{path}: empty file, no scenarios")
    return n_ok, problems


class DataStats(BaseModel):
    """What ``penguin data stats`` shows of a scenario source."""

    total: int
    per_source_domain: dict[str, dict[str, int]]
    """source -> domain -> scenarios."""
    per_subcategory: dict[str, int]
    leaves: dict[str, int]
    """domain -> distinct leaf scenarios (unspecified ones not counted)."""
    coverage: dict[str, float]
    """attribute -> share of scenarios where it is known."""
    attributes: dict[str, dict[str, int]]
    """attribute -> its 12 most common values (categories) and a count of the rest."""
    distinct_queries: int
    duplicate_queries: int
    """Distinct queries asked in more than one scenario (normalised text)."""
    query_words: dict[str, float]


def stats(source: str | Path | None) -> DataStats:
    """Counts by source x domain, leaves, attribute coverage and values, duplicates, lengths."""
    per_source_domain: dict[str, Counter[str]] = defaultdict(Counter)
    per_sub: Counter[tuple[str, str]] = Counter()
    leaves: dict[str, set[str]] = defaultdict(set)
    known: Counter[str] = Counter()
    values: dict[str, Counter[str]] = defaultdict(Counter)
    queries: Counter[str] = Counter()
    lengths: list[int] = []
    for s in load_scenarios(source):
        per_source_domain[s.source][s.domain] += 1
        per_sub[(s.domain, s.subcategory)] += 1
        if find_leaf(s.scenario):
            leaves[s.domain].add(s.scenario)
        for attr in ATTRIBUTES:
            cat = s.profile.category(attr)
            known[attr.value] += cat is not None
            values[attr.value][cat or "(unknown)"] += 1
        queries[normalise_query(s.query)] += 1
        lengths.append(len(s.query.split()))
    if not lengths:
        raise DataError(f"{source}: no scenarios")
    lengths.sort()
    total = len(lengths)
    return DataStats(
        total=total,
        per_source_domain={src: dict(c) for src, c in sorted(per_source_domain.items())},
        per_subcategory={f"{d} / {s}": n for (d, s), n in sorted(per_sub.items())},
        leaves={d: len(v) for d, v in sorted(leaves.items())},
        coverage={a.value: round(known[a.value] / total, 4) for a in ATTRIBUTES},
        # the 12 most common values per attribute: real data holds free text, and a summary
        # should not reprint every individual's details
        attributes={a: _top(c, 12) for a, c in values.items()},
        distinct_queries=len(queries), duplicate_queries=sum(n > 1 for n in queries.values()),
        query_words={"min": lengths[0], "median": median(lengths), "mean": round(mean(lengths), 1),
                     "max": lengths[-1]})
def _top(counter: Counter[str], n: int) -> dict[str, int]:
    top = dict(counter.most_common(n))
    rest = sum(counter.values()) - sum(top.values())
    if rest:
        top[f"({len(counter) - n} other values)"] = rest
    return top
