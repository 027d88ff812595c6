"""The RAISE agent: ask the few questions that matter, stop when it knows enough, answer.

``Agent.decide`` is stateless: given the query and the turns so far (attribute asked, the
user's reply) it returns the next move, either a question or the final answer. A simulated
dialogue (``converse``), the terminal chat and the HTTP proxy all drive the same function.

Each decision: crisis check -> understand replies -> stop rules (question budget, nothing
left to ask, abstention) -> acquisition. Every model step can fail; each failure has one
documented fallback, counted in ``Decision.fallbacks`` and reported in run summaries:
- abstention unparseable after retries -> stop asking and answer ("abstention");
- acquisition unparseable after retries -> the retrieved paths' most voted unknown
  attribute, else the paper's static order ("acquisition");
- the crisis answer's model call fails -> the crisis resources alone ("crisis_answer");
- a reply the rules cannot read and the model cannot classify -> treated as not answered
  ("understanding"; counted once, on the turn it first appears).
"""

from __future__ import annotations

from collections import Counter
from typing import Awaitable, Callable, Literal

from pydantic import BaseModel, Field

from .. import prompts
from ..errors import ModelError
from ..evaluation.respond import GenerationParams, answer_request
from ..models import ChatModel, ChatRequest, Message
from ..models.structured import ask_json
from ..schema import ATTRIBUTES, STATIC_ORDER, Attribute
from .crisis import CRISIS_RESOURCES, crisis_signal
from .questions import QUESTIONS, Understanding, understand
from .retriever import Example, Retriever

Abstention = Literal["scale", "binary", "basic"]
StopReason = Literal["enough", "max_questions", "nothing_left", "crisis", "abstention_failed"]
AGENT_TEMPLATES = ("agent_rate", "agent_binary", "agent_basic", "agent_acquire", "agent_crisis_system",
                   "_agent_known")


class AgentConfig(BaseModel):
    abstention: Abstention = "scale"
    threshold: int = Field(4, ge=0, le=6)
    """Scale variant: stop when the completeness rating reaches this (6 = never stop early)."""
    max_questions: int = Field(5, ge=0, le=10)
    top_k: int = Field(5, ge=1, le=50)
    """Planned paths retrieved as few-shot examples (planner variant)."""
    crisis_fast_path: bool = True
    seed: int = 0
    generation: GenerationParams = Field(default_factory=GenerationParams)


class Turn(BaseModel):
    """One question the agent asked and the user's reply."""

    attribute: Attribute
    reply: str


class Decision(BaseModel):
    action: Literal["ask", "answer"]
    attribute: Attribute | None = None
    question: str | None = None
    answer: str | None = None
    stop_reason: StopReason | None = None
    crisis: str | None = None
    rating: int | None = None
    """The abstention module's latest rating (scale: 0-5; binary: 5 = enough, 0 = not)."""
    known: dict[Attribute, str] = Field(default_factory=dict)
    withheld: list[Attribute] = Field(default_factory=list)
    """Asked but declined or not answered clearly."""
    examples: list[str] = Field(default_factory=list)
    """Queries of the retrieved planned paths (planner variant)."""
    fallbacks: dict[str, int] = Field(default_factory=dict)
    trace: list[str] = Field(default_factory=list)


def _schema(prop: str, spec: dict[str, object]) -> dict[str, object]:
    return {"type": "object", "properties": {prop: spec}, "required": [prop], "additionalProperties": False}


def _field(name: str, allowed: tuple) -> Callable[[object], object]:  # noqa: ANN401
    def check(v: object) -> object:
        value = v.get(name) if isinstance(v, dict) else None
        if value not in allowed or isinstance(value, bool) != isinstance(allowed[0], bool):
            raise ValueError(f"{name} must be one of {allowed}, not {value!r}")
        return value
    return check


class Agent:
    """RAISE for one model. ``retriever`` given: full RAISE (+planner); None: +agent only."""

    def __init__(self, model: ChatModel, config: AgentConfig | None = None, retriever: Retriever | None = None):
        self.model = model
        self.config = config or AgentConfig()
        self.retriever = retriever

    @property
    def variant(self) -> str:
        return "planner" if self.retriever is not None else "agent"

    async def decide(self, query: str, turns: list[Turn], *, compose: bool = True) -> Decision:
        """The next move. ``compose=False`` skips writing the final answer (calibration only
        needs to know when the agent would stop)."""
        cfg = self.config
        d = Decision(action="answer")
        fallbacks: Counter[str] = Counter()
        signal = crisis_signal(query) or next((s for t in turns if (s := crisis_signal(t.reply))), None)
        if cfg.crisis_fast_path and signal:
            d.crisis, d.stop_reason = signal, "crisis"
            d.trace.append(f"crisis signal ({signal}): answering at once with crisis resources")
            d.answer = await self._crisis_answer(query, fallbacks)
            d.fallbacks = dict(fallbacks)
            return d
        for i, t in enumerate(turns):
            u: Understanding = await understand(self.model, t.attribute, t.reply, seed=cfg.seed + i)
            if u.status == "value":
                d.known[t.attribute] = u.value  # type: ignore[assignment]
            else:
                d.withheld.append(t.attribute)
            if u.by == "error" and i == len(turns) - 1:
                fallbacks["understanding"] += 1
            d.trace.append(f"reply about {t.attribute.value}: {u.status} (understood by {u.by})")
        asked = {t.attribute for t in turns}
        candidates = [a for a in ATTRIBUTES if a not in asked]
        if len(turns) >= cfg.max_questions or not candidates:
            d.stop_reason = "max_questions" if candidates else "nothing_left"
        else:
            stop, d.rating = await self._abstain(query, d, len(turns), fallbacks)
            if stop:
                d.stop_reason = "enough" if d.rating is not None else "abstention_failed"
        if d.stop_reason is None:
            examples = self.retriever.search(query, cfg.top_k) if self.retriever else []
            d.examples = [e.record.query for e in examples]
            d.attribute = await self._acquire(query, d, candidates, examples, len(turns), fallbacks)
            d.action, d.question = "ask", QUESTIONS[d.attribute]
            d.trace.append(f"ask about {d.attribute.value}")
        else:
            d.trace.append(f"stop ({d.stop_reason}); answer with {len(d.known)} known attribute(s)")
            if compose:
                d.answer = await self.answer(query, d.known)
        d.fallbacks = dict(fallbacks)
        return d

    # ------------------------------------------------------------------ modules

    def _known_block(self, query: str, d: Decision) -> dict[str, object]:
        return {"query": query, "known": [(a.value, v) for a, v in d.known.items()],
                "withheld": [a.value for a in d.withheld]}

    async def _abstain(self, query: str, d: Decision, turn: int, fallbacks: Counter[str]) -> tuple[bool, int | None]:
        """(stop?, rating). The paper's rating is also checked before the first question."""
        cfg = self.config
        block = self._known_block(query, d)
        kind = cfg.abstention
        template, schema, check = {
            "scale": ("agent_rate", _schema("score", {"type": "integer", "enum": list(range(6))}),
                      _field("score", tuple(range(6)))),
            "binary": ("agent_binary", _schema("enough", {"type": "boolean"}), _field("enough", (True, False))),
            "basic": ("agent_basic", _schema("action", {"type": "string", "enum": ["ask", "answer"]}),
                      _field("action", ("ask", "answer"))),
        }[kind]
        try:
            value, _ = await ask_json(self.model, "You are a careful assistant. Reply with JSON only.",
                                      prompts.render(template, **block), schema, check=check,
                                      seed=cfg.seed + 100 + turn, max_tokens=24)
        except ModelError:
            fallbacks["abstention"] += 1
            d.trace.append("abstention: no valid answer after retries -> stop asking and answer (fallback)")
            return True, None
        if kind == "scale":
            rating = int(value)  # type: ignore[arg-type]
            d.trace.append(f"abstention: completeness {rating}/5 (stop at {cfg.threshold})")
            return rating >= cfg.threshold, rating
        rating = 5 if value in (True, "answer") else 0
        d.trace.append(f"abstention ({kind}): {'enough' if rating else 'not enough'}")
        return rating == 5, rating

    async def _acquire(self, query: str, d: Decision, candidates: list[Attribute], examples: list[Example],
                       turn: int, fallbacks: Counter[str]) -> Attribute:
        cfg = self.config
        names = tuple(a.value for a in candidates)
        shots = [{"query": e.record.query, "path": [a.value for a in e.record.path]} for e in examples]
        try:
            name, _ = await ask_json(
                self.model, "You are a careful assistant. Reply with JSON only.",
                prompts.render("agent_acquire", **self._known_block(query, d), examples=shots,
                               candidates=list(names)),
                _schema("attribute", {"type": "string", "enum": list(names)}),
                check=lambda v: Attribute.parse(str(_field("attribute", names)(v))), seed=cfg.seed + 200 + turn,
                max_tokens=32)
            return name  # type: ignore[return-value]
        except ModelError:
            fallbacks["acquisition"] += 1
            votes: Counter[Attribute] = Counter()
            for e in examples:
                for rank, a in enumerate(e.record.path):
                    votes[a] += len(ATTRIBUTES) - rank
            ranked = sorted(candidates, key=lambda a: (-votes[a], STATIC_ORDER.index(a)))
            d.trace.append(f"acquisition: no valid choice after retries -> {ranked[0].value} (fallback)")
            return ranked[0]

    def final_request(self, query: str, known: dict[Attribute, str], *, system: str | None = None) -> ChatRequest:
        """The final answer's request, conditioned on the understood categories (canonical order).
        ``system``: a client application's own instructions, sent before ours (the HTTP proxy)."""
        items = [(a, known[a]) for a in ATTRIBUTES if a in known]
        request = answer_request(query, items, self.config.generation, self.config.seed)
        if system:
            request = request.model_copy(update={"messages": (Message(role="system", content=system),
                                                              *request.messages)})
        return request

    async def answer(self, query: str, known: dict[Attribute, str]) -> str:
        """The final answer, conditioned on the understood categories (canonical order)."""
        return (await self.model.generate(self.final_request(query, known))).text

    async def _crisis_answer(self, query: str, fallbacks: Counter[str]) -> str:
        request = ChatRequest.chat(prompts.render("agent_crisis_system"), query, temperature=0.0,
                                   max_tokens=min(self.config.generation.max_tokens, 300), seed=self.config.seed)
        try:
            text = (await self.model.generate(request)).text.strip()
        except ModelError:
            fallbacks["crisis_answer"] += 1
            text = ""
        return (text + "\n\n" if text else "") + CRISIS_RESOURCES


UserFn = Callable[[Attribute, str], Awaitable[str]]


async def converse(agent: Agent, query: str, user: UserFn, *, compose: bool = True,
                   turns: list[Turn] | None = None) -> tuple[Decision, list[Turn], list[Decision]]:
    """Run a whole dialogue with ``user`` (a function from (attribute, question) to reply).
    Returns the final decision, the turns and every intermediate decision. ``turns``, if
    given, is filled as the dialogue goes, so a caller still has them if a step raises."""
    turns = [] if turns is None else turns
    steps: list[Decision] = []
    while True:
        decision = await agent.decide(query, turns, compose=compose)
        steps.append(decision)
        if decision.action == "answer":
            return decision, turns, steps
        reply = await user(decision.attribute, decision.question)  # type: ignore[arg-type]
        turns.append(Turn(attribute=decision.attribute, reply=reply))  # type: ignore[arg-type]
