"""What a query takes for granted about its asker, and whether a profile satisfies it.

Each query of the bank declares its assumptions as tags (``data/queries/*.json``), and each leaf
the tags every one of its askers satisfies. The bundled set is built so that a profile only
receives queries it satisfies; ``penguin data audit`` checks any file against the same rules.
An attribute that is not known never contradicts anything.
"""

from __future__ import annotations

from typing import Callable

from ..schema import Attribute, Profile

A = Attribute
YOUNG_AGES = {"18-24", "25-34"}
NOT_WORKING = {"Student", "Unemployed", "Retired", "Homemaker"}


def _is(attr: Attribute, *values: str) -> Callable[[Profile], bool]:
    return lambda p: p.category(attr) is None or p.category(attr) in values


def _not(attr: Attribute, *values: str) -> Callable[[Profile], bool]:
    return lambda p: p.category(attr) is None or p.category(attr) not in values


def _all(*checks: Callable[[Profile], bool]) -> Callable[[Profile], bool]:
    return lambda p: all(c(p) for c in checks)


TAGS: dict[str, tuple[str, Callable[[Profile], bool]]] = {
    "married": ("is married now", _is(A.MARITAL, "Married")),
    "partnered": ("has a current partner", _is(A.MARITAL, "Single", "Married", "Divorced")),
    "separating": ("is separating or divorcing", _is(A.MARITAL, "Married", "Divorced")),
    "divorced": ("is divorced", _is(A.MARITAL, "Divorced")),
    "widowed": ("lost their spouse", _is(A.MARITAL, "Widowed")),
    "unmarried": ("has never been married", _is(A.MARITAL, "Single")),
    "parent": ("has children", _not(A.AGE, "18-24")),
    "parent_of_adult": ("has adult children", _all(_is(A.AGE, "45-54", "55+"), _not(A.PROFESSION, "Student"))),
    "young": ("is a young adult", _is(A.AGE, *YOUNG_AGES)),
    "over_35": ("is 35 or older", _not(A.AGE, *YOUNG_AGES)),
    "over_45": ("is 45 or older", _is(A.AGE, "45-54", "55+")),
    "over_55": ("is 55 or older", _is(A.AGE, "55+")),
    "student": ("is a student", _is(A.PROFESSION, "Student")),
    "grad_student": ("does a master's or PhD", _all(_is(A.PROFESSION, "Student", "Researcher"),
                                                    _is(A.EDUCATION, "Bachelor's", "Master's"))),
    "educator": ("teaches", _is(A.PROFESSION, "Teacher", "Researcher")),
    "employed": ("has a job", _not(A.PROFESSION, *NOT_WORKING)),
    "business_owner": ("runs a business", _is(A.PROFESSION, "Business Owner", "Freelancer")),
    "retired": ("is retired", _all(_is(A.PROFESSION, "Retired"), _is(A.AGE, "55+"))),
    "military": ("serves in the military", _is(A.PROFESSION, "Military Personnel")),
    "healthcare_worker": ("works in healthcare", _is(A.PROFESSION, "Healthcare Worker")),
    "female": ("is a woman", _is(A.GENDER, "Female")),
    "male": ("is a man", _is(A.GENDER, "Male")),
}


def unknown_tags(tags: list[str]) -> list[str]:
    return [t for t in tags if t not in TAGS]


def unmet(profile: Profile, tags: list[str]) -> list[str]:
    """The tags ``profile`` contradicts (unknown attributes contradict nothing)."""
    return [t for t in tags if not TAGS[t][1](profile)]
