"""Foreign formats: the reference code's generator JSON and the public Hugging Face copy.

The Hugging Face copy's exact schema is not known on these machines, so its loader matches
fields by meaning (``Query``/``query``/``user_query``...) and fails, naming the record and the
field, when it cannot place one; ``--map field=target`` covers anything else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator

from pydantic import ValidationError

from ..errors import DataError, describe_validation
from ..files import json_items, read_rows, suffix_of
from ..schema import ATTRIBUTES, DOMAINS, Attribute, Profile, Scenario
from ..taxonomy import find_leaf

SUBREDDIT_DOMAINS: dict[str, str] = {
    "relationships": "Relationship", "relationship_advice": "Relationship",
    "careerguidance": "Career", "jobs": "Career",
    "personalfinance": "Financial", "povertyfinance": "Financial",
    "socialskills": "Social", "socialanxiety": "Social",
    "mentalhealth": "Health", "suicidewatch": "Health",
    "adulting": "Life", "selfimprovement": "Life",
    "college": "Education", "gradschool": "Education", "applyingtocollege": "Education",
    "gradadmissions": "Education",
}

# Field names we recognise (lower-cased, spaces/dashes as underscores) -> our field.
FIELD_ALIASES: dict[str, str] = {
    "query": "query", "question": "query", "user_query": "query", "prompt": "query",
    "background": "background", "context": "background", "user_background": "background",
    "scenario": "scenario", "scenario_name": "scenario", "leaf": "scenario",
    "subcategory": "subcategory", "sub_category": "subcategory", "category": "subcategory",
    "domain": "domain", "subreddit": "subreddit", "id": "id", "source": "source",
}


def _norm(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """``--map field=target`` options; a target is a scenario field or an attribute name."""
    mapping = {}
    for pair in pairs:
        if "=" not in pair:
            raise DataError(f"--map {pair!r}: expected FIELD=TARGET, e.g. user_text=query")
        src, dst = (p.strip() for p in pair.split("=", 1))
        target = FIELD_ALIASES.get(_norm(dst))
        if target is None:
            try:
                target = Attribute.parse(dst).value
            except ValueError as exc:
                raise DataError(f"--map {pair!r}: unknown target {dst!r}") from exc
        mapping[src] = target
    return mapping


def scenario_from_record(
    rec: dict[str, Any], where: str, *, mapping: dict[str, str], source: str, id_prefix: str
) -> Scenario:
    """Build a Scenario from one foreign record, matching fields by meaning."""
    fields: dict[str, Any] = {}
    profile: dict[str, str] = {}
    nested = rec.get("User_Profile") or rec.get("profile") or rec.get("Profile")
    items = list(rec.items()) + (list(nested.items()) if isinstance(nested, dict) else [])
    for key, value in items:
        if key in ("User_Profile", "profile", "Profile") or value is None or value == "":
            continue
        target = mapping.get(key) or FIELD_ALIASES.get(_norm(key))
        if target is None:
            try:
                target = Attribute.parse(key).value
            except ValueError:
                continue  # unrelated column (e.g. a score someone added)
        if target in {a.value for a in ATTRIBUTES}:
            profile[target] = str(value).strip()
        else:
            fields[target] = value if isinstance(value, str) else str(value)
    if "query" not in fields:
        raise DataError(
            f"{where}: no query field (looked for Query, query, question, prompt; "
            f"fields present: {', '.join(rec) or 'none'}); use --map FIELD=query"
        )
    leaf = find_leaf(str(fields.get("scenario", "")))
    domain = fields.get("domain")
    if domain:
        domain = next((d for d in DOMAINS if d.lower() == str(domain).strip().lower()), domain)
    elif leaf:
        domain = leaf.domain
    elif fields.get("subreddit"):
        domain = SUBREDDIT_DOMAINS.get(_norm(str(fields["subreddit"])).removeprefix("r/"))
    if not domain:
        raise DataError(
            f"{where}: cannot tell the domain (no Domain field, scenario {fields.get('scenario')!r} is not a "
            f"PENGUIN leaf, subreddit {fields.get('subreddit')!r} is not mapped); use --map FIELD=domain"
        )
    data = {
        "id": str(fields.get("id") or id_prefix),
        "domain": domain,
        "subcategory": fields.get("subcategory") or (leaf.subcategory if leaf else "Unspecified"),
        "scenario": fields.get("scenario") or (leaf.scenario if leaf else "Unspecified"),
        "source": fields.get("source") or ("real" if fields.get("subreddit") else source),
        "query": fields["query"],
        "background": fields.get("background"),
        "subreddit": fields.get("subreddit"),
    }
    try:
        return Scenario(profile=Profile.model_validate(profile), **{k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        raise DataError(f"{where}: {describe_validation(exc)}") from exc


def read_json_file(path: Path, mapping: dict[str, str] | None = None, source: str = "synthetic") -> Iterator[Scenario]:
    """A .json file: a list of records (ours or the HF copy's, or ``{"train": [...]}``), or the
    reference code's generator output (items with ``Queries``)."""
    data = json_items(path)
    if not data:
        raise DataError(f"{path}: empty list, no scenarios")
    for i, item in enumerate(data):
        where = f"{path}: item {i}"
        if not isinstance(item, dict):
            raise DataError(f"{where}: expected an object, got {type(item).__name__}")
        if "Queries" in item:
            yield from _reference_item(item, where, i)
        else:
            yield scenario_from_record(item, where, mapping=mapping or {}, source=source, id_prefix=f"{path.stem}-{i:06d}")


def _reference_item(item: dict[str, Any], where: str, index: int) -> Iterator[Scenario]:
    queries = item["Queries"]
    if not isinstance(queries, list) or not all(isinstance(q, str) for q in queries):
        raise DataError(f"{where}: field 'Queries' must be a list of strings")
    name = item.get("Scenario")
    leaf = find_leaf(str(name or ""))
    if leaf is None:
        raise DataError(f"{where}: field 'Scenario': {name!r} is not one of the 140 PENGUIN leaf scenarios")
    raw_profile = item.get("User_Profile")
    if not isinstance(raw_profile, dict):
        raise DataError(f"{where}: field 'User_Profile' must be an object of the 10 attributes")
    profile: dict[str, str] = {}
    for key, value in raw_profile.items():
        if key == "Scenario":
            continue
        try:
            profile[Attribute.parse(key).value] = str(value)
        except ValueError as exc:
            raise DataError(f"{where}: field 'User_Profile.{key}': {exc}") from exc
    for j, query in enumerate(queries):
        try:
            yield Scenario(
                id=f"ref-{index:04d}-q{j:02d}", domain=leaf.domain, subcategory=leaf.subcategory,
                scenario=leaf.scenario, source="synthetic", profile=Profile.model_validate(profile), query=query,
            )
        except ValidationError as exc:
            raise DataError(f"{where}: query {j}: {describe_validation(exc)}") from exc


def read_foreign(path: Path, mapping: dict[str, str], source: str) -> Iterator[Scenario]:
    """The tolerant loader: records with the HF copy's likely fields in any format penguin
    reads rows from, or the reference code's JSON."""
    if suffix_of(path) == ".json":
        yield from read_json_file(path, mapping, source)
        return
    for n, (where, rec) in enumerate(read_rows(path)):
        yield scenario_from_record(rec, where, mapping=mapping, source=source, id_prefix=f"{path.stem}-{n:06d}")
