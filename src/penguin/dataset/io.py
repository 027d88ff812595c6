"""Scenario files in penguin's own formats: JSONL (canonical), flat CSV/parquet rows, and the
reference code's generator JSON as an export.

Generic file handling (streaming, atomic writes, byte-order marks) is ``penguin.files``'; this
module maps rows to ``Scenario`` records and back. Foreign formats are read by ``importers``.
"""

from __future__ import annotations

import csv
import json
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Iterator

from pydantic import ValidationError

from ..errors import DataError, describe_validation
from ..files import atomic_writer, read_records, read_rows, suffix_of, write_jsonl
from ..schema import ATTRIBUTES, Profile, Scenario

BUNDLED_NAME = "penguin-synthetic"
FLAT_FIELDS = ["id", "domain", "subcategory", "scenario", "source", "query", "background", "subreddit"]


def bundled_path() -> Path:
    return Path(str(resources.files("penguin").joinpath("data/penguin_synthetic.jsonl.gz")))


def to_row(s: Scenario) -> dict[str, str]:
    """A flat row: the scenario fields plus one column per attribute (display names)."""
    row = {f: getattr(s, f) or "" for f in FLAT_FIELDS}
    for attr in ATTRIBUTES:
        row[attr.value] = s.profile.get(attr) or ""
    return row


def from_row(row: dict[str, Any]) -> Scenario:
    def clean(v: Any) -> str | None:
        if v is None:
            return None
        text = str(v).strip()
        return text or None

    profile = {attr.value: clean(row.get(attr.value)) for attr in ATTRIBUTES}
    data = {f: clean(row.get(f)) for f in FLAT_FIELDS}
    data["profile"] = Profile.model_validate({k: v for k, v in profile.items() if v is not None})
    return Scenario.model_validate({k: v for k, v in data.items() if v is not None})


def read_canonical(path: Path) -> Iterator[Scenario]:
    """Scenarios from our JSONL, or from flat CSV/parquet rows as ``export`` writes them."""
    suffix = suffix_of(path)
    if suffix in (".jsonl", ".jsonl.gz"):
        yield from read_records(path, Scenario)
        return
    first = True
    for where, row in read_rows(path):
        if first:
            missing = [f for f in ("id", "domain", "query") if f not in row]
            if missing:
                raise DataError(f"{where}: lacks column(s) {', '.join(missing)} "
                                "(a foreign file? use penguin data import)")
            first = False
        try:
            yield from_row(row)
        except ValidationError as exc:
            raise DataError(f"{where}: {describe_validation(exc)}") from exc


def write_scenarios(path: Path, scenarios: Iterable[Scenario], fmt: str | None = None) -> int:
    """Write scenarios in the format named by ``fmt`` or the suffix; atomically."""
    fmt = fmt or _format_of(path)
    if fmt == "jsonl":
        return write_jsonl(path, scenarios)
    if fmt == "csv":
        n = 0
        with atomic_writer(path) as fh:
            writer = csv.DictWriter(fh, fieldnames=FLAT_FIELDS + [a.value for a in ATTRIBUTES])
            writer.writeheader()
            for s in scenarios:
                writer.writerow(to_row(s))
                n += 1
        return n
    if fmt == "parquet":
        return _write_parquet(path, scenarios)
    if fmt == "reference":
        return write_reference(path, scenarios)
    raise DataError(f"unknown export format {fmt!r} (use jsonl, csv, parquet or reference)")


def _format_of(path: Path) -> str:
    name = path.name.lower()
    for suffix, fmt in ((".jsonl", "jsonl"), (".jsonl.gz", "jsonl"), (".csv", "csv"), (".parquet", "parquet"),
                        (".json", "reference")):
        if name.endswith(suffix):
            return fmt
    raise DataError(f"{path}: cannot tell the format from the name; pass --format")


def _write_parquet(path: Path, scenarios: Iterable[Scenario]) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise DataError("writing parquet needs pyarrow: pip install 'penguin-safety[hf]'") from exc
    columns = FLAT_FIELDS + [a.value for a in ATTRIBUTES]
    schema = pa.schema([(c, pa.string()) for c in columns])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    n = 0
    try:
        with pq.ParquetWriter(tmp, schema) as writer:
            batch: list[dict[str, str]] = []
            for s in scenarios:
                batch.append(to_row(s))
                n += 1
                if len(batch) == 2048:
                    writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                    batch = []
            if batch:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def write_reference(path: Path, scenarios: Iterable[Scenario]) -> int:
    """The reference code's queries format: one entry per (scenario, profile) with its queries."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    n = 0
    for s in scenarios:
        key = (s.scenario, json.dumps(s.profile.dump(), sort_keys=True))
        entry = groups.setdefault(key, {"Scenario": s.scenario, "User_Profile": s.profile.dump(), "Queries": []})
        entry["Queries"].append(s.query)
        n += 1
    with atomic_writer(path) as fh:
        json.dump(list(groups.values()), fh, ensure_ascii=False, indent=1)
    return n
