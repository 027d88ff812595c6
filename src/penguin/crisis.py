"""Crisis: the lexical floor of the router, the resources, and a crisis answer that is safe to
send even when the model behind the agent is a 135M toy.

The router (router.py) decides with a sentence-embedding classifier trained on authored
messages; these patterns are its high-precision floor: phrases that mean danger whatever
the classifier thinks ("kill myself", "I took the whole bottle"). They look for first-person
intent or an act in progress, never for topics ("how do I support a suicidal friend" is not a
crisis message), and they fire on none of the bundled benign and hard-negative sets (tested).
"""

from __future__ import annotations

import re
from typing import Literal

Level = Literal["imminent", "passive"]

_PATTERNS: dict[str, tuple[str, ...]] = {
    "suicide": (
        r"\b(i|i'm|im|i am)\s+(going|gonna|about|ready|planning|have decided|decided)\s+(to\s+)?"
        r"(kill myself|end (it|my life|things)|die\b(?!\s+(of|from|laughing|for|if|when|waiting))|take my (own )?life|"
        r"commit suicide)",
        r"\b(kill myself|kms|end my life|take my own life|better off dead|unalive myself)\b",
        r"\b(tonight|today|now)\b.{0,40}\b(jump|hang myself|end it)\b",
        r"\b(this is|here is|writing) my (goodbye|last) (message|note|letter)\b",
    ),
    "overdose": (
        r"\b(i|i've|ive|i have|just)\s+(just\s+)?(took|taken|swallowed|overdosed)\b.{0,60}"
        r"\b(pills|tablets|bottle|overdose|too many|whole|all (of )?my)\b",
        r"\b(i|i've|i have)\s+just\s+overdosed\b",
        r"\boverdosed\b.{0,20}\b(tonight|today|an hour ago|minutes ago|just now)\b",
        r"\bhow many\b.{0,40}\b(pills|tablets|of my)\b.{0,50}\b(not wake up|never wake up|to die|kill me|be enough)\b",
    ),
    "self_harm_now": (
        r"\b(i'm|im|i am)\s+(cutting|hurting|burning) myself\b",
        r"\b(bleeding|blood)\b.{0,40}\b(won't|will not|can't) stop\b",
        r"\bcut (myself )?deeper\b",
    ),
    "violence": (
        r"\b(i|i'm|im|i am)\s+(going|gonna|about|planning|want)\s+to\s+(kill|shoot|stab|hurt|attack)\s+"
        r"(him|her|them|my|someone|people|everyone)\b",
        r"\b(he|she|they|someone)\s+(is|are|has|have)\s+(a gun|a knife|threatening to kill)\b",
        r"\b(he|she|they)\s+(says?|said|threatened|swears?)\b.{0,30}\b(will|going to|gonna|'ll)\s+(kill|hurt)\s+me\b",
    ),
    "passive": (
        r"\b(wish|want) (i could|to) (go to )?sleep and (never|not) wake up\b",
        r"\b(everyone|they|my family) would be better off without me\b",
        r"\bdon'?t want to (be alive|exist|live) any ?more\b",
    ),
}
_COMPILED = {kind: [re.compile(p, re.IGNORECASE) for p in pats] for kind, pats in _PATTERNS.items()}

EMERGENCY = "If you are in immediate danger, call your local emergency number now (911 in the US and Canada, " \
            "112 in the EU, 999 in the UK, 000 in Australia)."
RESOURCES: dict[str, str] = {
    "suicide": "You can talk to someone right now, free and confidential: in the US call or text 988 (Suicide & "
               "Crisis Lifeline); in the UK and Ireland call Samaritans on 116 123; elsewhere, findahelpline.com "
               "lists crisis lines in your country.",
    "overdose": "If you have taken something, call emergency services or a poison control centre now, even if you "
                "feel fine (US Poison Help: 1-800-222-1222).",
    "danger": "If someone is threatening or hurting you, get to a safe place if you can and call emergency "
              "services. In the US the National Domestic Violence Hotline is 1-800-799-7233 (text START to 88788); "
              "in the UK, the Refuge helpline is 0808 2000 247.",
}
CRISIS_RESOURCES = "\n".join([EMERGENCY, RESOURCES["suicide"], RESOURCES["overdose"]])
"""Every resource line; the crisis answer picks the ones its kind needs."""


def crisis_signal(text: str) -> tuple[str, Level] | None:
    """The lexical floor: (kind, level) when a message says danger in so many words, else None."""
    normalized = text.replace("’", "'")
    for kind, patterns in _COMPILED.items():
        if any(p.search(normalized) for p in patterns):
            return ("suicide" if kind == "passive" else kind), ("passive" if kind == "passive" else "imminent")
    return None


def resources_for(kind: str | None) -> str:
    """The emergency line, then what fits the kind (danger from others, an overdose), then the
    suicide lines, which fit every crisis."""
    lines = [EMERGENCY]
    if kind in ("danger_from_others", "violence", "harm_to_others"):
        lines.append(RESOURCES["danger"])
    if kind == "overdose":
        lines.append(RESOURCES["overdose"])
    lines.append(RESOURCES["suicide"])
    return "\n".join(lines)


def _echo(message: str, limit: int = 18) -> str:
    """A short excerpt of the person's own words, to show they were heard."""
    words = re.sub(r"\s+", " ", message).strip().split(" ")
    excerpt = " ".join(words[:limit]).strip(" .,;:!?")
    return excerpt + (" …" if len(words) > limit else "")


def crisis_template(message: str, kind: str | None, level: Level) -> str:
    """A crisis answer written by us, in the person's words: resources first for imminent danger,
    then warmth and one concrete next step. Used as is with small models, which cannot be trusted
    to write this, and as the fallback when a model's crisis answer fails."""
    heard = f"You wrote: “{_echo(message)}”." if message.strip() else ""
    if level == "imminent":
        return "\n\n".join(filter(None, [
            resources_for(kind),
            f"{heard} I'm really glad you reached out, and I'm taking what you said seriously. You don't have to "
            "carry this alone, and you deserve help right now.",
            "If you can, put some distance between yourself and anything you could use to hurt yourself, and reach "
            "out to someone you trust who can be with you now. A crisis counsellor can talk with you tonight, "
            "whatever is going on.",
        ]))
    return "\n\n".join(filter(None, [
        f"{heard} It sounds like things feel really heavy right now, and I'm glad you said it out loud. Feeling "
        "this way is a sign of how much you've been carrying, not a sign that something is wrong with you.",
        "You deserve support with this. Talking to someone can help, even if nothing feels urgent: a friend, a "
        "doctor, or a counsellor on a free line.",
        resources_for(kind),
    ]))
