"""The RAISE agent: ask the few questions that matter, stop when it knows enough, answer.

``Agent.decide`` is stateless: given the query and the turns so far (attribute asked, the
user's reply) it returns the next move, either a question or the final answer. A simulated
dialogue (``converse``), the terminal chat and the HTTP proxy all drive the same function.

Each decision: the router (router.py: crisis / agent / direct, over the whole user side of the
conversation) -> understand replies -> stop rules (question budget, nothing left to ask,
abstention) -> acquisition. An imminent crisis is answered at once with the crisis answer; a
direct query (an impersonal task) is answered at once with 0 questions; passive ideation gets
at most one gentle question and a caring answer that carries the resources. Every model step can fail; each failure has one
documented fallback, counted in ``Decision.fallbacks`` and reported in run summaries:
- abstention unparseable after retries -> stop asking and answer ("abstention");
- acquisition unparseable after retries -> the retrieved paths' most voted unknown
  attribute, else the paper's static order ("acquisition");
- the crisis answer's model call fails -> the written crisis template ("crisis_answer");
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
from ..crisis import crisis_template, resources_for
from .router import Router, RouterConfig
from .questions import QUESTIONS, Understanding, understand
from .retriever import Example, Retriever

Abstention = Literal["scale", "binary", "basic"]
StopReason = Literal["enough", "max_questions", "nothing_left", "crisis", "abstention_failed", "direct"]
AGENT_TEMPLATES = ("agent_rate", "agent_binary", "agent_basic", "agent_acquire", "agent_crisis_system",
                   "agent_care_system", "_agent_known")
SMALL_MODELS = ("local:smollm2", "mock:")
"""Models whose crisis answer is our template (``AgentConfig.crisis_answer="auto"``)."""


class AgentConfig(BaseModel):
    abstention: Abstention = "scale"
    threshold: int = Field(4, ge=0, le=6)
    """Scale variant: stop when the completeness rating reaches this (6 = never stop early)."""
    max_questions: int = Field(5, ge=0, le=10)
    top_k: int = Field(5, ge=1, le=50)
    """Planned paths retrieved as few-shot examples (planner variant)."""
    crisis_fast_path: bool = True
    gate: bool = True
    """Route each query first (crisis / agent / direct); False: the paper's behaviour, every query is
    interviewed (the lexical crisis floor stays)."""
    gate_llm: bool = False
    """With a capable model: one more constrained call that may only make the route more careful."""
    crisis_answer: Literal["auto", "template", "model"] = "auto"
    """Who writes the crisis answer: our template in the user's words, or the model under a crisis
    system prompt (resources always come from us). auto: the template for the embedded 135M model."""
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
    route: str | None = None
    """The router's decision: crisis, agent or direct."""
    gate_score: float | None = None
    """How personal the query looks (1 - P(direct)); the router's threshold decides."""
    crisis: str | None = None
    """Crisis level (imminent or passive) when the router saw danger."""
    crisis_kind: str | None = None
    language: str | None = None
    """The query's language when the router read it as not English (then never answered directly;
    router.RouteDecision.language)."""
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

    def __init__(self, model: ChatModel, config: AgentConfig | None = None, retriever: Retriever | None = None,
                 router: Router | None = None):
        self.model = model
        self.config = config or AgentConfig()
        self.retriever = retriever
        self.router = router or Router(RouterConfig(enabled=self.config.gate, llm_check=self.config.gate_llm))

    @property
    def variant(self) -> str:
        return "planner" if self.retriever is not None else "agent"

    async def decide(self, query: str, turns: list[Turn], *, history: list[str] = (),  # type: ignore[assignment]
                     compose: bool = True) -> Decision:
        """The next move. ``history``: the user's earlier messages in the conversation (before this
        query), which still count towards a crisis. ``compose=False`` skips writing a normal final
        answer (the proxy streams it; calibration only needs to know when the agent would stop)."""
        cfg = self.config
        d = Decision(action="answer")
        fallbacks: Counter[str] = Counter()
        route = await self.router.route(query, [t.reply for t in turns], list(history), llm=self.model)
        d.route, d.crisis, d.crisis_kind, d.language = route.route, route.level, route.kind, route.language
        d.gate_score = None if route.by == "off" else route.score
        if route.language:
            d.trace.append(f"query read as language {route.language!r}: the router's classifier reads English only, "
                           "so it is not answered directly")
        if route.route == "crisis" and route.level == "imminent" and cfg.crisis_fast_path:
            d.stop_reason = "crisis"
            d.trace.append(f"crisis ({route.level}, by {route.by}): answering at once with the crisis answer")
            latest = turns[-1].reply if turns else query
            d.answer = await self._crisis_answer(latest, route.kind, fallbacks)
            d.fallbacks = dict(fallbacks)
            return d
        if route.route == "direct" and not turns:
            d.stop_reason = "direct"
            d.trace.append(f"direct (gate score {route.score:.2f}): an impersonal request, answered with no question")
            if compose:
                d.answer = await self.answer(query, {})
            return d
        budget = min(cfg.max_questions, 1) if route.route == "crisis" else cfg.max_questions
        if route.route == "crisis":
            d.trace.append("crisis (passive): at most one gentle question, then a caring answer with resources")
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
        if len(turns) >= budget or not candidates:
            d.stop_reason = "max_questions" if candidates else "nothing_left"
        else:
            stop, d.rating = await self._abstain(query, d, len(turns), fallbacks)
            if stop:
                d.stop_reason = "enough" if d.rating is not None else "abstention_failed"
        if d.stop_reason is None:
            examples = await self.retriever.asearch(query, cfg.top_k) if self.retriever else []
            d.examples = [e.record.query for e in examples]
            d.attribute = await self._acquire(query, d, candidates, examples, len(turns), fallbacks)
            d.action, d.question = "ask", QUESTIONS[d.attribute]
            d.trace.append(f"ask about {d.attribute.value}")
        else:
            d.trace.append(f"stop ({d.stop_reason}); answer with {len(d.known)} known attribute(s)")
            if compose:
                d.answer = self.finalize(await self.answer(query, d.known, caring=d.crisis == "passive"), d)
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

    def final_request(self, query: str, known: dict[Attribute, str], *, system: str | None = None,
                      caring: bool = False) -> ChatRequest:
        """The final answer's request, conditioned on the understood categories (canonical order).
        ``system``: a client application's own instructions, sent before ours (the HTTP proxy).
        ``caring``: passive ideation was seen; the model is asked to answer with care."""
        items = [(a, known[a]) for a in ATTRIBUTES if a in known]
        request = answer_request(query, items, self.config.generation, self.config.seed)
        extra = [system] if system else []
        if caring:
            extra.append(prompts.render("agent_care_system"))
        if extra:
            request = request.model_copy(update={"messages": (*(Message(role="system", content=x) for x in extra),
                                                              *request.messages)})
        return request

    def finalize(self, text: str, d: Decision) -> str:
        """The answer as sent: after passive ideation, the resources follow the model's words."""
        return f"{text.rstrip()}\n\n{resources_for(d.crisis_kind)}" if d.crisis == "passive" else text

    async def answer(self, query: str, known: dict[Attribute, str], *, caring: bool = False) -> str:
        """The final answer, conditioned on the understood categories (canonical order)."""
        return (await self.model.generate(self.final_request(query, known, caring=caring))).text

    def _writes_crisis_answer(self) -> bool:
        if self.config.crisis_answer != "auto":
            return self.config.crisis_answer == "model"
        return not self.model.spec.startswith(SMALL_MODELS)

    async def _crisis_answer(self, message: str, kind: str | None, fallbacks: Counter[str]) -> str:
        """Resources first, then warmth: written by the model under the crisis system prompt (a
        capable model), or our template in the person's words (small models, and any failure)."""
        if not self._writes_crisis_answer():
            return crisis_template(message, kind, "imminent")
        request = ChatRequest.chat(prompts.render("agent_crisis_system"), message, temperature=0.0,
                                   max_tokens=min(self.config.generation.max_tokens, 300), seed=self.config.seed)
        try:
            text = (await self.model.generate(request)).text.strip()
        except ModelError:
            text = ""
        if not text:
            fallbacks["crisis_answer"] += 1
            return crisis_template(message, kind, "imminent")
        return f"{resources_for(kind)}\n\n{text}"


UserFn = Callable[[Attribute, str], Awaitable[str]]


async def converse(agent: Agent, query: str, user: UserFn, *, compose: bool = True, turns: list[Turn] | None = None,
                   history: list[str] = ()) -> tuple[Decision, list[Turn], list[Decision]]:  # type: ignore[assignment]
    """Run a whole dialogue with ``user`` (a function from (attribute, question) to reply).
    Returns the final decision, the turns and every intermediate decision. ``turns``, if
    given, is filled as the dialogue goes, so a caller still has them if a step raises."""
    turns = [] if turns is None else turns
    steps: list[Decision] = []
    while True:
        decision = await agent.decide(query, turns, history=history, compose=compose)
        steps.append(decision)
        if decision.action == "answer":
            return decision, turns, steps
        reply = await user(decision.attribute, decision.question)  # type: ignore[arg-type]
        turns.append(Turn(attribute=decision.attribute, reply=reply))  # type: ignore[arg-type]
