"""The MCTS planner on synthetic rewards with known optima."""

import itertools

import pytest

from penguin.planner.mcts import MCTS, SearchConfig, epsilon, rank_prior
from penguin.planner.synthetic import SyntheticProblem
from penguin.schema import ATTRIBUTES, Attribute

A = Attribute


def test_optimum_is_the_true_best():
    p = SyntheticProblem(seed=3)
    best = max((frozenset(c) for c in itertools.combinations(ATTRIBUTES, 3)), key=p.value)
    assert best == p.optimum


@pytest.mark.parametrize("seed", range(5))
async def test_guided_search_finds_the_known_best_subset(seed):
    p = SyntheticProblem(seed=seed, prior_noise=0.05)  # an informative prior
    res = await MCTS(p.reward, p.prior, SearchConfig(iterations=200, depth=3, seed=seed)).run()
    assert frozenset(res.path) == p.optimum
    assert res.reward == pytest.approx(p.value(p.optimum), abs=0.3)
    assert len(res.q_values) == 3


async def test_the_transposition_table_never_scores_a_set_twice():
    p = SyntheticProblem(seed=1)
    res = await MCTS(p.reward, p.prior, SearchConfig(iterations=300, depth=3, batch=8, seed=1)).run()
    assert len(p.evaluations) == len(set(p.evaluations)) == res.reward_evaluations
    assert res.reward_evaluations <= 120  # at most every 3-subset once, however many iterations


async def test_same_seed_same_result_and_different_seed_may_differ():
    async def run(seed):
        p = SyntheticProblem(seed=7)
        r = await MCTS(p.reward, p.prior, SearchConfig(iterations=60, depth=3, batch=4, seed=seed)).run()
        return r.path, r.q_values, p.evaluations

    assert await run(5) == await run(5)


async def test_vanilla_uct_runs_without_a_prior():
    p = SyntheticProblem(seed=2)
    res = await MCTS(p.reward, None, SearchConfig(iterations=200, depth=3, guided=False, seed=0)).run()
    assert res.prior_calls == 0 and len(res.path) == 3


async def test_unscorable_leaves_are_avoided_not_revisited():
    async def reward(s):
        return None if A.AGE in s else 3.0 + len(s & {A.MENTAL, A.EMOTION})

    res = await MCTS(reward, None, SearchConfig(iterations=80, depth=2, guided=False)).run()
    assert A.AGE not in res.path and frozenset(res.path) == {A.MENTAL, A.EMOTION}
    assert res.unscorable >= 1 and res.reward == 5.0


async def test_a_prior_that_puts_unscorable_sets_first_does_not_stall_the_search():
    async def reward(s):
        return None if {A.AGE, A.GENDER} <= s else 2.0 + (A.EMOTION in s)

    async def in_list_order(state):
        return rank_prior(list(ATTRIBUTES), [a for a in ATTRIBUTES if a not in state])

    m = MCTS(reward, in_list_order, SearchConfig(iterations=100, depth=3, seed=0))
    res = await m.run()
    assert m.N[frozenset()] == 100  # every iteration counted
    assert res.reward_evaluations > 10 and res.reward == 2.0 and not {A.AGE, A.GENDER} <= set(res.path)


async def test_vanilla_uct_rolls_out_at_random():
    p = SyntheticProblem(seed=2)
    m = MCTS(p.reward, None, SearchConfig(iterations=60, depth=3, guided=False, seed=0))
    await m.run()
    judged = [leaf for leaf in m.rewards]
    assert sum(A.AGE in leaf for leaf in judged) < 0.8 * len(judged)  # not the first attribute every time


async def _needle(s):
    """Depth 2: {AGE, GENDER} is the best pair, but AGE's other pairs are poor, so Q(AGE) is low
    and greedy highest-Q extraction heads for MENTAL, whose pairs are all decent."""
    if s == {A.AGE, A.GENDER}:
        return 5.0
    return 1.0 if A.AGE in s else 3.0 + (A.MENTAL in s)


async def test_best_leaf_extraction_returns_the_best_judged_leaf_where_greedy_q_misses_it():
    greedy = await MCTS(_needle, None, SearchConfig(iterations=80, depth=2, guided=False, extract="q")).run()
    assert A.MENTAL in greedy.path  # the paper's rule is misled by the subtree averages
    m = MCTS(_needle, None, SearchConfig(iterations=80, depth=2, guided=False))  # best_leaf, the default
    res = await m.run()
    assert frozenset(res.path) == {A.AGE, A.GENDER} and res.reward == 5.0 == res.best_seen[1]
    # q_values are still the Q of each prefix on the reward's scale; the leaf's Q is its reward
    assert res.q_values == pytest.approx([1 + 4 * m.q(frozenset(res.path[:i + 1])) for i in range(2)])
    assert res.q_values[-1] == pytest.approx(5.0)


async def test_best_leaf_ties_go_to_the_safer_prefixes_and_the_path_follows_q():
    async def reward(s):  # two pairs score 5; pairs with MENTAL do better than pairs with AGE
        if s in ({A.AGE, A.GENDER}, {A.MENTAL, A.EMOTION}):
            return 5.0
        return 4.0 if A.MENTAL in s else 3.0 if A.EMOTION in s else 1.0

    res = await MCTS(reward, None, SearchConfig(iterations=200, depth=2, guided=False)).run()
    assert res.path == [A.MENTAL, A.EMOTION]


def test_unknown_extraction_rule_is_rejected_before_searching():
    with pytest.raises(ValueError, match="extraction"):
        MCTS(_needle, None, SearchConfig(depth=2, extract="best"))


def test_rank_prior_has_full_support_and_follows_the_ranking():
    remaining = list(ATTRIBUTES[:5])
    p = rank_prior([remaining[2], remaining[0]], remaining)
    assert sum(p.values()) == pytest.approx(1.0)
    assert all(v > 0 for v in p.values())
    assert p[remaining[2]] > p[remaining[0]] > p[remaining[1]] == p[remaining[4]]


def test_epsilon_decays_with_depth():
    assert epsilon(0, 5, 0.2) > epsilon(2, 5, 0.2) > epsilon(5, 5, 0.2) > 0


async def test_synthetic_prior_shape_is_configurable():
    sharp = await SyntheticProblem(seed=4, prior_temperature=1.0, prior_floor=0.02).prior(frozenset())
    flat = await SyntheticProblem(seed=4, prior_temperature=3.0, prior_floor=0.2).prior(frozenset())
    assert sorted(sharp, key=sharp.get) == sorted(flat, key=flat.get)  # same ranking
    assert min(flat.values()) > min(sharp.values()) and max(flat.values()) < max(sharp.values())
