"""Where scenarios come from: the bundled set, a file, or a Hugging Face dataset by name.

``load_scenarios`` is the one entry point every command and the Python API use, so a source
means the same thing everywhere; ``dataset_identity`` is what a run manifest records of it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator

from ..errors import DataError
from ..files import suffix_of
from ..schema import Scenario
from .hub import HubSource, data_files, is_hub
from .importers import read_foreign, read_json_file
from .io import BUNDLED_NAME, bundled_path, read_canonical

__all__ = ["BUNDLED_NAME", "dataset_identity", "load_scenarios"]


def _path_of(source: str | Path | None) -> Path:
    if source is None or str(source) == BUNDLED_NAME:
        path = bundled_path()
        if not path.is_file():
            raise DataError(f"the bundled dataset is missing from the install ({path})")
        return path
    return Path(source)


def load_scenarios(source: str | Path | None = None) -> Iterator[Scenario]:
    """Stream scenarios from the bundled set (``None`` or ``penguin-synthetic``), a file, or
    ``hf:OWNER/NAME[@REVISION][:SPLIT]``.

    A file's format follows its suffix: .jsonl[.gz] (canonical), .csv and .parquet (flat rows as
    ``penguin data export`` writes them), .json (a list of scenarios, the public release, or the
    reference code's ``{Scenario, User_Profile, Queries}`` list). A Hugging Face dataset's files
    are read as foreign records (the release's schema maps exactly; see importers.py).
    """
    if is_hub(source):
        files, _ = data_files(HubSource.parse(str(source)))
        for path in files:
            yield from read_foreign(path)
        return
    path = _path_of(source)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    suffix = suffix_of(path)
    if suffix == ".json":
        yield from read_json_file(path)
    elif suffix is not None:
        yield from read_canonical(path)
    else:
        raise DataError(f"{path}: unknown format (use .jsonl, .jsonl.gz, .csv, .parquet or .json)")


def dataset_identity(source: str | None) -> tuple[str, str | None]:
    """(sha256 of the data, revision or None): a resumed run must see the same data."""
    revision = None
    if is_hub(source):
        paths, revision = data_files(HubSource.parse(str(source)))
    else:
        paths = [_path_of(source)]
    digest = hashlib.sha256()
    for path in paths:
        try:
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        except OSError as exc:
            raise DataError(f"{path}: cannot read ({exc})") from exc
    return digest.hexdigest(), revision
