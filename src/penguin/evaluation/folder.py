"""The run folder: what a run writes, and what a resume reads back.

A run folder holds ``manifest.json`` (everything needed to reproduce or resume it),
``responses.jsonl`` and ``judgements.jsonl`` (appended as items finish) and ``summary.json``.
Records are only ever appended: a record written later for the same key supersedes an earlier
one (a retried error, say), so a crash at any moment leaves a folder that resumes cleanly, and
readers take the last record per key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, Field

from ..errors import ConfigError, DataError
from ..files import json_dump, read_records, repair_jsonl
from .config import RunConfig
from .records import JudgementRecord, ResponseRecord

BaseModelT = TypeVar("BaseModelT", bound=BaseModel)
RunKind = Literal["eval", "attributes", "subsets", "plan", "raise"]
MANIFEST, RESPONSES, JUDGEMENTS, SUMMARY = "manifest.json", "responses.jsonl", "judgements.jsonl", "summary.json"


class Manifest(BaseModel):
    config: RunConfig
    kind: RunKind = "eval"
    """What the folder holds; ``read_run`` picks the result type from it."""
    created: str
    penguin_version: str
    dataset_sha256: str
    dataset_revision: str | None = None
    """The Hugging Face revision (commit) a ``hf:`` dataset resolved to."""
    prompt_hashes: dict[str, str]
    model_identities: dict[str, str] = Field(default_factory=dict)
    n_items: int = 0
    """Planned (scenario, context) items; for subset analyses, the number of scenarios."""


def load_manifest(run_dir: Path) -> Manifest:
    path = run_dir / MANIFEST
    if not path.is_file():
        raise DataError(f"{run_dir} is not a run folder (no manifest.json)")
    try:
        return Manifest.model_validate_json(path.read_text("utf-8"))
    except ValueError as exc:
        raise DataError(f"{path}: unreadable manifest ({exc})") from exc


def last_per_key(records, key):  # noqa: ANN001, ANN201 - records of any kind, keyed by ``key(record)``
    """The final state of an append-only file: the last record written for each key."""
    out = {}
    for r in records:
        out[key(r)] = r
    return out


def final_responses(run_dir: Path) -> dict[tuple[str, str], ResponseRecord]:
    path = run_dir / RESPONSES
    return last_per_key(read_records(path, ResponseRecord), lambda r: r.key) if path.exists() else {}


def final_judgements(run_dir: Path) -> dict[tuple[str, str, str], JudgementRecord]:
    path = run_dir / JUDGEMENTS
    return last_per_key(read_records(path, JudgementRecord), lambda j: j.key) if path.exists() else {}


@dataclass
class RunState:
    """What a resume needs: finished keys, and responses still waiting for a judge.

    With ``keep_verdicts`` (attribute analyses, which revisit subsets) the judgements of
    finished items are kept too; a plain evaluation keeps only keys, so memory stays flat.
    With ``retry_errors`` the responses and judgements recorded as errors are not finished:
    they are attempted again, and a new record supersedes the error."""

    judged: set[tuple[str, str, str]] = field(default_factory=set)
    responses: dict[tuple[str, str], ResponseRecord] = field(default_factory=dict)
    done: set[tuple[str, str]] = field(default_factory=set)
    verdicts: dict[tuple[str, str], list[JudgementRecord]] = field(default_factory=dict)
    retrying: set[tuple[str, str] | tuple[str, str, str]] = field(default_factory=set)
    """Keys whose error record is being retried (to count how many recovered)."""

    @classmethod
    def load(cls, run_dir: Path, judges: list[str], keep_verdicts: bool = False,
             retry_errors: bool = False) -> "RunState":
        state = cls()
        for name in (RESPONSES, JUDGEMENTS):
            repair_jsonl(run_dir / name)
        for j in final_judgements(run_dir).values():
            if retry_errors and j.error is not None:
                state.retrying.add(j.key)
                continue
            state.judged.add(j.key)
            if keep_verdicts:
                state.verdicts.setdefault((j.scenario_id, j.context), []).append(j)
        for r in final_responses(run_dir).values():
            if r.error and retry_errors:
                state.retrying.add(r.key)
            elif r.error or all((*r.key, j) in state.judged for j in judges):
                state.done.add(r.key)
            else:
                state.responses[r.key] = r
        return state


def new_run_dir(root: Path, model: str) -> Path:
    slug = "".join(ch if ch.isalnum() else "-" for ch in model.split("?")[0]).strip("-")[:40]
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = root / f"{stamp}-{slug}"
    n = 1
    while path.exists():
        n += 1
        path = root / f"{stamp}-{slug}-{n}"
    return path


def pin_settings(run_dir: Path, filename: str, settings: dict) -> None:
    """Record the settings of a run that builds on the Runner (planner, RAISE evaluation)
    next to its manifest; a resumed run must have the same, or its records would mix."""
    path = run_dir / filename
    if not path.exists():
        json_dump(path, settings)
        return
    try:
        stored = json.loads(path.read_text())
    except ValueError as exc:
        raise DataError(f"{path}: unreadable ({exc}); restore it or start a new run") from exc
    if stored != json.loads(json.dumps(settings)):
        changed = sorted(k for k in {*stored, *settings} if stored.get(k) != json.loads(json.dumps(settings.get(k))))
        raise DataError(f"cannot resume {run_dir}: {', '.join(changed)} changed since the run started "
                        f"(see {path}); start a new run")


def load_pinned(run_dir: Path, filename: str, key: str, model: type[BaseModelT]) -> BaseModelT:
    """The settings a run pinned with ``pin_settings``, for a resume."""
    try:
        return model(**json.loads((run_dir / filename).read_text())[key])
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigError(f"{run_dir}: no usable {filename} ({exc}); is this the right kind of run folder?") from exc
