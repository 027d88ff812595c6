"""What defines an evaluation run, and which scenarios it selects.

``RunConfig`` is stored in the run's manifest and reused by a resume, so it holds only plain
values: model specs, a dataset source, the selection and sampling settings. The rules that make
a configuration resumable from anywhere (a dataset path made absolute, domains accepted in any
case) are applied here, once, for the CLI and the Python API alike.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Iterator, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from ..dataset.sources import BUNDLED_NAME, load_scenarios
from ..dataset.splits import split_of
from ..errors import ConfigError, DataError
from ..schema import DOMAINS, Context, Scenario
from .respond import GenerationParams


class RunConfig(BaseModel):
    """Everything that defines a run; stored in the manifest and reused by ``--resume``."""

    model: str = "local:smollm2"
    judges: list[str] = Field(default_factory=lambda: ["local:smollm2"])
    dataset: str | None = None
    """A scenario file, ``hf:OWNER/NAME[@REVISION][:SPLIT]``, or None for the bundled set."""
    contexts: list[str] = Field(default_factory=lambda: ["free", "rich"])
    domains: list[str] | None = None
    split: Literal["plan", "dev", "online"] | None = None
    """RAISE's query-level split (dataset/splits.py); None = every scenario."""
    limit: int | None = None
    sample: int | None = None
    per_domain: int | None = None
    seed: int = 0
    generation: GenerationParams = Field(default_factory=GenerationParams)
    judge_output: Literal["auto", "json", "text"] = "auto"
    judge_max_tokens: int = Field(1024, ge=16)
    jury: Literal["mean", "median"] = "mean"
    base_url: str | None = None
    concurrency: int = Field(8, ge=1)

    @field_validator("judges")
    @classmethod
    def _distinct_judges(cls, judges: list[str]) -> list[str]:
        if not judges:
            raise ValueError("at least one judge is needed")
        if len(set(judges)) != len(judges):
            raise ValueError("the same judge is given twice; a jury needs different judges")
        return judges

    @field_validator("dataset")
    @classmethod
    def _absolute_dataset(cls, source: str | None) -> str | None:
        """A file path is made absolute, so the run resumes from any folder."""
        if source is None or source == BUNDLED_NAME or source.startswith("hf:"):
            return source
        return str(Path(source).expanduser().resolve())

    @field_validator("domains")
    @classmethod
    def _known_domains(cls, domains: list[str] | None) -> list[str] | None:
        """Domains in any case ("health", "HEALTH"), checked against the seven."""
        if domains is None:
            return None
        by_lower = {d.lower(): d for d in DOMAINS}
        unknown = [d for d in domains if d.strip().lower() not in by_lower]
        if unknown:
            raise ValueError(f"unknown domain(s) {', '.join(unknown)} (choose from {', '.join(DOMAINS)})")
        return [by_lower[d.strip().lower()] for d in domains]

    @model_validator(mode="after")
    def _one_selection(self) -> "RunConfig":
        if self.sample is not None and self.per_domain is not None:
            raise ValueError("give sample or per_domain, not both")
        for name in ("limit", "sample", "per_domain"):
            if (v := getattr(self, name)) is not None and v < 1:
                raise ValueError(f"{name} must be at least 1")
        try:
            self.parsed_contexts()
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return self

    def parsed_contexts(self) -> list[Context]:
        try:
            return [Context.parse(c) for c in self.contexts]
        except ValueError as exc:
            raise ConfigError(f"contexts: {exc}") from exc


def select_scenarios(config: RunConfig) -> Iterator[Scenario]:
    """The run's scenarios, streamed. ``sample``/``per_domain`` keep only the drawn ones
    (reservoir sampling), so even they never hold the whole dataset."""
    domains = set(config.domains or DOMAINS)
    stream = (s for s in load_scenarios(config.dataset)
              if s.domain in domains and (config.split is None or split_of(s.query) == config.split))
    if config.sample is not None or config.per_domain is not None:
        rng = random.Random(config.seed)
        reservoirs: dict[str, list[tuple[int, Scenario]]] = {}
        seen: dict[str, int] = {}
        for i, s in enumerate(stream):
            bucket = s.domain if config.per_domain is not None else "all"
            size = config.per_domain if config.per_domain is not None else config.sample
            n = seen[bucket] = seen.get(bucket, 0) + 1
            res = reservoirs.setdefault(bucket, [])
            if len(res) < size:  # type: ignore[operator]
                res.append((i, s))
            else:
                j = rng.randrange(n)
                if j < size:  # type: ignore[operator]
                    res[j] = (i, s)
        picked = sorted((p for res in reservoirs.values() for p in res), key=lambda p: p[0])
        stream = (s for _, s in picked)
    for n, s in enumerate(stream):
        if config.limit is not None and n >= config.limit:
            return
        yield s


def count_scenarios(config: RunConfig) -> int:
    """Validate the selection (domains, files, unique ids) and count it."""
    seen: set[str] = set()
    for s in select_scenarios(config):
        if s.id in seen:
            raise DataError(f"scenario id {s.id!r} occurs twice in {config.dataset or 'the dataset'}; "
                            "ids must be unique (penguin data validate lists all problems)")
        seen.add(s.id)
    if not seen:
        raise DataError("the selection is empty: no scenarios match the given domains/limits")
    return len(seen)
