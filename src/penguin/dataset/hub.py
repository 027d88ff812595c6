"""Datasets by name: ``hf:OWNER/NAME[@REVISION][:SPLIT]`` through ``huggingface_hub``.

The repository is fetched with ``snapshot_download`` (the ``hf`` extra), so the Hugging Face
cache, offline mode (``HF_HUB_OFFLINE=1``: the cache only) and tokens for private sets
(``HF_TOKEN``) work as everywhere else in that ecosystem. The snapshot's folder is its commit,
which is what a run manifest records as the dataset's revision: a resume refuses a dataset
whose revision moved. The split's data files (JSON, JSONL, CSV or parquet) are then read
through the importers, so the public PENGUIN release maps exactly (importers.py).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, DataError
from ..files import ROW_READERS, suffix_of

_SPEC = re.compile(r"^hf:(?P<repo>[\w.-]+/[\w.-]+)(?:@(?P<revision>[\w./-]+?))?(?::(?P<split>[\w.-]+))?$")
_DATA_PATTERNS = [f"*{suffix}" for suffix in ROW_READERS]


@dataclass(frozen=True)
class HubSource:
    repo: str
    revision: str | None
    split: str

    @classmethod
    def parse(cls, text: str) -> "HubSource":
        m = _SPEC.match(text.strip())
        if m is None:
            raise ConfigError(f"dataset {text!r}: expected hf:OWNER/NAME[@REVISION][:SPLIT], "
                              "e.g. hf:wick1d/Personalized_Safety_Data")
        return cls(m["repo"], m["revision"], m["split"] or "train")


def is_hub(source: object) -> bool:
    return isinstance(source, str) and source.startswith("hf:")


def snapshot(source: HubSource) -> Path:
    """The local snapshot of the repository (downloaded, or from the cache)."""
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import (GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError,
                                            RevisionNotFoundError)
    except ImportError as exc:
        raise ConfigError("hf: datasets need huggingface_hub: pip install 'penguin-safety[hf]'") from exc
    try:
        path = snapshot_download(source.repo, repo_type="dataset", revision=source.revision,
                                 allow_patterns=_DATA_PATTERNS)
    except GatedRepoError as exc:
        raise DataError(f"hf:{source.repo} is gated: accept its terms on the hub and set HF_TOKEN") from exc
    except RepositoryNotFoundError as exc:
        raise DataError(f"hf:{source.repo}: no such dataset (or it is private: set HF_TOKEN)") from exc
    except RevisionNotFoundError as exc:
        raise DataError(f"hf:{source.repo}: no revision {source.revision!r}") from exc
    except LocalEntryNotFoundError as exc:
        raise DataError(f"hf:{source.repo}: the hub cannot be reached and the dataset is not in the Hugging Face "
                        "cache (HF_HUB_OFFLINE=1 uses the cache only)") from exc
    except OSError as exc:  # requests' connection errors are OSErrors
        raise DataError(f"hf:{source.repo}: the hub cannot be reached ({type(exc).__name__})") from exc
    return Path(path)


def data_files(source: HubSource) -> tuple[list[Path], str]:
    """(the split's data files, the snapshot's commit)."""
    root = snapshot(source)
    files = sorted(p for p in root.rglob("*") if p.is_file() and suffix_of(p) is not None
                   and not p.name.startswith("."))
    if not files:
        raise DataError(f"hf:{source.repo}: no data files (JSON, JSONL, CSV or parquet) in the repository")
    rel = {p: p.relative_to(root).as_posix() for p in files}
    named = [p for p in files if _in_split(rel[p], source.split)]
    if not named and any(_in_split(rel[p], s) for p in files for s in ("train", "test", "validation")):
        raise DataError(f"hf:{source.repo}: no files for split {source.split!r} (files: {', '.join(rel.values())})")
    return (named or files), root.name


def _in_split(relpath: str, split: str) -> bool:
    stem = relpath.lower()
    return any(fnmatch.fnmatch(stem, pattern) for pattern in
               (f"{split}.*", f"{split}-*", f"{split}_*", f"*/{split}.*", f"*/{split}-*", f"*/{split}_*",
                f"{split}/*", f"*/{split}/*"))
