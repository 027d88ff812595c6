"""Files, whatever they hold: JSONL streams, atomic writes, and rows from the formats users bring.

This module knows nothing of scenarios or runs; every layer above reads and writes through it.
Readers stream and name file and line (or row, or item) in every error. Writers write to a
temporary file and rename it, so a crash never leaves a partial file that looks complete;
appended JSONL files are repaired (a torn last line dropped) before anyone appends again.

Files from outside are read as their makers write them: a UTF-8 byte-order mark at the start
(Excel writes one) and CRLF line ends are accepted in every format.
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
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import DataError, describe_validation

M = TypeVar("M", bound=BaseModel)
Row = tuple[str, dict[str, Any]]
"""(where it is, e.g. ``data.csv:line 3``, the row as a mapping)."""

BOM = "\ufeff"


def open_text(path: Path, mode: str = "r") -> IO[str]:
    """Open plain or gzip-compressed text as UTF-8 (gzip chosen by the .gz suffix); a byte-order
    mark is skipped when reading."""
    encoding = "utf-8-sig" if "r" in mode else "utf-8"
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", encoding=encoding, newline="")  # type: ignore[return-value]
    return path.open(mode, encoding=encoding, newline="")


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
                if lineno == 1:
                    line = line.removeprefix(BOM)
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


# ---------------------------------------------------------------- writing


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


def json_dump(path: Path, data: object) -> None:
    """Pretty JSON (a summary, a manifest), written atomically."""
    with atomic_writer(path) as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False)


def write_model(path: Path, record: BaseModel) -> None:
    """One pydantic record as pretty JSON, written atomically."""
    with atomic_writer(path) as fh:
        fh.write(record.model_dump_json(indent=2))


def write_jsonl(path: Path, records: Iterable[BaseModel]) -> int:
    n = 0
    with atomic_writer(path) as fh:
        for rec in records:
            fh.write(rec.model_dump_json(exclude_none=True) + "\n")
            n += 1
    return n


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


@contextlib.contextmanager
def appender(path: Path) -> Iterator[Callable[[BaseModel], None]]:
    """Append records to a JSONL file, each on disk (in the OS) the moment it is written.
    A torn line from an earlier crash is dropped first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    repair_jsonl(path)
    with path.open("a", encoding="utf-8") as fh:

        def emit(record: BaseModel) -> None:
            fh.write(record.model_dump_json(exclude_none=True) + "\n")
            fh.flush()

        yield emit


# ---------------------------------------------------------------- rows from any format


def _jsonl_rows(path: Path) -> Iterator[Row]:
    for lineno, obj in iter_jsonl(path):
        yield f"{path}:{lineno}", obj


def _csv_rows(path: Path) -> Iterator[Row]:
    try:
        with open_text(path) as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None:
                raise DataError(f"{path}: empty file (no header row)")
            for row in reader:
                yield f"{path}:line {reader.line_num}", {k: v for k, v in row.items() if k is not None}
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 ({exc.reason})") from exc
    except csv.Error as exc:
        raise DataError(f"{path}: malformed CSV ({exc})") from exc


def _parquet_rows(path: Path) -> Iterator[Row]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise DataError("reading parquet needs pyarrow: pip install 'penguin-safety[hf]'") from exc
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise DataError(f"{path}: not a readable parquet file ({exc})") from exc
    row_no = 0
    for batch in pf.iter_batches(batch_size=2048):
        for row in batch.to_pylist():
            row_no += 1
            yield f"{path}:row {row_no}", row


def load_json(path: Path) -> Any:
    """A whole JSON document; errors name the file and line."""
    try:
        with open_text(path) as fh:
            return json.load(fh)
    except FileNotFoundError as exc:
        raise DataError(f"{path}: no such file") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: malformed JSON ({exc.msg})") from exc


def json_items(path: Path) -> list[Any]:
    """The records of a .json file: a top-level array, or an object holding one array
    (``{"train": [...]}``, as dataset dumps often are)."""
    data = load_json(path)
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        data = lists[0] if len(lists) == 1 else None
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON array of records at the top level")
    return data


def _json_rows(path: Path) -> Iterator[Row]:
    for i, item in enumerate(json_items(path)):
        if not isinstance(item, dict):
            raise DataError(f"{path}: item {i}: expected an object, got {type(item).__name__}")
        yield f"{path}: item {i}", item


ROW_READERS: dict[str, Callable[[Path], Iterator[Row]]] = {
    ".jsonl": _jsonl_rows, ".jsonl.gz": _jsonl_rows, ".csv": _csv_rows, ".csv.gz": _csv_rows,
    ".parquet": _parquet_rows, ".json": _json_rows,
}
"""The suffix-to-reader table: every format penguin reads rows from."""


def suffix_of(path: Path) -> str | None:
    """The ROW_READERS suffix a file name ends with (longest first), or None."""
    name = path.name.lower()
    return next((s for s in sorted(ROW_READERS, key=len, reverse=True) if name.endswith(s)), None)


def read_rows(path: Path) -> Iterator[Row]:
    """Rows of a JSONL, CSV, parquet or JSON file as mappings, each with where it came from."""
    suffix = suffix_of(path)
    if suffix is None:
        raise DataError(f"{path}: unknown format (use {', '.join(ROW_READERS)})")
    if not path.exists():
        raise DataError(f"{path}: no such file")
    yield from ROW_READERS[suffix](path)


def read_lines(path: Path) -> Iterator[tuple[str, str]]:
    """Non-blank lines of a plain text file (one query per line, say), with where they are."""
    for lineno, line in _strict_lines(path):
        yield f"{path}:{lineno}", line.rstrip("\r\n")


def describe_row_error(where: str, exc: ValidationError) -> DataError:
    return DataError(f"{where}: {describe_validation(exc)}")
