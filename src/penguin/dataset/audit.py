"""``penguin data audit``: does each query fit its asker, and does the risk come from the background?

For any scenario file (the bundled set by default):
- contradictions: a bank query given to a profile its declared assumptions rule out (a single
  man asking about "my husband"); queries not in the bank have no declared assumptions;
- statements: queries that ask nothing (PENGUIN wants requests whose risk depends on who asks);
- explicit distress: queries that carry hopelessness or ideation themselves (the crisis floor's
  phrases, and a list of hopeless ones), which would be risky without any profile;
- near-duplicates within a leaf, and how well profiles fit their leaf: the mean number of
  attributes on which two profiles of one leaf differ, against two profiles of different leaves;
- value distributions per attribute.
The command exits non-zero when it finds a contradiction.
"""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter, defaultdict
from pathlib import Path

from pydantic import BaseModel, Field

from ..crisis import crisis_signal
from ..schema import ATTRIBUTES, Profile
from .assumptions import unmet
from .query_bank import assumptions_of, near_duplicates
from .sources import load_scenarios
from .splits import normalise_query

_ASK = re.compile(
    r"\?|^\s*(help|tips?|give|tell|show|suggest|recommend|explain|write|list|any|how|what|whats|what's|where|when|"
    r"why|which|who|can|could|should|would|is|are|do|does|did|will|am|was|were|have|has|need|looking|please|"
    r"ideas?|best|ways?|advice)\b|\b(help me|any (tips|advice|ideas)|i need (advice|help|ideas|to know)|"
    r"looking for|how (do|can|should) i|what (should|can|do) i|please|should i|can i|is it|tell me|need tips|"
    r"tips for|what'?s the worst)\b", re.IGNORECASE)
_DISTRESS = re.compile(
    r"\b(what'?s the point|no point|give up on|giving up on|a burden|better off without|disappear|not be here|"
    r"don'?t want to be here|stay inside for good|less trouble for everyone|nobody would (care|notice)|"
    r"feel nothing|can'?t go on|hopeless|worthless|what i'?m for|end it all|no way out|wish i wasn'?t|"
    r"not wake up|stop existing|why bother)\b", re.IGNORECASE)


def is_request(query: str) -> bool:
    return bool(_ASK.search(query))


def explicit_distress(query: str) -> bool:
    return bool(_DISTRESS.search(query)) or crisis_signal(query) is not None


def profile_distance(a: Profile, b: Profile) -> int:
    return sum(a.category(x) != b.category(x) for x in ATTRIBUTES)


class AuditResult(BaseModel):
    scenarios: int
    contradictions: list[str] = Field(default_factory=list)
    """``id: query assumes TAG`` for each contradiction (at most the first 200 are listed)."""
    contradiction_count: int = 0
    checked_against_bank: int = 0
    statements: int = 0
    distinct_queries: int = 0
    statement_share: float = 0.0
    """Share of distinct queries that ask nothing."""
    explicit_distress: list[str] = Field(default_factory=list)
    near_duplicate_pairs: int = 0
    within_leaf_distance: float | None = None
    across_leaf_distance: float | None = None
    values: dict[str, dict[str, int]] = Field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"{self.scenarios} scenarios, {self.distinct_queries} distinct queries "
               f"({self.checked_against_bank} scenarios ask a bank query with declared assumptions)",
               f"contradictions between queries and profiles: {self.contradiction_count}"]
        out += [f"  ✗ {c}" for c in self.contradictions[:20]]
        out.append(f"statements (queries that ask nothing): {self.statements} of {self.distinct_queries} "
                   f"({self.statement_share:.1%})")
        out.append(f"explicit-distress queries: {len(self.explicit_distress)}")
        out += [f"  ! {q}" for q in self.explicit_distress[:20]]
        out.append(f"near-duplicate query pairs within a leaf: {self.near_duplicate_pairs}")
        if self.within_leaf_distance is not None:
            out.append(f"profile distance (attributes that differ, of 10): within a leaf "
                       f"{self.within_leaf_distance:.2f}, across leaves {self.across_leaf_distance:.2f}")
        for attr, counts in self.values.items():
            total = sum(counts.values())
            out.append(f"{attr}: " + " · ".join(f"{k} {v / total:.0%}" for k, v in counts.items()))
        return out


def audit(source: str | Path | None = None, seed: int = 0) -> AuditResult:
    declared = assumptions_of()
    result = AuditResult(scenarios=0)
    queries: dict[str, str] = {}
    leaf_queries: dict[str, set[str]] = defaultdict(set)
    leaf_profiles: dict[str, dict[str, Profile]] = defaultdict(dict)
    values: dict[str, Counter[str]] = defaultdict(Counter)
    for s in load_scenarios(source):
        result.scenarios += 1
        key = normalise_query(s.query)
        queries.setdefault(key, s.query)
        leaf_queries[s.scenario].add(s.query)
        leaf_profiles[s.scenario][s.profile.model_dump_json()] = s.profile
        for attr in ATTRIBUTES:
            values[attr.value][s.profile.category(attr) or "(unknown)"] += 1
        if key in declared:
            result.checked_against_bank += 1
            for tag in unmet(s.profile, declared[key]):
                result.contradiction_count += 1
                if len(result.contradictions) < 200:
                    result.contradictions.append(f"{s.id}: the query assumes the asker {tag}: {s.query[:80]!r}")
    result.distinct_queries = len(queries)
    result.statements = sum(not is_request(q) for q in queries.values())
    result.statement_share = round(result.statements / len(queries), 4) if queries else 0.0
    result.explicit_distress = sorted(q for q in queries.values() if explicit_distress(q))
    result.near_duplicate_pairs = sum(len(near_duplicates(sorted(qs))) for qs in leaf_queries.values())
    result.within_leaf_distance, result.across_leaf_distance = _leaf_fit(leaf_profiles, seed)
    result.values = {a: dict(c.most_common(12)) for a, c in values.items()}
    return result


def _leaf_fit(leaf_profiles: dict[str, dict[str, Profile]], seed: int) -> tuple[float | None, float | None]:
    within = [profile_distance(a, b) for ps in leaf_profiles.values()
              for a, b in itertools.combinations(list(ps.values()), 2)]
    everyone = [(leaf, p) for leaf, ps in leaf_profiles.items() for p in ps.values()]
    rng = random.Random(seed)
    across = []
    for _ in range(min(20000, len(everyone) ** 2)):
        (la, a), (lb, b) = rng.choice(everyone), rng.choice(everyone)
        if la != lb:
            across.append(profile_distance(a, b))
    mean = lambda xs: round(sum(xs) / len(xs), 3) if xs else None  # noqa: E731
    return mean(within), mean(across)
