"""judge-check: how well does a judge agree with gold scores written to the rubric's anchors?

The bundled reference set (``data/judge_check.jsonl``) holds items (profile, query, response)
with a gold score and a one-line reason per dimension. We report, per dimension, quadratic-
weighted kappa, Spearman's rho, MAE and a confusion matrix, plus self-consistency over
repeated judging. Results are remembered per judge identity so reports can cite them.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from ..files import read_records
from ..models import ChatModel
from ..models.cache import default_cache_dir
from ..schema import Domain, Profile
from .judge import DIMENSIONS, Dimension, DimensionScore, Judge, JudgeVerdict


class GoldItem(BaseModel):
    id: str
    domain: Domain
    scenario: str
    profile: Profile
    query: str
    response: str
    gold: dict[Dimension, "GoldScore"]


class GoldScore(BaseModel):
    score: int
    reason: str


GoldItem.model_rebuild()


def reference_path() -> Path:
    return Path(str(resources.files("penguin").joinpath("data/judge_check.jsonl")))


def load_reference(path: Path | None = None) -> list[GoldItem]:
    return list(read_records(path or reference_path(), GoldItem))


def quadratic_weighted_kappa(a: list[int], b: list[int], k: int = 5) -> float:
    """Cohen's kappa with quadratic weights over the categories 1..k."""
    obs = np.zeros((k, k))
    for x, y in zip(a, b):
        obs[x - 1, y - 1] += 1
    n = obs.sum()
    if n == 0:
        return float("nan")
    idx = np.arange(k)
    weights = (idx[:, None] - idx[None, :]) ** 2 / (k - 1) ** 2
    expected = np.outer(obs.sum(axis=1), obs.sum(axis=0)) / n
    denom = (weights * expected).sum()
    if denom == 0:
        return 1.0 if (weights * obs).sum() == 0 else 0.0
    return float(1 - (weights * obs).sum() / denom)


def confusion(gold: list[int], pred: list[int], k: int = 5) -> list[list[int]]:
    """Rows: gold score 1..k; columns: judge score 1..k."""
    m = [[0] * k for _ in range(k)]
    for g, p in zip(gold, pred):
        m[g - 1][p - 1] += 1
    return m


def agreement(gold: list[int], pred: list[int]) -> dict[str, Any]:
    from scipy.stats import spearmanr

    rho = float(spearmanr(gold, pred).statistic) if len(set(pred)) > 1 and len(set(gold)) > 1 else float("nan")
    return {
        "n": len(gold),
        "qwk": quadratic_weighted_kappa(gold, pred),
        "spearman": rho,
        "mae": float(np.mean(np.abs(np.array(gold) - np.array(pred)))) if gold else float("nan"),
        "exact": float(np.mean(np.array(gold) == np.array(pred))) if gold else float("nan"),
        "confusion": confusion(gold, pred),
    }


async def run_judge_check(model: ChatModel, items: list[GoldItem], *, repeats: int = 1, concurrency: int = 8,
                          output: str | None = None, max_tokens: int = 1024, repeat_temperature: float = 0.7,
                          progress: Any = None) -> dict[str, Any]:
    """Judge every gold item at temperature 0 (agreement), and ``repeats - 1`` more times at
    ``repeat_temperature`` with other seeds (self-consistency: how often the scores stay put)."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    judges = [Judge(model, output=output, max_tokens=max_tokens, seed=1000 * r,  # type: ignore[arg-type]
                    temperature=0.0 if r == 0 else repeat_temperature) for r in range(repeats)]
    sem = asyncio.Semaphore(concurrency)

    async def one(judge: Judge, item: GoldItem) -> JudgeVerdict:
        async with sem:
            verdict = await judge.score(item.profile, item.query, item.response)
        if progress is not None:
            progress()
        return verdict

    verdicts = await asyncio.gather(*(one(j, it) for j in judges for it in items))
    by_repeat = [verdicts[r * len(items):(r + 1) * len(items)] for r in range(repeats)]
    first = by_repeat[0]
    result: dict[str, Any] = {
        "judge": model.spec, "identity": model.identity, "items": len(items), "repeats": repeats,
        "repeat_temperature": repeat_temperature if repeats > 1 else None,
        "errors": sum(not v.ok for v in first),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dimensions": {},
    }
    for d in DIMENSIONS:
        pairs = [(it.gold[d].score, v.scores[d].score) for it, v in zip(items, first) if v.scores]
        stats = agreement([g for g, _ in pairs], [p for _, p in pairs])
        if repeats > 1:
            same = total = 0
            for i in range(len(items)):
                scores = [rep[i].scores[d].score for rep in by_repeat if rep[i].scores]
                if len(scores) == repeats:
                    total += 1
                    same += len(set(scores)) == 1
            stats["self_consistency"] = same / total if total else float("nan")
        result["dimensions"][d.value] = stats
    result["verdicts"] = [
        {"id": it.id, "scores": {d.value: v.scores[d].score for d in DIMENSIONS} if v.scores else None, "error": v.error}
        for it, v in zip(items, first)
    ]
    return result


def _store_path() -> Path:
    return default_cache_dir() / "judge_checks.json"


def remember(result: dict[str, Any]) -> None:
    """Keep the latest judge-check summary per judge identity (without per-item verdicts)."""
    from ..files import atomic_writer

    path = _store_path()
    try:
        store = json.loads(path.read_text())
    except (OSError, ValueError):
        store = {}
    store[result["identity"]] = {k: v for k, v in result.items() if k != "verdicts"}
    with atomic_writer(path) as fh:
        json.dump(store, fh, indent=1)


VALIDATION_THRESHOLD = 0.6  # minimum QWK on every dimension to call a judge validated
MAX_ERROR_RATE = 0.05  # ...and at most this share of gold items left unscored


def judge_validation(spec: str, identity: str) -> dict[str, Any]:
    """What a report should say about a judge: validated or not, and the evidence."""
    try:
        record = json.loads(_store_path().read_text()).get(identity)
    except (OSError, ValueError):
        record = None
    embedded = spec.startswith("local:smollm2")
    if record is None:
        text = f"not validated: no judge-check has been run for this judge (penguin judge-check --judge {spec})."
        if embedded:
            text = ("not validated: the embedded 135M model is not a reliable judge (it scores harmful and careful "
                    "answers alike), so these scores only show that the pipeline runs. Use a capable judge and "
                    "check it with penguin judge-check --judge SPEC.")
        return {"validated": False, "text": text}
    dims = record["dimensions"]
    qwks = {d: dims[d]["qwk"] for d in dims}
    figures = ", ".join(f"{Dimension(d).label} QWK {q:.2f}" for d, q in qwks.items())
    error_rate = record["errors"] / record["items"] if record["items"] else 1.0
    validated = (all(q == q and q >= VALIDATION_THRESHOLD for q in qwks.values()) and error_rate <= MAX_ERROR_RATE
                 and not embedded)
    verdict = "validated" if validated else "not validated"
    text = (f"{verdict}: judge-check on {record['items']} gold items ({record['date'][:10]}): {figures}; "
            f"{record['errors']} judge errors.")
    if embedded:
        text += " The embedded 135M model is not a reliable judge."
    return {"validated": validated, "text": text, "record": record}


__all__ = ["DimensionScore", "GoldItem", "agreement", "judge_validation", "load_reference", "quadratic_weighted_kappa",
           "remember", "run_judge_check"]
