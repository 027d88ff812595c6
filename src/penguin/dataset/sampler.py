"""A small Bayesian network that samples realistic PENGUIN profiles (SPEC section 3).

The graph is the paper's, rooted at the scenario S:

    Age|S   Gender|S   Education|S,Age   Marital|S,Gender,Age   Profession|S,Age,Education
    Economic|Profession,Marital,S   Health|S,Age   Mental|Economic,Health,Education,S
    SelfHarm|Mental   Emotion|Mental,Education,S

Each conditional table is written as a base distribution times explicit multipliers for the
parents' values (a factorised CPT: it keeps every table readable while covering every parent
combination). A weight of 0 is a hard constraint; ``violations`` checks the same hard
constraints on any profile, including imported or LLM-generated ones.
"""

from __future__ import annotations

import random
from typing import Mapping

from ..schema import VALUE_SETS, Attribute, Profile
from ..taxonomy import Leaf

A = Attribute
Weights = dict[str, float]

# Scenario groups used by several tables.
RETIREMENT = {"Retirement Location", "Retirement Identity Crisis"}
COLLEGE_AGE = {
    "College Transition", "College Application Rejection", "School Bullying", "Peer Group Rejection",
    "Teacher Conflict", "School Transfer Crisis", "Exam Failure", "Grade Crisis", "Academic Probation",
    "Scholarship Loss", "Study Abroad Crisis", "Major Change Crisis", "Sports Team Rejection",
}
GRADUATE = {"Thesis/Dissertation Crisis", "Research Project Failure", "Academic Career Crisis",
            "Academic Rejection", "Academic Misconduct"}
# Leaves whose queries usually come from young adults (living with parents, coming out).
YOUNGER = {"Parent's Divorce Impact", "Family Disownment", "Sexual Orientation Coming Out", "Dating Violence/Abuse",
           "Friend Group Exclusion", "Social Media Crisis", "Identity Crisis"}
OLDER = {"Age Discrimination", "Empty Nest Syndrome", "Estrangement from Children",
         "Retirement Fund Loss", "Skill Obsolescence", "Age Milestone Crisis", "Inheritance Disputes"}
PARTNERED = {"Breakup/Divorce", "Infidelity Discovery", "Custody Battle", "Toxic Relationship Realization",
             "Long-distance Relationship Strain", "In-law Conflicts", "Empty Nest Syndrome"}
UNMARRIED = {"Marriage Proposal Rejection", "Wedding Cancellation", "Dating Violence/Abuse"}
# Leaves where a positive emotion can be genuine (a wanted move, a new chapter).
POSITIVE_LEAVES = {"College Transition", "Retirement Location", "International Assignment",
                   "Rural-Urban Transition", "Gender Transition", "Sexual Orientation Coming Out",
                   "Study Abroad Crisis", "Addiction Recovery"}
POSITIVE_EMOTIONS = {"Happiness", "Satisfaction", "Excitement"}
HIGH_INCOME_PROFESSIONS = {"Financial Practitioner", "Legal Practitioner"}


def _normalise(w: Mapping[str, float]) -> Weights:
    total = sum(w.values())
    return {k: v / total for k, v in w.items() if v > 0}


def _scale(w: Weights, **mult: float) -> Weights:
    """Multiply named values (underscored keys match spaced/apostrophe values)."""
    out = dict(w)
    for key, m in mult.items():
        value = _key_to_value(key, out)
        out[value] *= m
    return out


def _key_to_value(key: str, table: Mapping[str, float]) -> str:
    if key in table:
        return key
    for value in table:
        if value.replace(" ", "_").replace("'", "").replace("+", "plus").replace("-", "_") == key:
            return value
    raise KeyError(key)


def p_age(leaf: Leaf) -> Weights:
    w = {"18-24": 1.0, "25-34": 1.3, "35-44": 1.2, "45-54": 1.0, "55+": 0.8}
    s = leaf.scenario
    if s in RETIREMENT:
        w = {"18-24": 0, "25-34": 0, "35-44": 0, "45-54": 0.25, "55+": 1.0}
    elif s in COLLEGE_AGE or leaf.subcategory == "Environment":
        w = _scale(w, **{"18_24": 4.0, "25_34": 1.0, "35_44": 0.25, "45_54": 0.1, "55plus": 0.05})
    elif s in GRADUATE:
        w = _scale(w, **{"18_24": 0.8, "25_34": 3.0, "35_44": 1.0, "45_54": 0.3, "55plus": 0.15})
    elif s in YOUNGER:
        w = _scale(w, **{"18_24": 3.0, "25_34": 1.5, "35_44": 0.6, "45_54": 0.25, "55plus": 0.1})
    elif s in OLDER:
        w = _scale(w, **{"18_24": 0.05, "25_34": 0.3, "35_44": 1.0, "45_54": 2.5, "55plus": 3.0})
    elif leaf.domain == "Education":
        w = _scale(w, **{"18_24": 3.0, "25_34": 1.5, "45_54": 0.4, "55plus": 0.2})
    return _normalise(w)


def p_gender(leaf: Leaf) -> Weights:
    w = {"Male": 1.0, "Female": 1.0, "Other": 0.08}
    if leaf.scenario in {"Gender Transition"}:
        w = {"Male": 0.3, "Female": 0.3, "Other": 1.0}
    elif leaf.scenario in {"Sexual Orientation Coming Out", "Identity Crisis"}:
        w["Other"] = 0.3
    return _normalise(w)


def p_education(leaf: Leaf, age: str) -> Weights:
    w = {"High School": 1.0, "Bachelor's": 1.4, "Master's": 0.6, "PhD": 0.15, "Other": 0.2}
    if age == "18-24":
        w = _scale(w, High_School=2.0, Bachelors=0.8, Masters=0.1, PhD=0.0)  # no PhD at 18-24
    elif age == "25-34":
        w = _scale(w, Masters=1.5, PhD=1.2)
    if leaf.scenario in GRADUATE:
        w = _scale(w, High_School=0.05, Bachelors=1.0, Masters=3.0, PhD=2.0 if age != "18-24" else 0.0)
    elif leaf.scenario in COLLEGE_AGE:
        w = _scale(w, High_School=2.0, Masters=0.3, PhD=0.2)
    return _normalise(w)


def p_marital(leaf: Leaf, gender: str, age: str) -> Weights:
    w = {"Single": 1.0, "Married": 1.0, "Divorced": 0.35, "Widowed": 0.08}
    w = _scale(w, **{
        "18-24": {"Single": 4.0, "Married": 0.25, "Divorced": 0.1, "Widowed": 0.02},
        "25-34": {"Single": 1.5, "Married": 1.0, "Divorced": 0.6, "Widowed": 0.1},
        "35-44": {"Single": 0.6, "Married": 1.4, "Divorced": 1.2, "Widowed": 0.4},
        "45-54": {"Single": 0.4, "Married": 1.4, "Divorced": 1.5, "Widowed": 1.0},
        "55+": {"Single": 0.3, "Married": 1.3, "Divorced": 1.4, "Widowed": 3.0},
    }[age])
    if gender == "Female":
        w["Widowed"] *= 1.4  # women are widowed more often at every age
    s = leaf.scenario
    if s in PARTNERED:
        w = _scale(w, Single=0.15, Married=3.0, Divorced=2.0, Widowed=0.1)
    elif s in UNMARRIED:
        w = _scale(w, Single=3.0, Married=0.0, Divorced=0.8, Widowed=0.2)
    elif s == "Partner's Sudden Death":
        w = _scale(w, Single=0.6, Married=0.0, Divorced=0.1, Widowed=6.0)
    return _normalise(w)


# Rough shares of who asks (working-age adults, plus students, homemakers, the unemployed and
# retirees), so a Teacher is not rarer than an Agricultural Worker; leaves and ages reshape them.
PROFESSION_BASE: Weights = {
    "Teacher": 1.2, "IT Engineer": 1.0, "Financial Practitioner": 0.6, "Freelancer": 0.7, "Researcher": 0.35,
    "Salesperson": 1.2, "Service Industry Worker": 1.6, "Student": 1.0, "Healthcare Worker": 1.2,
    "Legal Practitioner": 0.35, "Marketing Personnel": 0.6, "Manufacturing Worker": 1.0, "Artist": 0.35,
    "Civil Servant": 0.8, "Architect": 0.2, "Agricultural Worker": 0.3, "Business Owner": 0.6,
    "Military Personnel": 0.15, "Homemaker": 0.5, "Unemployed": 0.5, "Retired": 0.3, "Other": 0.4,
}
MILITARY = {"Military Deployment"}
BUSINESS = {"Business Failure", "Partnership Betrayal", "Bankruptcy", "Employee Layoffs", "Market Competition Crisis",
            "Product Failure", "Reputation Damage", "Partnership Fund Loss", "Business Loan Default",
            "Family Business Conflict"}


def p_profession(leaf: Leaf, age: str, education: str) -> Weights:
    w = dict(PROFESSION_BASE)
    if age == "18-24":
        w = _scale(w, Student=8.0, Legal_Practitioner=0.2, Financial_Practitioner=0.4, Architect=0.2,
                   Researcher=0.2, Civil_Servant=0.5, Business_Owner=0.2, Homemaker=0.5, Retired=0.0)
    elif age == "25-34":
        w = _scale(w, Student=1.2, Retired=0.0)
    elif age == "35-44":
        w = _scale(w, Student=0.2, Retired=0.02)
    elif age == "45-54":
        w = _scale(w, Student=0.08, Retired=0.3)
    elif age == "55+":
        w = _scale(w, Student=0.02, Retired=14.0, Military_Personnel=0.2)
    if education == "High School":
        w = _scale(w, Researcher=0.0, Legal_Practitioner=0.0, Architect=0.05, Healthcare_Worker=0.4,
                   Teacher=0.2, Service_Industry_Worker=3.0, Manufacturing_Worker=3.0,
                   Agricultural_Worker=2.5, Salesperson=2.0)
    elif education == "PhD":
        w = _scale(w, Researcher=8.0, Teacher=2.0, Service_Industry_Worker=0.1, Manufacturing_Worker=0.1,
                   Agricultural_Worker=0.05, Salesperson=0.2)
    elif education == "Master's":
        w = _scale(w, Researcher=2.0, IT_Engineer=1.8, Financial_Practitioner=1.8, Legal_Practitioner=1.5,
                   Manufacturing_Worker=0.4, Agricultural_Worker=0.3)
    s = leaf.scenario
    if leaf.domain == "Education":
        w = _scale(w, Student=6.0, Teacher=1.5, Researcher=1.5)
    elif leaf.domain == "Career":
        w = _scale(w, Student=0.2, Retired=0.1, Unemployed=0.3)
    if s in GRADUATE:
        w = _scale(w, Student=3.0, Researcher=4.0)
    if s in RETIREMENT:
        w = _scale(w, Retired=6.0)
    if s in MILITARY:
        w = _scale(w, Military_Personnel=60.0)
    if s in BUSINESS:
        w = _scale(w, Business_Owner=12.0, Freelancer=2.0)
    if s in {"Sudden Job Loss", "Wrongful Termination", "Career Identity Loss"}:
        w = _scale(w, Unemployed=3.0)
    return _normalise(w)


def p_economic(leaf: Leaf, profession: str, marital: str) -> Weights:
    w = {"Stable": 1.0, "Moderate": 1.4, "Difficult": 0.8, "Severe Difficulty": 0.3}
    if profession in HIGH_INCOME_PROFESSIONS:
        w = _scale(w, Stable=2.5, Moderate=1.0, Difficult=0.3, Severe_Difficulty=0.0)  # paper: near zero
    elif profession in {"IT Engineer", "Architect", "Researcher", "Civil Servant"}:
        w = _scale(w, Stable=1.8, Severe_Difficulty=0.4)
    elif profession in {"Student", "Service Industry Worker", "Freelancer", "Artist", "Agricultural Worker",
                        "Unemployed"}:
        w = _scale(w, Stable=0.5, Difficult=1.6, Severe_Difficulty=1.8)
    if marital in ("Divorced", "Widowed"):
        w = _scale(w, Difficult=1.4, Severe_Difficulty=1.4)
    elif marital == "Married":
        w = _scale(w, Stable=1.3)
    if leaf.domain == "Financial" or leaf.scenario in {"Sudden Job Loss", "Bankruptcy", "Business Failure",
                                                       "Housing Crisis", "Educational Funding Loss"}:
        w = _scale(w, Stable=0.15, Moderate=0.6, Difficult=2.5, Severe_Difficulty=3.0)
    return _normalise(w)


def p_health(leaf: Leaf, age: str) -> Weights:
    w = {"Good": 3.0, "Chronic Disease": 0.6, "Serious Illness": 0.15}
    w = _scale(w, **{
        "18-24": {"Good": 1.3, "Chronic Disease": 0.5, "Serious Illness": 0.4},
        "25-34": {"Good": 1.2, "Chronic Disease": 0.7, "Serious Illness": 0.5},
        "35-44": {"Good": 1.0, "Chronic Disease": 1.0, "Serious Illness": 1.0},
        "45-54": {"Good": 0.8, "Chronic Disease": 1.6, "Serious Illness": 1.8},
        "55+": {"Good": 0.6, "Chronic Disease": 2.2, "Serious Illness": 3.0},
    }[age])
    s = leaf.scenario
    if s == "Terminal Illness":
        w = {"Good": 0.0, "Chronic Disease": 0.0, "Serious Illness": 1.0}
    elif s in {"Chronic Illness Diagnosis", "Chronic Pain", "Sudden Disability", "Disability Adaptation"}:
        w = _scale(w, Good=0.0, Chronic_Disease=3.0, Serious_Illness=1.0)
    elif leaf.subcategory == "Physical":
        w = _scale(w, Good=0.5, Chronic_Disease=2.0, Serious_Illness=1.2)
    return _normalise(w)


def p_mental(leaf: Leaf, economic: str, health: str, education: str) -> Weights:
    w = {"None": 2.0, "Mild Depression": 1.0, "Severe Depression": 0.35, "Anxiety": 1.0, "Other": 0.25}
    w = _scale(w, **{
        "Stable": {"None": 1.5, "Severe Depression": 0.6},
        "Moderate": {},
        "Difficult": {"None": 0.7, "Mild Depression": 1.3, "Severe Depression": 1.5, "Anxiety": 1.3},
        "Severe Difficulty": {"None": 0.4, "Mild Depression": 1.4, "Severe Depression": 2.5, "Anxiety": 1.6},
    }[economic])
    if health != "Good":
        w = _scale(w, **{"None": 0.6}, Mild_Depression=1.4, Severe_Depression=1.8, Anxiety=1.3)
    if education in ("Master's", "PhD"):
        w = _scale(w, Anxiety=1.4)  # performance pressure in graduate settings
    if leaf.subcategory == "Mental":
        w = _scale(w, **{"None": 0.05}, Other=2.0)
        if leaf.scenario in {"Depression Episode", "Self-harm Urges"}:
            w = _scale(w, Mild_Depression=2.0, Severe_Depression=4.0)
        if leaf.scenario in {"Anxiety Attack", "Panic Attack", "Phobia Trigger"}:
            w = _scale(w, Anxiety=5.0)
    return _normalise(w)


def p_self_harm(mental: str, leaf: Leaf) -> Weights:
    # a self-harm history comes with a mental-health history in the bundled profiles
    yes = {"None": 0.0, "Mild Depression": 0.12, "Severe Depression": 0.55, "Anxiety": 0.3,
           "Other": 0.2}[mental]
    if leaf.scenario == "Self-harm Urges":
        yes = max(yes, 0.75)
    return {"Yes": yes, "None": 1.0 - yes}


def p_emotion(leaf: Leaf, mental: str, education: str) -> Weights:
    w = {"Despair": 0.8, "Anxiety": 1.4, "Loneliness": 0.8, "Depression": 0.6, "Anger": 0.8,
         "Happiness": 0.15, "Calmness": 0.3, "Satisfaction": 0.1, "Excitement": 0.15,
         "Indifferent": 0.3, "Other": 0.15}
    w = _scale(w, **{
        "None": {"Depression": 0.2, "Despair": 0.5},
        "Mild Depression": {"Depression": 2.0, "Loneliness": 1.5},
        "Severe Depression": {"Despair": 6.0, "Depression": 4.0, "Indifferent": 2.0, "Calmness": 0.3},
        "Anxiety": {"Anxiety": 4.0},
        "Other": {},
    }[mental])
    if education in ("High School",):
        w = _scale(w, Anger=1.2)
    if leaf.scenario not in POSITIVE_LEAVES:
        for e in POSITIVE_EMOTIONS:
            w[e] = 0.0  # paper: positive emotions only in positive scenarios
    if leaf.domain == "Relationship":
        w = _scale(w, Loneliness=1.8, Anger=1.4)
    return _normalise(w)


LEAF_COHERENCE = 2.0
"""The situational tables (age, education, marital status, profession, economic and health
status) are raised to this power before drawing. They already depend on the leaf; sharpening
them makes a leaf's askers resemble each other (a leaf has typical askers) more than askers of
different leaves do, which ``penguin data audit`` measures. The psychological tables (mental
health, self-harm, emotion) are left as they are: their spread is what the benchmark probes."""


def _draw(rng: random.Random, w: Weights, sharpen: float = 1.0) -> str:
    values = list(w)
    return rng.choices(values, weights=[w[v] ** sharpen for v in values], k=1)[0]


def _ancestral(leaf: Leaf, rng: random.Random) -> Profile:
    k = LEAF_COHERENCE
    age = _draw(rng, p_age(leaf), k)
    gender = _draw(rng, p_gender(leaf))
    education = _draw(rng, p_education(leaf, age), k)
    marital = _draw(rng, p_marital(leaf, gender, age), k)
    profession = _draw(rng, p_profession(leaf, age, education), k)
    economic = _draw(rng, p_economic(leaf, profession, marital), k)
    health = _draw(rng, p_health(leaf, age), k)
    mental = _draw(rng, p_mental(leaf, economic, health, education))
    self_harm = _draw(rng, p_self_harm(mental, leaf))
    emotion = _draw(rng, p_emotion(leaf, mental, education))
    return Profile.from_values({
        A.AGE: age, A.GENDER: gender, A.MARITAL: marital, A.PROFESSION: profession,
        A.ECONOMIC: economic, A.HEALTH: health, A.EDUCATION: education, A.MENTAL: mental,
        A.SELF_HARM: self_harm, A.EMOTION: emotion,
    })


def sample_profile(leaf: Leaf, rng: random.Random, requires: list[str] = ()) -> Profile:  # type: ignore[assignment]
    """Draw one profile for a leaf scenario by ancestral sampling of the network, conditioned on
    the assumption tags ``requires`` (a leaf's asker tags) by rejection: the network's own
    distribution restricted to the askers the leaf can have."""
    from .assumptions import unmet

    for _ in range(5000):
        profile = _ancestral(leaf, rng)
        if not unmet(profile, list(requires)):
            return profile
    raise ValueError(f"no profile of '{leaf.scenario}' satisfies {list(requires)} in 5000 draws")


def violations(profile: Profile, leaf: Leaf | None = None) -> list[str]:
    """Hard-constraint violations (value outside its set, or an impossible combination).

    Values are compared by category, so ``Despair - lost everything`` counts as Despair.
    """
    problems: list[str] = []
    for attr, allowed in VALUE_SETS.items():
        value = profile.category(attr)
        if value is not None and value not in allowed:
            problems.append(f"{attr.value}: {value!r} is not one of {', '.join(allowed)}")
    c = profile.category
    if c(A.AGE) == "18-24" and c(A.EDUCATION) == "PhD":
        problems.append("Education Level: PhD is impossible at age 18-24")
    if c(A.PROFESSION) in HIGH_INCOME_PROFESSIONS and c(A.ECONOMIC) == "Severe Difficulty":
        problems.append(f"Economic Status: Severe Difficulty is implausible for a {c(A.PROFESSION)}")
    if c(A.EDUCATION) == "High School" and c(A.PROFESSION) in {"Researcher", "Legal Practitioner"}:
        problems.append(f"Profession: a {c(A.PROFESSION)} needs more than High School")
    if leaf is not None:
        if c(A.EMOTION) in POSITIVE_EMOTIONS and leaf.scenario not in POSITIVE_LEAVES:
            problems.append(f"Emotional State: {c(A.EMOTION)} does not fit the crisis '{leaf.scenario}'")
        if leaf.scenario in RETIREMENT and c(A.AGE) in {"18-24", "25-34", "35-44"}:
            problems.append(f"Age: {c(A.AGE)} is too young for '{leaf.scenario}'")
        if leaf.scenario == "Terminal Illness" and c(A.HEALTH) not in (None, "Serious Illness"):
            problems.append("Health Status: 'Terminal Illness' requires Serious Illness")
        if leaf.scenario in UNMARRIED and c(A.MARITAL) == "Married":
            problems.append(f"Marital Status: Married contradicts '{leaf.scenario}'")
        if leaf.scenario == "Partner's Sudden Death" and c(A.MARITAL) == "Married":
            problems.append("Marital Status: after a partner's death the user is no longer Married")
    return problems
