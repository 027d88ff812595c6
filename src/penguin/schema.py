"""Records that cross a boundary: attributes, profiles, scenarios, contexts.

Every file penguin reads or writes is a stream of these models, so validation
happens once, here, with messages that name the offending field.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator


class Attribute(str, Enum):
    """The ten user attributes of PENGUIN; values are the paper's display names."""

    AGE = "Age"
    GENDER = "Gender"
    MARITAL = "Marital Status"
    PROFESSION = "Profession"
    ECONOMIC = "Economic Status"
    HEALTH = "Health Status"
    EDUCATION = "Education Level"
    MENTAL = "Mental Health Status"
    SELF_HARM = "Past Self-Harm History"
    EMOTION = "Emotional State"

    @property
    def key(self) -> str:
        """Short, typeable name used on the command line (``self_harm``)."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> "Attribute":
        """Accept a display name, a short key or the enum name, case-insensitively."""
        wanted = text.strip().lower().replace("-", "_").replace(" ", "_")
        for attr in cls:
            names = {attr.key, attr.value.lower().replace("-", "_").replace(" ", "_")}
            if wanted in names or wanted in ALIASES.get(attr, ()):
                return attr
        choices = ", ".join(a.key for a in cls)
        raise ValueError(f"unknown attribute {text!r} (choose from: {choices})")


ALIASES: dict[Attribute, tuple[str, ...]] = {
    Attribute.MARITAL: ("marital_status", "marital"),
    Attribute.ECONOMIC: ("economic_status", "economy"),
    Attribute.HEALTH: ("health_status",),
    Attribute.EDUCATION: ("education_level",),
    Attribute.MENTAL: ("mental_health", "mental_health_status", "mental"),
    Attribute.SELF_HARM: ("self_harm", "past_self_harm_history", "selfharm", "self_harm_history"),
    Attribute.EMOTION: ("emotional_state", "emotion", "emotions"),
}

ATTRIBUTES: tuple[Attribute, ...] = tuple(Attribute)

_A = Attribute
STATIC_ORDER: tuple[Attribute, ...] = (_A.EMOTION, _A.MENTAL, _A.SELF_HARM, _A.HEALTH, _A.EDUCATION, _A.ECONOMIC,
                                       _A.PROFESSION, _A.AGE, _A.MARITAL, _A.GENDER)
"""The paper's one-at-a-time ranking (SPEC section 6): its static top-3 (Emotion, Mental,
Self-Harm) first. The static baseline asks in this order, and fallbacks break ties by it."""

# The value sets of SPEC section 3, with the professions and states the public release also
# uses (Business Owner, Military Personnel, Homemaker, Unemployed, Retired). Synthetic profiles
# draw from these; real profiles may carry free text.
VALUE_SETS: dict[Attribute, tuple[str, ...]] = {
    Attribute.AGE: ("18-24", "25-34", "35-44", "45-54", "55+"),
    Attribute.GENDER: ("Male", "Female", "Other"),
    Attribute.MARITAL: ("Single", "Married", "Divorced", "Widowed"),
    Attribute.PROFESSION: (
        "Teacher", "IT Engineer", "Financial Practitioner", "Freelancer", "Researcher",
        "Salesperson", "Service Industry Worker", "Student", "Healthcare Worker",
        "Legal Practitioner", "Marketing Personnel", "Manufacturing Worker", "Artist",
        "Civil Servant", "Architect", "Agricultural Worker", "Business Owner", "Military Personnel", "Homemaker",
        "Unemployed", "Retired", "Other",
    ),
    Attribute.ECONOMIC: ("Stable", "Moderate", "Difficult", "Severe Difficulty"),
    Attribute.HEALTH: ("Good", "Chronic Disease", "Serious Illness"),
    Attribute.EDUCATION: ("High School", "Bachelor's", "Master's", "PhD", "Other"),
    Attribute.MENTAL: ("None", "Mild Depression", "Severe Depression", "Anxiety", "Other"),
    Attribute.SELF_HARM: ("None", "Yes"),
    Attribute.EMOTION: (
        "Despair", "Anxiety", "Loneliness", "Depression", "Anger", "Happiness", "Calmness",
        "Satisfaction", "Excitement", "Indifferent", "Other",
    ),
}

DOMAINS: tuple[str, ...] = (
    "Relationship", "Career", "Financial", "Social", "Health", "Life", "Education",
)
Domain = Literal["Relationship", "Career", "Financial", "Social", "Health", "Life", "Education"]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Profile(BaseModel):
    """A user's background. Keys on disk are the display names; missing = unknown."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True, extra="forbid", frozen=True)

    age: Text | None = Field(None, alias="Age")
    gender: Text | None = Field(None, alias="Gender")
    marital: Text | None = Field(None, alias="Marital Status")
    profession: Text | None = Field(None, alias="Profession")
    economic: Text | None = Field(None, alias="Economic Status")
    health: Text | None = Field(None, alias="Health Status")
    education: Text | None = Field(None, alias="Education Level")
    mental: Text | None = Field(None, alias="Mental Health Status")
    self_harm: Text | None = Field(None, alias="Past Self-Harm History")
    emotion: Text | None = Field(None, alias="Emotional State")

    @classmethod
    def from_values(cls, values: dict[Attribute, str | None]) -> "Profile":
        return cls(**{attr.key: value for attr, value in values.items()})

    def get(self, attr: Attribute) -> str | None:
        return getattr(self, attr.key)

    def items(self) -> list[tuple[Attribute, str]]:
        """Known attributes in canonical order."""
        return [(a, v) for a in ATTRIBUTES if (v := self.get(a)) is not None]

    def known(self) -> frozenset[Attribute]:
        return frozenset(a for a, _ in self.items())

    def restrict(self, attrs: Iterable[Attribute]) -> "Profile":
        """The same user as seen by someone who only knows ``attrs``."""
        keep = set(attrs)
        return Profile.from_values({a: v for a, v in self.items() if a in keep})

    def category(self, attr: Attribute) -> str | None:
        """The value's category, without any free-text detail after ' - ' or ':'."""
        value = self.get(attr)
        if value is None:
            return None
        for sep in (" - ", ": ", " ("):
            if sep in value:
                return value.split(sep, 1)[0].strip()
        return value

    def dump(self) -> dict[str, str]:
        return self.model_dump(by_alias=True, exclude_none=True)


class Variant(str, Enum):
    """How much of the profile the model under test sees."""

    FREE = "free"
    RICH = "rich"

    @property
    def label(self) -> str:
        return {"free": "context-free", "rich": "context-rich"}[self.value]


class Context(BaseModel):
    """``context = this subset of attributes``; free and rich are its two extremes."""

    model_config = ConfigDict(frozen=True)

    attributes: frozenset[Attribute] = frozenset()

    @classmethod
    def of(cls, attrs: Iterable[Attribute]) -> "Context":
        return cls(attributes=frozenset(attrs))

    @classmethod
    def for_variant(cls, variant: Variant) -> "Context":
        return cls.of(ATTRIBUTES if variant is Variant.RICH else ())

    @classmethod
    def parse(cls, text: str) -> "Context":
        """``free``/``none``, ``rich``/``all``, or attribute keys joined by ``+`` or ``,``."""
        t = text.strip().lower()
        if t in ("free", "none", "context-free", ""):
            return cls()
        if t in ("rich", "all", "context-rich"):
            return cls.of(ATTRIBUTES)
        return cls.of(Attribute.parse(p) for p in t.replace(",", "+").split("+") if p.strip())

    @property
    def name(self) -> str:
        if not self.attributes:
            return "free"
        if len(self.attributes) == len(ATTRIBUTES):
            return "rich"
        return "+".join(a.key for a in ATTRIBUTES if a in self.attributes)


class Scenario(BaseModel):
    """One PENGUIN item: who asks (profile) and what they ask (query)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Text
    domain: Domain
    subcategory: Text
    scenario: Text
    source: Literal["real", "synthetic"]
    profile: Profile
    query: Text
    background: str | None = None
    subreddit: str | None = None

    @field_validator("id")
    @classmethod
    def _id_is_single_line(cls, v: str) -> str:
        if "\n" in v:
            raise ValueError("id must be a single line")
        return v
