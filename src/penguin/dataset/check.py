"""``penguin data validate`` and ``penguin data stats``: every problem at once, and a summary.

Validation keeps reading after a bad line so the user sees all problems in one pass:
malformed JSON, missing or invalid fields, unknown domains or leaf scenarios, duplicate
ids, and profiles that break the hard constraints of SPEC section 3.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from statistics import mean, median
from typing import Any, Iterator

from pydantic import ValidationError

from ..errors import DataError, describe_validation
from ..files import scan_jsonl
from ..schema import ATTRIBUTES, Scenario
from ..taxonomy import find_leaf
from .sampler import violations
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


def stats(source: str | Path | None) -> dict[str, Any]:
    """Counts per domain/subcategory/source, attribute value distributions, query lengths."""
    per_domain: Counter[str] = Counter()
    per_sub: Counter[tuple[str, str]] = Counter()
    per_source: Counter[str] = Counter()
    values: dict[str, Counter[str]] = defaultdict(Counter)
    lengths: list[int] = []
    for s in load_scenarios(source):
        per_domain[s.domain] += 1
        per_sub[(s.domain, s.subcategory)] += 1
        per_source[s.source] += 1
        for attr in ATTRIBUTES:
            values[attr.value][s.profile.category(attr) or "(unknown)"] += 1
        lengths.append(len(s.query.split()))
    if not lengths:
        raise DataError(f"{source}: no scenarios")
    lengths.sort()
    return {
        "total": len(lengths),
        "per_domain": dict(per_domain),
        "per_subcategory": {f"{d} / {s}": n for (d, s), n in sorted(per_sub.items())},
        "per_source": dict(per_source),
        # the 12 most common values per attribute: real data holds free text, and a summary
        # should not reprint every individual's details
        "attributes": {a: _top(c, 12) for a, c in values.items()},
        "query_words": {"min": lengths[0], "median": median(lengths), "mean": round(mean(lengths), 1),
                        "max": lengths[-1]},
    }


def _top(counter: Counter[str], n: int) -> dict[str, int]:
    top = dict(counter.most_common(n))
    rest = sum(counter.values()) - sum(top.values())
    if rest:
        top[f"({len(counter) - n} other values)"] = rest
    return top
