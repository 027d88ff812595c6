"""Reading and writing scenario files: JSONL (canonical), CSV, parquet, and the paper's formats.

Readers stream and name file, line and field in every error. Writers write to a temporary
file and rename it, so a crash never leaves a partial file that looks complete.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import os
import tempfile
import zlib
from importlib import resources
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import DataError, describe_validation
from ..schema import ATTRIBUTES, Profile, Scenario

M = TypeVar("M", bound=BaseModel)

BUNDLED_NAME = "penguin-synthetic"
FLAT_FIELDS = ["id", "domain", "subcategory", "scenario", "source", "query", "background", "subreddit"]


def open_text(path: Path, mode: str = "r") -> IO[str]:
    """Open plain or gzip-compressed text as UTF-8 (gzip chosen by the .gz suffix)."""
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8", newline="")  # type: ignore[return-value]
    return path.open(mode, encoding="utf-8", newline="")


def _scan_lines(path: Path) -> Iterator[tuple[int, str | None, str | None]]:
    """(line number, text, problem) for each non-blank line; a line that is not UTF-8 comes
    with a problem instead of text. An unreadable file raises DataError.

    Lines are decoded one by one so an encoding error names its own line."""
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")) as fh:
            for lineno, raw in enumerate(fh, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield lineno, None, f"{path}:{lineno}: not valid UTF-8 ({exc.reason})"
                    continue
                if line.strip():
                    yield lineno, line, None
    except FileNotFoundError as exc:
        raise DataError(f"{path}: no such file") from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc


def _parse_object(path: Path, lineno: int, line: str) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{lineno}: malformed JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(obj, dict):
        raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
    return obj


def _strict_lines(path: Path) -> Iterator[tuple[int, str]]:
    for lineno, line, problem in _scan_lines(path):
        if problem:
            raise DataError(problem)
        yield lineno, line  # type: ignore[misc]


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; DataError on the first bad one."""
    for lineno, line in _strict_lines(path):
        yield lineno, _parse_object(path, lineno, line)


def scan_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Like iter_jsonl, but a bad line (or file) is reported as a problem and the scan goes on."""
    try:
        for lineno, line, problem in _scan_lines(path):
            if problem:
                yield lineno, None, problem
                continue
            try:
                yield lineno, _parse_object(path, lineno, line), None  # type: ignore[arg-type]
            except DataError as exc:
                yield lineno, None, str(exc)
    except DataError as exc:
        yield 0, None, str(exc)


def read_records(path: Path, model: type[M]) -> Iterator[M]:
    """Stream a JSONL file of ``model`` records, failing on the first invalid one."""
    for lineno, line in _strict_lines(path):
        try:
            yield model.model_validate_json(line)  # fast path: one pass in pydantic-core
        except ValidationError:
            obj = _parse_object(path, lineno, line)  # slow path only to word the error
            try:
                yield model.model_validate(obj)
            except ValidationError as exc:
                raise DataError(f"{path}:{lineno}: {describe_validation(exc)}") from exc


@contextlib.contextmanager
def atomic_writer(path: Path) -> Iterator[IO[str]]:
    """Write text to ``path`` through a temp file renamed into place only on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if path.suffix == ".gz":
            with gzip.GzipFile(tmp, "wb", mtime=0) as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="\n") as fh:
                yield fh
        else:
            with tmp.open("w", encoding="utf-8", newline="\n") as fh:
                yield fh
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)  # mkstemp creates 0600; give the file normal permissions
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def repair_jsonl(path: Path) -> None:
    """Drop a torn last line left by a crash mid-write, so appending stays valid JSONL."""
    if not path.exists():
        return
    with path.open("rb+") as fh:
        end = fh.seek(0, os.SEEK_END)
        pos = end
        while pos > 0:  # scan back in blocks for the last newline
            step = min(65536, pos)
            fh.seek(pos - step)
            block = fh.read(step)
            if pos == end and block.endswith(b"\n"):
                return
            nl = block.rfind(b"\n")
            if nl >= 0:
                fh.truncate(pos - step + nl + 1)
                return
            pos -= step
        fh.truncate(0)


def write_jsonl(path: Path, records: Iterable[BaseModel]) -> int:
    n = 0
    with atomic_writer(path) as fh:
        for rec in records:
            fh.write(rec.model_dump_json(exclude_none=True) + "\n")
            n += 1
    return n


# ---------------------------------------------------------------- scenarios


def bundled_path() -> Path:
    return Path(str(resources.files("penguin").joinpath("data/penguin_synthetic.jsonl.gz")))


def load_scenarios(source: str | Path | None = None) -> Iterator[Scenario]:
    """Stream scenarios from the bundled set (``None`` or ``penguin-synthetic``) or a file.

    The format follows the suffix: .jsonl[.gz] (canonical), .csv, .parquet, .json (a list of
    scenarios, or the reference code's ``{Scenario, User_Profile, Queries}`` list).
    """
    if source is None or str(source) == BUNDLED_NAME:
        path = bundled_path()
        if not path.is_file():
            raise DataError(f"the bundled dataset is missing from the install ({path})")
    else:
        path = Path(source)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz")):
        yield from read_records(path, Scenario)
    elif name.endswith(".csv"):
        yield from _read_flat(path, _csv_rows(path))
    elif name.endswith(".parquet"):
        yield from _read_flat(path, _parquet_rows(path))
    elif name.endswith(".json"):
        from .importers import read_json_file

        yield from read_json_file(path)
    else:
        raise DataError(f"{path}: unknown format (use .jsonl, .jsonl.gz, .csv, .parquet or .json)")


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


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with open_text(path) as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None:
                raise DataError(f"{path}: empty file (no header row)")
            missing = [f for f in ("id", "domain", "query") if f not in reader.fieldnames]
            if missing:
                raise DataError(f"{path}:1: header lacks column(s) {', '.join(missing)}")
            for row in reader:
                yield reader.line_num, row
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 ({exc.reason})") from exc
    except csv.Error as exc:
        raise DataError(f"{path}: malformed CSV ({exc})") from exc


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise DataError("reading parquet needs pyarrow: pip install 'penguin-safety[parquet]'") from exc
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise DataError(f"{path}: not a readable parquet file ({exc})") from exc
    row_no = 0
    for batch in pf.iter_batches(batch_size=2048):
        for row in batch.to_pylist():
            row_no += 1
            yield row_no, row


def _read_flat(path: Path, rows: Iterable[tuple[int, dict[str, Any]]]) -> Iterator[Scenario]:
    unit = "row" if path.suffix == ".parquet" else "line"
    for n, row in rows:
        try:
            yield from_row(row)
        except ValidationError as exc:
            raise DataError(f"{path}:{unit} {n}: {describe_validation(exc)}") from exc


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
        from .importers import write_reference

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
        raise DataError("writing parquet needs pyarrow: pip install 'penguin-safety[parquet]'") from exc
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

