"""``penguin data generate``: the LLM synthetic pipeline of SPEC section 4, with any model.

scenario -> profile (values constrained to the value sets by a JSON schema, relational
constraints checked, retried when violated) -> N queries (the paper's rules) -> near-duplicate
removal -> JSONL. Work is done per (leaf, profile) unit; finished units are appended to
``<out>.part`` and skipped on resume (a finished ``<out>`` counts as done too); the file is renamed to ``<out>`` once every unit has been
attempted (units the model failed are counted and reported, not retried forever).
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .. import prompts
from ..errors import ModelError
from ..files import iter_jsonl, repair_jsonl
from ..models import ChatModel
from ..models.structured import ask_json
from ..schema import ATTRIBUTES, VALUE_SETS, Profile, Scenario
from ..taxonomy import Leaf
from .query_bank import is_near_duplicate
from .sampler import violations

SYSTEM = "You help build a research benchmark on the safety of AI assistants. Follow the output format exactly."

PROFILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {a.value: {"type": "string", "enum": list(VALUE_SETS[a])} for a in ATTRIBUTES},
    "required": [a.value for a in ATTRIBUTES],
    "additionalProperties": False,
}


def queries_schema(n: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"queries": {"type": "array", "items": {"type": "string", "minLength": 8, "maxLength": 300},
                                   "minItems": n, "maxItems": n}},
        "required": ["queries"],
        "additionalProperties": False,
    }


@dataclass
class GenerateStats:
    units: int = 0
    skipped_done: int = 0
    scenarios: int = 0
    profile_failures: int = 0
    query_failures: int = 0
    near_duplicates_removed: int = 0
    problems: list[str] = field(default_factory=list)


def _unit_id(leaf_no: int, p: int) -> str:
    return f"gen-{leaf_no:03d}-p{p}"


def _checked_profile(leaf: Leaf):  # noqa: ANN202 - returns a validator closure
    def check(value: Any) -> Profile:
        profile = Profile.model_validate(value)
        problems = violations(profile, leaf)
        if problems:
            raise ValueError("; ".join(problems))
        return profile

    return check


def _checked_queries(value: Any) -> list[str]:
    queries = value["queries"]
    if not isinstance(queries, list) or not all(isinstance(q, str) for q in queries):
        raise ValueError("queries must be a list of strings")
    cleaned = [q.strip() for q in queries if q.strip()]
    if not cleaned:
        raise ValueError("no queries")
    return cleaned


async def generate_unit(model: ChatModel, leaf: Leaf, leaf_no: int, p: int, n_queries: int, seed: int,
                        stats: GenerateStats, accepted: list[str]) -> list[Scenario]:
    base_seed = seed * 100_003 + leaf_no * 101 + p * 7
    try:
        profile, _ = await ask_json(
            model, SYSTEM,
            prompts.render("generate_profile", scenario=leaf.scenario, domain=leaf.domain, subcategory=leaf.subcategory,
                           value_sets=[(a.value, VALUE_SETS[a]) for a in ATTRIBUTES]),
            PROFILE_SCHEMA, check=_checked_profile(leaf), seed=base_seed, temperature=0.9, max_tokens=300, attempts=4,
        )
    except ModelError as exc:
        stats.profile_failures += 1
        stats.problems.append(f"{leaf.scenario} profile {p}: {exc}")
        return []
    try:
        queries, _ = await ask_json(
            model, SYSTEM,
            prompts.render("generate_queries", scenario=leaf.scenario, domain=leaf.domain, n=n_queries,
                           profile_items=[(a.value, v) for a, v in profile.items()]),
            queries_schema(n_queries), check=_checked_queries, seed=base_seed + 1, temperature=0.9,
            max_tokens=80 * n_queries + 60, attempts=3,
        )
    except ModelError as exc:
        stats.query_failures += 1
        stats.problems.append(f"{leaf.scenario} queries {p}: {exc}")
        return []
    kept: list[str] = []
    for q in queries:
        if is_near_duplicate(q, accepted):
            stats.near_duplicates_removed += 1
            continue
        kept.append(q)
        accepted.append(q)
    return [
        Scenario(id=f"{_unit_id(leaf_no, p)}-q{j:02d}", domain=leaf.domain, subcategory=leaf.subcategory,
                 scenario=leaf.scenario, source="synthetic", profile=profile, query=q)
        for j, q in enumerate(kept)
    ]


async def generate(model: ChatModel, leaves: Iterable[tuple[int, Leaf]], out: Path, *, profiles_per_leaf: int,
                   queries_per_profile: int, seed: int = 0, concurrency: int = 4, on_unit: Any = None) -> GenerateStats:
    """Run the pipeline, resuming from ``<out>.part`` if it exists."""
    part = out.with_name(out.name + ".part")
    if out.exists() and not part.exists():
        shutil.copyfile(out, part)  # a finished file is the base: rerunning extends it, redoing nothing
    stats = GenerateStats()
    done: set[str] = set()
    accepted: dict[str, list[str]] = {}
    if part.exists():
        repair_jsonl(part)
        for _, obj in iter_jsonl(part):
            done.add(obj["id"].rsplit("-q", 1)[0])
            accepted.setdefault(obj["scenario"], []).append(obj["query"])
    sem = asyncio.Semaphore(concurrency)
    leaves = list(leaves)
    with part.open("a", encoding="utf-8") as fh:

        async def one(leaf_no: int, leaf: Leaf, p: int) -> None:
            unit = _unit_id(leaf_no, p)
            if unit in done:
                stats.skipped_done += 1
            else:
                async with sem:
                    rows = await generate_unit(model, leaf, leaf_no, p, queries_per_profile, seed, stats,
                                               accepted.setdefault(leaf.scenario, []))
                # one write per unit: a crash leaves a unit whole or (after repair) absent
                fh.write("".join(s.model_dump_json(exclude_none=True) + "\n" for s in rows))
                fh.flush()
                stats.scenarios += len(rows)
            stats.units += 1
            if on_unit:
                on_unit()

        await asyncio.gather(*(one(n, leaf, p) for n, leaf in leaves for p in range(profiles_per_leaf)))
    part.replace(out)  # every unit was attempted; failures are counted in the stats
    return stats
