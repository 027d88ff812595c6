"""``penguin raise gate FILE``: route a file of queries, offline, and say where they would go."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from pydantic import BaseModel, Field

from ..errors import DataError
from ..files import appender, read_lines, read_rows, suffix_of
from .router import Router, RouterConfig


class GateDecision(BaseModel):
    query: str
    decision: str
    """crisis, agent or direct."""
    score: float
    """The gate score: how personal the query looks (1 - P(direct))."""
    crisis_score: float
    level: str | None = None
    """crisis only: imminent or passive."""
    language: str | None = None
    """The query's language when read as not English with at least 80% confidence (such a query
    is never answered directly)."""


class GateResult(BaseModel):
    queries: int
    routes: dict[str, int] = Field(default_factory=dict)
    crisis_levels: dict[str, int] = Field(default_factory=dict)

    @property
    def agent_share(self) -> float:
        return self.routes.get("agent", 0) / self.queries if self.queries else 0.0


def read_queries(path: Path, field: str = "query") -> list[str]:
    """One query per line (a text file), or the ``field`` of each JSONL/CSV/JSON/parquet row."""
    if suffix_of(path) is None:
        return [line for _, line in read_lines(path) if line.strip()]
    queries = []
    for where, row in read_rows(path):
        value = row.get(field)
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"{where}: field {field!r}: missing or empty (choose the field with --field)")
        queries.append(value)
    return queries


def gate_file(path: Path, out: Path | None = None, *, field: str = "query", router: Router | None = None) -> GateResult:
    import asyncio

    queries = read_queries(path, field)
    router = router or Router(RouterConfig())

    async def route_all() -> list[GateDecision]:
        decisions = []
        for q in queries:
            r = await router.route(q)
            decisions.append(GateDecision(query=q, decision=r.route, score=round(r.score, 4),
                                          crisis_score=round(r.crisis_score, 4), level=r.level,
                                          language=r.language))
        return decisions

    decisions = asyncio.run(route_all())
    if out is not None:
        out.unlink(missing_ok=True)
        with appender(out) as emit:
            for d in decisions:
                emit(d)
    return GateResult(queries=len(decisions), routes=dict(Counter(d.decision for d in decisions)),
                      crisis_levels=dict(Counter(d.level for d in decisions if d.level)))
