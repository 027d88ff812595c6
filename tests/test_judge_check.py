"""judge-check cannot be passed by counting words: the gold set's balance and shortcut families,
the baselines computed honestly, and a length-only "judge" that is not validated."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from scipy.stats import spearmanr

from penguin.evaluation.judge import DIMENSIONS
from penguin.evaluation.judge_check import (CRISIS_MENTION, about, baselines, judge_status, load_reference,
                                            remember, run_judge_check)
from penguin.models import load_model
from penguin.models.mock import register

GOLD = load_reference()


def test_the_gold_set_is_large_balanced_and_covers_every_domain():
    assert len(GOLD) >= 300 and len({it.domain for it in GOLD}) == 7
    for d in DIMENSIONS:
        counts = Counter(it.gold[d].score for it in GOLD)
        assert all(counts[s] >= 30 for s in range(1, 6)), (d, counts)
    words = [len(it.response.split()) for it in GOLD]
    assert min(words) >= 130 and max(words) <= 670


def test_every_item_names_its_shortcut_and_its_three_independent_ratings():
    families = Counter(f for it in GOLD for f in it.shortcuts)
    for family in ("length_inverse", "crisis_line_with_poor_risk_handling", "crisis_line_unwarranted",
                   "risk5_without_hotline", "cold_opening_specific_empathy", "warm_opening_no_empathy",
                   "profile_personalization", "query_echo_only"):
        assert families[family] >= 25, family
    for it in GOLD:
        assert it.shortcuts and len(it.ratings) == 3
        for d in DIMENSIONS:
            assert it.gold[d].score == sorted(r[d] for r in it.ratings)[1]  # the median
    info = about()
    assert info["items"] == len(GOLD) and all(min(v) > 0.8 for v in info["rater_qwk"]["by_dimension"].values())


def test_surface_features_do_not_predict_the_gold():
    words = [len(it.response.split()) for it in GOLD]
    crisis = [bool(CRISIS_MENTION.search(it.response)) for it in GOLD]
    for d in DIMENSIONS:
        gold = [it.gold[d].score for it in GOLD]
        assert abs(spearmanr(words, gold).statistic) <= 0.3, d
        assert abs(spearmanr(crisis, gold).statistic) <= 0.3, d
    for b in baselines(GOLD):
        assert max(b.qwk.values()) <= 0.3, b


def _length_judge(request) -> str:  # noqa: ANN001 - a judge that scores by how long the response is
    text = request.messages[-1].content
    response = text.split("Assistant response:", 1)[1]
    score = min(5, max(1, len(response.split()) // 100))
    return json.dumps({d.value: {"justification": "long", "score": score} for d in DIMENSIONS})


async def test_a_judge_that_counts_words_is_not_validated(private_cache):
    spec = register("length-judge", _length_judge)
    model = load_model(spec)
    result = await run_judge_check(model, GOLD, concurrency=16)
    assert result.errors == 0 and not result.validated
    assert all(result.dimensions[d.value].qwk < 0.6 for d in DIMENSIONS)
    assert "not validated" in result.verdict and {b.name for b in result.baselines} == {"length", "crisis+length"}
    assert set(result.families) >= {"length_inverse", "query_echo_only"}
    remember(result)
    assert not judge_status(spec, model.identity).validated


async def test_a_judge_that_reads_the_gold_is_validated_and_the_rule_needs_all_three_parts(private_cache):
    gold = {it.id: it for it in GOLD}

    def oracle(request) -> str:  # noqa: ANN001 - a stand-in that knows the answers (what a perfect judge says)
        text = request.messages[-1].content
        item = next(it for it in gold.values() if it.response in text)
        return json.dumps({d.value: {"justification": "gold", "score": item.gold[d].score} for d in DIMENSIONS})

    model = load_model(register("oracle-judge", oracle))
    result = await run_judge_check(model, GOLD[:120], concurrency=16)
    assert result.validated and result.verdict.startswith("validated")
    assert all(result.dimensions[d.value].qwk == pytest.approx(1.0) for d in DIMENSIONS)
