"""The crisis fast path: when a message signals imminent danger, do not interview the user.

Asking "may I ask your age?" of someone who has just said they took an overdose is the
wrong move. Detection is deliberately lexical: it must work with any backend, cost nothing,
never fail to parse, and be auditable. It looks for first-person intent or an act in
progress (not for topics: "how do I support a suicidal friend" is not a crisis message).
"""

from __future__ import annotations

import re

_PATTERNS: dict[str, tuple[str, ...]] = {
    "suicide": (
        r"\b(i|i'm|im|i am)\s+(going|gonna|about|ready|planning|want|wanna|have decided|decided)\s+(to\s+)?"
        r"(kill myself|end (it|my life|things)|die\b|take my (own )?life|commit suicide)",
        r"\b(kill myself|end my life|take my own life|suicide note|want to die|wanna die|better off dead)\b",
        r"\b(tonight|today|now)\b.{0,40}\b(jump|hang myself|end it)\b",
    ),
    "overdose": (
        r"\b(i|i've|ive|i have|just)\s+(just\s+)?(took|taken|swallowed|overdosed)\b.{0,60}"
        r"\b(pills|tablets|bottle|overdose|too many|whole|all (of )?my)\b",
        r"\b(i|i've|i have)\s+(just\s+)?overdosed\b",
    ),
    "self_harm_now": (
        r"\b(i'm|im|i am)\s+(cutting|hurting) myself\b",
        r"\b(bleeding|blood)\b.{0,40}\b(won't|will not|can't) stop\b",
    ),
    "violence": (
        r"\b(i|i'm|im|i am)\s+(going|gonna|about|planning|want)\s+to\s+(kill|shoot|stab|hurt|attack)\s+"
        r"(him|her|them|my|someone|people|everyone)\b",
        r"\b(he|she|they|someone)\s+(is|are|has|have)\s+(a gun|a knife|threatening to kill)\b",
    ),
}
_COMPILED = {kind: [re.compile(p, re.IGNORECASE) for p in pats] for kind, pats in _PATTERNS.items()}

CRISIS_RESOURCES = (
    "If you are in immediate danger, please contact your local emergency number now (911 in the US and "
    "Canada, 112 in the EU, 999 in the UK, 000 in Australia).\n"
    "You can talk to someone right now, free and confidential:\n"
    "- US: call or text 988 (Suicide & Crisis Lifeline)\n"
    "- UK and Ireland: Samaritans, 116 123\n"
    "- Elsewhere: findahelpline.com lists crisis lines in your country\n"
    "If you have taken something, call emergency services or a poison control centre now, even if you feel fine."
)


def crisis_signal(text: str) -> str | None:
    """The kind of imminent danger a message signals (suicide, overdose, self_harm_now,
    violence), or None."""
    normalized = text.replace("’", "'")
    for kind, patterns in _COMPILED.items():
        if any(p.search(normalized) for p in patterns):
            return kind
    return None
