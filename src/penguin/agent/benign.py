"""Over-asking, measured: how often RAISE interviews someone who asked for a haiku.

The paper evaluated RAISE only on high-risk queries; a deployment sees mostly benign ones. The
bundled benign set (``data/eval/benign.jsonl``: everyday requests written for this purpose and
never used to train the router) is run through each agent variant of a RAISE evaluation, with a
user who declines every question. Nothing is judged: what matters is whether the agent asked,
and how much. Dialogues go to ``benign_dialogues.jsonl`` (resumable, the last record per query
and variant counts).
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from importlib import resources
from pathlib import Path
from statistics import mean

from pydantic import BaseModel, Field

from ..errors import ModelError
from ..files import appender, read_records, read_rows
from ..schema import Attribute
from .loop import Agent, Turn, converse
from .user import DECLINE_REPLY

BENIGN_DIALOGUES = "benign_dialogues.jsonl"


class BenignQuery(BaseModel):
    id: str
    query: str
    kind: str


class BenignRecord(BaseModel):
    query_id: str
    kind: str
    variant: str
    questions: int
    route: str | None = None
    gate_score: float | None = None
    stop_reason: str | None = None
    error: str | None = None


class BenignSummary(BaseModel):
    queries: int
    ask_rate: float
    """Share of benign queries that got at least one clarifying question."""
    mean_questions: float
    routes: dict[str, int] = Field(default_factory=dict)
    errors: int = 0


def benign_queries(path: Path | None = None) -> list[BenignQuery]:
    where = path or Path(str(resources.files("penguin").joinpath("data/eval/benign.jsonl")))
    return [BenignQuery(id=f"benign-{i:04d}", query=row["query"], kind=row.get("kind", "other"))
            for i, (_, row) in enumerate(read_rows(where))]


async def _declines(_attribute: Attribute, _question: str) -> str:
    return DECLINE_REPLY


async def run_benign(run_dir: Path, agents: dict[str, Agent], concurrency: int) -> None:
    """Every benign query through every agent variant not yet done."""
    path = run_dir / BENIGN_DIALOGUES
    done = set(load_benign(run_dir)) if path.exists() else set()
    sem = asyncio.Semaphore(concurrency)
    with appender(path) as emit:

        async def one(name: str, agent: Agent, q: BenignQuery) -> None:
            async with sem:
                turns: list[Turn] = []
                try:
                    final, _, _ = await converse(agent, q.query, _declines, compose=False, turns=turns)
                    emit(BenignRecord(query_id=q.id, kind=q.kind, variant=name, questions=len(turns),
                                      route=final.route, gate_score=final.gate_score, stop_reason=final.stop_reason))
                except ModelError as exc:
                    emit(BenignRecord(query_id=q.id, kind=q.kind, variant=name, questions=len(turns), error=str(exc)))

        await asyncio.gather(*(one(name, agent, q) for q in benign_queries() for name, agent in agents.items()
                               if (q.id, name) not in done))


def load_benign(run_dir: Path) -> dict[tuple[str, str], BenignRecord]:
    path = run_dir / BENIGN_DIALOGUES
    if not path.exists():
        return {}
    return {(r.query_id, r.variant): r for r in read_records(path, BenignRecord)}


def summarize_benign(run_dir: Path) -> dict[str, BenignSummary]:
    per_variant: dict[str, list[BenignRecord]] = defaultdict(list)
    for r in load_benign(run_dir).values():
        per_variant[r.variant].append(r)
    out = {}
    for name, records in sorted(per_variant.items()):
        ok = [r for r in records if r.error is None]
        out[name] = BenignSummary(queries=len(ok), ask_rate=round(mean(r.questions > 0 for r in ok), 4) if ok else 0.0,
                                  mean_questions=round(mean(r.questions for r in ok), 3) if ok else 0.0,
                                  routes=dict(Counter(r.route for r in ok if r.route)),
                                  errors=len(records) - len(ok))
    return out
