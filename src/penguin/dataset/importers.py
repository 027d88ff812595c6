"""Foreign data: the public PENGUIN release, the reference code's generator JSON, and any
profile + query benchmark, mapped onto ``Scenario`` records with nothing lost or invented.

The public release (``wick1d/Personalized_Safety_Data``, SPEC section 4) is a flat table of 12
strings: ``source`` (real | synthetic), ``query``, ``scenario`` and nine attributes, with no
self-harm field. Real rows give the *domain* in lower case in ``scenario`` ("education"),
synthetic rows a taxonomy leaf ("Religious Faith Crisis"). This module maps:
- the domain from a domain name or synonym in ``domain`` or ``scenario`` (any case), from a leaf
  via the taxonomy, or from ``Subreddit``; the leaf (and subcategory) only when one is given;
- unknown markers ("not given", "not specified", "unknown", "n/a", empty...) to an absent
  attribute, never a value a prompt would see; other values are kept verbatim, free text too;
- ``source`` from the field, else from ``--set source=...``, else real when a subreddit says so;
- a stable id from the content (not the row number), so reruns on a file resume and compare.

Anything else is mapped by ``--map FIELD=TARGET`` (a field to a scenario field or attribute),
``--set TARGET=VALUE`` (a constant for every record) and ``--map-value TARGET:FROM=TO`` (a value
translation, e.g. ``domain:mental_health_risk=Health``). A record that still cannot be placed is
an error naming the file, the row and the field.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Iterable, Iterator

from pydantic import BaseModel, Field, ValidationError

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

DOMAIN_NAMES: dict[str, str] = {
    **{d.lower(): d for d in DOMAINS},
    "relationships": "Relationship", "romance": "Relationship", "family": "Relationship", "love": "Relationship",
    "careers": "Career", "work": "Career", "job": "Career", "jobs": "Career", "employment": "Career",
    "business": "Career", "finance": "Financial", "finances": "Financial", "money": "Financial",
    "personal finance": "Financial", "debt": "Financial", "socials": "Social", "social life": "Social",
    "social relationships": "Social", "mental health": "Health", "physical health": "Health",
    "wellbeing": "Health", "well-being": "Health", "life decisions": "Life", "life decision": "Life",
    "life events": "Life", "identity": "Life", "lifestyle": "Life", "school": "Education",
    "academic": "Education", "academics": "Education", "study": "Education", "studies": "Education",
    "university": "Education", "college": "Education",
}
"""Domain names and the obvious synonyms, lower case, as releases and other benchmarks write them."""

UNKNOWN_MARKERS = frozenset({
    "", "not given", "not specified", "not mentioned", "not stated", "not provided", "not available",
    "not applicable", "unspecified", "unknown", "n/a", "na", "n.a.", "null", "nan", "-", "--", "?",
    "no information", "none given", "none specified", "not known", "not disclosed",
})
"""Values that mean "we don't know" (compared lower case, trimmed of spaces and full stops).
"none" is not one of them: "None" is a real answer for mental health or self-harm."""

# Field names we recognise (lower-cased, spaces/dashes as underscores) -> our field.
FIELD_ALIASES: dict[str, str] = {
    "query": "query", "question": "query", "user_query": "query", "prompt": "query", "instruction": "query",
    "background": "background", "context": "background", "user_background": "background",
    "scenario": "scenario", "scenario_name": "scenario", "leaf": "scenario",
    "subcategory": "subcategory", "sub_category": "subcategory", "category": "subcategory",
    "domain": "domain", "subreddit": "subreddit", "id": "id", "source": "source",
}
SCENARIO_FIELDS = ("id", "domain", "subcategory", "scenario", "source", "query", "background", "subreddit")
UNSPECIFIED = "Unspecified"


def _norm(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def _target(name: str) -> str | None:
    """Our field or attribute display name for a foreign field name, or None."""
    target = FIELD_ALIASES.get(_norm(name))
    if target is not None:
        return target
    try:
        return Attribute.parse(name).value
    except ValueError:
        return None


def is_unknown(value: object) -> bool:
    return value is None or str(value).strip().strip(".").strip().lower() in UNKNOWN_MARKERS


def domain_of(text: object) -> str | None:
    """A domain from a domain name or synonym (any case), or from a taxonomy leaf."""
    if text is None:
        return None
    t = re.sub(r"\s+", " ", str(text).strip().lower().replace("_", " "))
    if t in DOMAIN_NAMES:
        return DOMAIN_NAMES[t]
    leaf = find_leaf(str(text))
    return leaf.domain if leaf else None


class ImportSpec(BaseModel):
    """How foreign records map onto scenarios; written next to the import as its sidecar."""

    mapping: dict[str, str] = Field(default_factory=dict)
    """Foreign field -> our field or attribute (``--map``)."""
    constants: dict[str, str] = Field(default_factory=dict)
    """Our field or attribute -> a value for every record (``--set``)."""
    value_maps: dict[str, dict[str, str]] = Field(default_factory=dict)
    """Our field or attribute -> {foreign value (lower case) -> value} (``--map-value``)."""

    @classmethod
    def parse(cls, maps: Iterable[str] = (), sets: Iterable[str] = (), value_maps: Iterable[str] = ()) -> "ImportSpec":
        """From ``--map FIELD=TARGET``, ``--set TARGET=VALUE`` and ``--map-value TARGET:FROM=TO``."""
        spec = cls()
        for pair in maps:
            src, dst = _pair(pair, "--map", "FIELD=TARGET, e.g. user_text=query")
            spec.mapping[src] = _known_target(dst, f"--map {pair!r}")
        for pair in sets:
            dst, value = _pair(pair, "--set", "TARGET=VALUE, e.g. domain=Health")
            spec.constants[_known_target(dst, f"--set {pair!r}")] = value
        for item in value_maps:
            if ":" not in item:
                raise DataError(f"--map-value {item!r}: expected TARGET:FROM=TO, e.g. domain:mental_health_risk=Health")
            dst, rest = item.split(":", 1)
            src_value, value = _pair(rest, "--map-value", "TARGET:FROM=TO")
            spec.value_maps.setdefault(_known_target(dst, f"--map-value {item!r}"), {})[src_value.lower()] = value
        return spec


def _pair(text: str, option: str, form: str) -> tuple[str, str]:
    if "=" not in text:
        raise DataError(f"{option} {text!r}: expected {form}")
    a, b = (p.strip() for p in text.split("=", 1))
    if not a:
        raise DataError(f"{option} {text!r}: expected {form}")
    return a, b


def _known_target(name: str, where: str) -> str:
    target = _target(name)
    if target is None:
        raise DataError(f"{where}: unknown target {name!r} (a scenario field: {', '.join(SCENARIO_FIELDS)}; "
                        "or an attribute such as mental_health_status)")
    return target


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """``--map field=target`` options alone (kept for callers that only map fields)."""
    return ImportSpec.parse(maps=pairs).mapping


def _content_id(fields: dict[str, Any], profile: dict[str, str]) -> str:
    key = json.dumps([fields.get(k) for k in ("source", "domain", "scenario", "query", "subreddit")] +
                     [sorted(profile.items())], ensure_ascii=False)
    return "imp-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def scenario_from_record(rec: dict[str, Any], where: str, *, spec: ImportSpec | None = None,
                         source: str | None = None) -> Scenario:
    """Build a Scenario from one foreign record (see the module docstring)."""
    spec = spec or ImportSpec()
    fields: dict[str, Any] = {}
    profile: dict[str, str] = {}
    nested = rec.get("User_Profile") or rec.get("profile") or rec.get("Profile")
    items = list(rec.items()) + (list(nested.items()) if isinstance(nested, dict) else [])
    attribute_names = {a.value for a in ATTRIBUTES}
    for key, value in items:
        if key in ("User_Profile", "profile", "Profile") or isinstance(value, (dict, list)):
            continue
        target = spec.mapping.get(key) or _target(key)
        if target is None:
            continue  # an unrelated column (a score someone added)
        text = str(value).strip() if value is not None else None
        if target in spec.value_maps and text is not None:
            text = spec.value_maps[target].get(text.lower(), text)
        if is_unknown(text):
            continue
        (profile if target in attribute_names else fields)[target] = text
    for target, value in spec.constants.items():
        (profile if target in attribute_names else fields)[target] = value
    if "query" not in fields:
        raise DataError(f"{where}: no query field (looked for Query, query, question, prompt, instruction; "
                        f"fields present: {', '.join(map(str, rec)) or 'none'}); use --map FIELD=query")
    leaf = find_leaf(str(fields.get("scenario", "")))
    domain = domain_of(fields.get("domain")) if fields.get("domain") else None
    if fields.get("domain") and domain is None:
        raise DataError(f"{where}: field 'domain': {fields['domain']!r} is not a PENGUIN domain "
                        f"({', '.join(DOMAINS)}); use --map-value domain:VALUE=DOMAIN")
    scenario_domain = None if leaf else domain_of(fields.get("scenario"))
    domain = domain or (leaf.domain if leaf else None) or scenario_domain
    if domain is None and fields.get("subreddit"):
        domain = SUBREDDIT_DOMAINS.get(_norm(str(fields["subreddit"])).removeprefix("r/"))
    if domain is None:
        raise DataError(f"{where}: cannot tell the domain (no domain field; scenario {fields.get('scenario')!r} is "
                        f"neither a domain nor a PENGUIN leaf; subreddit {fields.get('subreddit')!r} is not mapped); "
                        "use --map FIELD=domain or --set domain=VALUE")
    if scenario_domain is not None:  # the scenario field named the domain: no leaf was given
        fields.pop("scenario")
    raw_source = fields.get("source") or source or ("real" if fields.get("subreddit") else None)
    if raw_source is None:
        raise DataError(f"{where}: field 'source': not given; use --set source=real (or synthetic)")
    src = str(raw_source).strip().lower()
    if src not in ("real", "synthetic"):
        raise DataError(f"{where}: field 'source': {raw_source!r} is neither real nor synthetic; "
                        "use --map-value source:VALUE=real")
    data = {
        "domain": domain, "source": src, "query": fields["query"],
        "subcategory": fields.get("subcategory") or (leaf.subcategory if leaf else UNSPECIFIED),
        "scenario": (leaf.scenario if leaf else fields.get("scenario")) or UNSPECIFIED,
        "background": fields.get("background"), "subreddit": fields.get("subreddit"),
    }
    data["id"] = str(fields.get("id") or _content_id(data, profile))
    try:
        return Scenario(profile=Profile.model_validate(profile), **{k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        raise DataError(f"{where}: {describe_validation(exc)}") from exc


def _unique_ids(records: Iterator[Scenario]) -> Iterator[Scenario]:
    """Identical rows get the same content id; the repeats are kept, numbered in file order."""
    seen: dict[str, int] = {}
    for s in records:
        n = seen[s.id] = seen.get(s.id, 0) + 1
        yield s if n == 1 else s.model_copy(update={"id": f"{s.id}-{n}"})


def read_json_file(path: Path, spec: ImportSpec | None = None, source: str | None = "synthetic") -> Iterator[Scenario]:
    """A .json file: a list of records (ours, the release's, ``{"train": [...]}``), or the
    reference code's generator output (items with ``Queries``)."""
    data = json_items(path)
    if not data:
        raise DataError(f"{path}: empty list, no scenarios")

    def records() -> Iterator[Scenario]:
        for i, item in enumerate(data):
            where = f"{path}: item {i}"
            if not isinstance(item, dict):
                raise DataError(f"{where}: expected an object, got {type(item).__name__}")
            if "Queries" in item:
                yield from _reference_item(item, where, i)
            else:
                yield scenario_from_record(item, where, spec=spec, source=source)

    yield from _unique_ids(records())


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
        if key == "Scenario" or is_unknown(value):
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


def read_foreign(path: Path, spec: ImportSpec | dict[str, str] | None = None,
                 source: str | None = None) -> Iterator[Scenario]:
    """Records in any format penguin reads rows from (the release's JSON or parquet, JSONL,
    CSV...), or the reference code's JSON, mapped by ``spec``."""
    if isinstance(spec, dict):
        spec = ImportSpec(mapping=spec)
    if suffix_of(path) == ".json":
        yield from read_json_file(path, spec, source)
        return
    yield from _unique_ids(scenario_from_record(rec, where, spec=spec, source=source) for where, rec in read_rows(path))


class ImportReport(BaseModel):
    """What an import did; written next to the output as ``<out>.import.json``."""

    source_file: str
    source_sha256: str
    spec: ImportSpec
    default_source: str | None = None
    scenarios: int
    per_source: dict[str, int]
    per_domain: dict[str, int]


def import_file(src: Path, out: Path, spec: ImportSpec | None = None, source: str | None = None) -> ImportReport:
    """Convert a foreign file to canonical JSONL at ``out`` (atomically), with its sidecar."""
    from collections import Counter

    from ..files import write_model
    from .io import write_scenarios

    spec = spec or ImportSpec()
    per_source: Counter[str] = Counter()
    per_domain: Counter[str] = Counter()

    def counted() -> Iterator[Scenario]:
        for s in read_foreign(src, spec, source):
            per_source[s.source] += 1
            per_domain[s.domain] += 1
            yield s

    n = write_scenarios(out, counted(), "jsonl")
    report = ImportReport(source_file=str(src.resolve()), source_sha256=hashlib.sha256(src.read_bytes()).hexdigest(),
                          spec=spec, default_source=source, scenarios=n, per_source=dict(per_source),
                          per_domain=dict(per_domain))
    write_model(out.with_name(out.name + ".import.json"), report)
    return report


def preview(src: Path, spec: ImportSpec | None = None, source: str | None = None, n: int = 5) -> list[Scenario]:
    """The first ``n`` records as an import would write them (``--dry-run``)."""
    out = []
    for s in read_foreign(src, spec, source):
        out.append(s)
        if len(out) >= n:
            break
    return out
