"""``penguin data extract``: the real-post pipeline of SPEC section 4.

post -> PII scrub -> attribute-presence check -> keep if >= 7 of 10 attributes -> extract
values -> rewrite into a self-contained query plus background -> a ``source: real`` scenario,
its domain from the subreddit map (or the model), its leaf chosen by the model. Every
rejection is counted with its reason.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ValidationError

from .. import prompts
from ..errors import DataError, ModelError, describe_validation
from ..files import iter_jsonl
from ..models import ChatModel
from ..models.structured import ask_json
from ..schema import ATTRIBUTES, DOMAINS, VALUE_SETS, Profile, Scenario
from ..taxonomy import tree
from .importers import SUBREDDIT_DOMAINS

SYSTEM = "You annotate forum posts for a research benchmark. Follow the output format exactly."


class Post(BaseModel):
    id: str
    subreddit: str | None = None
    title: str = ""
    body: str


# ------------------------------------------------------------------ PII scrubbing

_PII_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("[EMAIL]", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    ("[URL]", re.compile(r"\b(?:https?://|www\.)\S+", re.I)),
    ("[PHONE]", re.compile(r"(?<!\w)(?:\+?\d{1,2}[\s.-]?)?(?:\(\d{3}\)|\d{3})[\s.-]?\d{3}[\s.-]?\d{4}(?!\w)|(?<!\w)555[\s.-]\d{4}(?!\w)")),
    ("[HANDLE]", re.compile(r"(?<![\w@])@\w{2,}|\bu/\w{2,}", re.I)),
]
_RELATION = (
    r"(?:my|our|his|her)\s+(?:(?:ex|late|former|new|older|younger|best|step)[- ])?"
    r"(?:boyfriend|girlfriend|husband|wife|partner|fianc[eé]e?|son|daughter|brother|sister|mom|mum|mother|dad|"
    r"father|friend|boss|manager|coworker|co-worker|roommate|therapist|landlord|neighbou?r|cousin|aunt|uncle|"
    r"grandma|grandpa|kid|child|ex)"
)
_NAME_AFTER_RELATION = re.compile(r"(?i:\b" + _RELATION + r"),?\s+([A-Z][a-z]{1,15})\b")
_NAME_INTRO = re.compile(r"(?i:\b(?:my name is|i'm called|i am called|call me))\s+([A-Z][a-z]{1,15})\b")
_NOT_NAMES = {"And", "But", "The", "Who", "She", "He", "They", "Is", "Was", "Has", "Had", "Just", "I", "Then", "So"}


def scrub_pii(text: str) -> tuple[str, Counter[str]]:
    """Replace emails, URLs, phone numbers, @handles and detectable first names; count each."""
    found: Counter[str] = Counter()
    for token, pattern in _PII_PATTERNS:
        text, n = pattern.subn(token, text)
        found[token] += n
    names = {m.group(1) for rx in (_NAME_AFTER_RELATION, _NAME_INTRO) for m in rx.finditer(text)} - _NOT_NAMES
    for name in names:
        text, n = re.subn(rf"\b{re.escape(name)}\b", "[NAME]", text)
        found["[NAME]"] += n
    return text, +found


# ------------------------------------------------------------------ lexical attribute cues

# Phrases that state an attribute outright. They let the presence check work with small
# models that answer "false" to everything (``--presence both``), and serve as a cheap,
# transparent second opinion; the paper's check is the LLM alone (``--presence llm``).
_CUES: dict[str, re.Pattern[str]] = {
    "Age": re.compile(r"\b(?:i'?m|i am|age[d]?)\s+\(?\d{2}\b|\b\d{2}\s?[mf]\b|\b\d{2}[- ]year[- ]old\b|"
                      r"\bin my (?:late |early |mid[- ])?(?:20|30|40|50|60|70)s\b|\b(?:teen|retire[de])", re.I),
    "Gender": re.compile(r"\b\d{2}\s?[mf]\b|\b(?:i'?m|as) an? (?:guy|man|woman|girl|dude|mom|dad|mother|father|"
                         r"non-?binary|trans)\b|\bmy (?:husband|wife)\b", re.I),
    "Marital Status": re.compile(r"\b(?:married|divorced|widow(?:ed|er)?|single|engaged|separated|my (?:husband|wife|"
                                 r"ex-?wife|ex-?husband|fianc[eé]e?))\b", re.I),
    "Profession": re.compile(r"\b(?:i work(?:ed)? (?:as|at|in)|my job|i'?m an? \w*\s?(?:nurse|teacher|engineer|student|"
                             r"developer|designer|accountant|lawyer|cashier|manager|analyst|researcher|artist|"
                             r"freelancer|driver|server|barista)|unemployed|laid off|grad student|phd student)\b", re.I),
    "Economic Status": re.compile(r"\b(?:debt|paycheck|rent|savings|broke|income|salary|afford|money|bills|"
                                  r"financially|loan|budget)\b", re.I),
    "Health Status": re.compile(r"\b(?:diagnos\w*|chronic|illness|disease|surgery|injur\w*|pain|diabet\w*|"
                                r"cancer|disabilit\w*|healthy|medication|meds)\b", re.I),
    "Education Level": re.compile(r"\b(?:degree|bachelor'?s?|master'?s?|phd|ph\.d|college|university|high school|"
                                  r"graduated|dropped out|diploma|grad school)\b", re.I),
    "Mental Health Status": re.compile(r"\b(?:depress\w*|anxiety|anxious|therap\w*|panic|bipolar|ptsd|adhd|"
                                       r"ocd|mental health|antidepressant\w*|ssri)\b", re.I),
    "Past Self-Harm History": re.compile(r"\b(?:self[- ]harm\w*|hurt(?:ing)? myself|cutting|cut myself|"
                                         r"suicid\w*|overdos\w*|clean for)\b", re.I),
    "Emotional State": re.compile(r"\b(?:i feel|i'?m feeling|feel(?:ing)? (?:so )?\w+|scared|terrified|hopeless|"
                                  r"lonely|angry|numb|overwhelmed|exhausted|happy|excited|worried|stressed)\b", re.I),
}


def attribute_cues(text: str) -> dict[str, bool]:
    """Which attributes the text states in so many words (a lexical check, no model)."""
    return {name: bool(rx.search(text)) for name, rx in _CUES.items()}


# ------------------------------------------------------------------ the pipeline


@dataclass
class ExtractReport:
    posts: int = 0
    kept: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    pii: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def pass_rate(self) -> float:
        return self.kept / self.posts if self.posts else 0.0


def read_posts(path: Path) -> list[tuple[str, Post]]:
    posts = []
    for lineno, obj in iter_jsonl(path):
        try:
            posts.append((f"{path}:{lineno}", Post.model_validate(obj)))
        except ValidationError as exc:
            raise DataError(f"{path}:{lineno}: {describe_validation(exc)}") from exc
    if not posts:
        raise DataError(f"{path}: empty file, no posts")
    return posts


def _bool_map(value: Any) -> dict[str, bool]:
    out = {}
    for a in ATTRIBUTES:
        v = value[a.value]
        if not isinstance(v, bool):
            raise ValueError(f"{a.value}: expected true/false")
        out[a.value] = v
    return out


def _values(value: Any) -> dict[str, str | None]:
    return {a.value: (str(value[a.value]).strip() or None) if value.get(a.value) not in (None, "null") else None
            for a in ATTRIBUTES}


def _rewrite(value: Any) -> dict[str, str]:
    q, bg = str(value["query"]).strip(), str(value["background"]).strip()
    if len(q) < 8:
        raise ValueError("query too short")
    return {"query": q, "background": bg}


async def extract_post(model: ChatModel, post: Post, *, min_attributes: int, report: ExtractReport,
                       presence_mode: str = "llm", seed: int = 0) -> Scenario | None:
    title, pii_t = scrub_pii(post.title)
    body, pii_b = scrub_pii(post.body)
    report.pii.update(pii_t + pii_b)
    text = {"title": title, "body": body}
    names = [a.value for a in ATTRIBUTES]
    try:
        presence, _ = await ask_json(
            model, SYSTEM, prompts.render("extract_presence", attributes=names, **text),
            {"type": "object", "properties": {n: {"type": "boolean"} for n in names}, "required": names,
             "additionalProperties": False},
            check=_bool_map, seed=seed, max_tokens=200,
        )
        if presence_mode == "both":
            cues = attribute_cues(f"{title}\n{body}")
            presence = {k: v or cues[k] for k, v in presence.items()}
        n_present = sum(presence.values())
        if n_present < min_attributes:
            report.rejected[f"fewer than {min_attributes} attributes"] += 1
            return None
        values, _ = await ask_json(
            model, SYSTEM,
            prompts.render("extract_values", value_sets=[(a.value, VALUE_SETS[a]) for a in ATTRIBUTES], **text),
            # categories of SPEC section 3 (or null): a constraint small models can follow
            {"type": "object", "properties": {a.value: {"enum": [*VALUE_SETS[a], None]} for a in ATTRIBUTES},
             "required": names, "additionalProperties": False},
            check=_values, seed=seed + 10, max_tokens=400,
        )
        profile = Profile.model_validate({k: v for k, v in values.items() if v and presence.get(k)})
        if len(profile.known()) < min_attributes:
            report.rejected["values missing for present attributes"] += 1
            return None
        rewrite, _ = await ask_json(
            model, SYSTEM, prompts.render("extract_rewrite", **text),
            {"type": "object", "properties": {"query": {"type": "string", "maxLength": 400},
                                              "background": {"type": "string", "maxLength": 800}},
             "required": ["query", "background"], "additionalProperties": False},
            check=_rewrite, seed=seed + 20, max_tokens=500,
        )
        domain = SUBREDDIT_DOMAINS.get((post.subreddit or "").lower().removeprefix("r/"))
        if domain is None:
            picked, _ = await ask_json(
                model, SYSTEM, prompts.render("extract_classify", choices=list(DOMAINS), **text),
                {"type": "object", "properties": {"scenario": {"type": "string", "enum": list(DOMAINS)}},
                 "required": ["scenario"], "additionalProperties": False},
                check=lambda v: _one_of(v["scenario"], DOMAINS), seed=seed + 30, max_tokens=40,
            )
            domain = picked
        subs = tree()[domain]
        leaves = [leaf for names_ in subs.values() for leaf in names_]
        leaf, _ = await ask_json(
            model, SYSTEM, prompts.render("extract_classify", choices=leaves, **text),
            {"type": "object", "properties": {"scenario": {"type": "string", "enum": leaves}},
             "required": ["scenario"], "additionalProperties": False},
            check=lambda v: _one_of(v["scenario"], leaves), seed=seed + 40, max_tokens=60,
        )
    except ModelError as exc:
        report.rejected["model gave no valid answer"] += 1
        report.problems.append(f"{post.id}: {exc}")
        return None
    subcategory = next(sub for sub, names_ in subs.items() if leaf in names_)
    return Scenario(id=f"real-{post.id}", domain=domain, subcategory=subcategory, scenario=leaf, source="real",
                    profile=profile, query=rewrite["query"], background=rewrite["background"],
                    subreddit=post.subreddit)


def _one_of(value: Any, choices: list[str] | tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{value!r} is not one of the choices")
    return str(value)


async def extract(model: ChatModel, posts: list[tuple[str, Post]], *, min_attributes: int = 7, concurrency: int = 4,
                  presence_mode: str = "llm", seed: int = 0,
                  on_post: Callable[[], None] | None = None) -> tuple[list[Scenario], ExtractReport]:
    """Run the pipeline over posts. ``presence_mode``: ``llm`` (the paper) or ``both`` (an
    attribute counts as present when the model or the lexical cues find it)."""
    if presence_mode not in ("llm", "both"):
        raise DataError(f"presence mode must be llm or both, not {presence_mode!r}")
    report = ExtractReport(posts=len(posts))
    sem = asyncio.Semaphore(concurrency)

    async def one(post: Post) -> Scenario | None:
        async with sem:
            result = await extract_post(model, post, min_attributes=min_attributes, report=report,
                                        presence_mode=presence_mode, seed=seed)
        if on_post:
            on_post()
        return result

    results = await asyncio.gather(*(one(p) for _, p in posts))
    kept = [s for s in results if s is not None]
    report.kept = len(kept)
    return kept, report
