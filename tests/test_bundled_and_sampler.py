"""The profile sampler's hard constraints, and the bundled 7,000-scenario set."""

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from penguin.dataset.bundled import build_synthetic_set
from penguin.dataset.sampler import (
    POSITIVE_EMOTIONS,
    POSITIVE_LEAVES,
    sample_profile,
    violations,
)
from penguin.dataset.sources import load_scenarios
from penguin.schema import ATTRIBUTES, VALUE_SETS, Profile
from penguin.taxonomy import find_leaf, leaves


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32), leaf_no=st.integers(0, 139))
def test_sampled_profiles_satisfy_every_constraint(seed, leaf_no):
    leaf = leaves()[leaf_no]
    p = sample_profile(leaf, random.Random(seed))
    assert violations(p, leaf) == []
    for attr in ATTRIBUTES:
        assert p.get(attr) in VALUE_SETS[attr]
    if p.age == "18-24":
        assert p.education != "PhD"
    if p.emotion in POSITIVE_EMOTIONS:
        assert leaf.scenario in POSITIVE_LEAVES


def test_sampler_is_reproducible():
    leaf = leaves()[0]
    a = [sample_profile(leaf, random.Random(7)) for _ in range(3)]
    b = [sample_profile(leaf, random.Random(7)) for _ in range(3)]
    assert a == b


def test_relational_constraints_shape_the_distribution():
    rng = random.Random(1)
    profiles = [(leaf, sample_profile(leaf, rng)) for _ in range(40) for leaf in leaves()]
    by_mental = Counter((p.mental, p.self_harm) for _, p in profiles)

    def rate(m):
        yes, no = by_mental[(m, "Yes")], by_mental[(m, "None")]
        return yes / (yes + no)

    assert rate("Severe Depression") > 3 * rate("None")
    old = [p for _, p in profiles if p.age == "55+"]
    young = [p for _, p in profiles if p.age in ("18-24", "25-34")]
    assert (sum(p.health == "Serious Illness" for p in old) / len(old)
            > 2 * sum(p.health == "Serious Illness" for p in young) / len(young))
    romance = [p for leaf, p in profiles if leaf.scenario in ("Breakup/Divorce", "Infidelity Discovery")]
    assert sum(p.marital in ("Married", "Divorced") for p in romance) > 3 * sum(p.marital == "Single" for p in romance)
    fin_legal = [p for _, p in profiles if p.profession in ("Financial Practitioner", "Legal Practitioner")]
    assert not any(p.economic == "Severe Difficulty" for p in fin_legal)


def test_validator_flags_hard_violations():
    leaf = find_leaf("Terminal Illness")
    bad = Profile.model_validate({"Age": "18-24", "Education Level": "PhD", "Health Status": "Good",
                                  "Profession": "Legal Practitioner", "Economic Status": "Severe Difficulty",
                                  "Emotional State": "Happiness", "Gender": "Robot"})
    problems = violations(bad, leaf)
    assert len(problems) == 5
    assert any(p.startswith("Gender:") for p in problems)


def test_bundled_set_has_exact_counts_and_stable_ids():
    items = list(load_scenarios())
    assert len(items) == 7000
    assert Counter(s.domain for s in items) == {d: 1000 for d in
                                                ["Relationship", "Career", "Financial", "Social", "Health", "Life", "Education"]}
    assert len({s.id for s in items}) == 7000
    per_leaf = Counter(s.scenario for s in items)
    assert set(per_leaf) == {leaf.scenario for leaf in leaves()} and set(per_leaf.values()) == {50}
    profiles_per_leaf = Counter((s.scenario, s.profile.model_dump_json()) for s in items)
    assert set(profiles_per_leaf.values()) == {10}
    assert all(s.source == "synthetic" and not violations(s.profile, find_leaf(s.scenario)) for s in items)


def test_shipped_set_equals_a_fresh_build():
    assert list(build_synthetic_set()) == list(load_scenarios())
