"""The data pipelines: PII scrubbing, attribute cues, and both LLM pipelines run for real
with the embedded model (slow)."""

import json
from pathlib import Path

import pytest

from penguin.dataset.extract import attribute_cues, extract, read_posts, scrub_pii
from penguin.dataset.generate import generate
from penguin.dataset.sources import load_scenarios
from penguin.errors import DataError
from penguin.models import load_model
from penguin.taxonomy import find_leaf

POSTS = Path(__file__).parents[1] / "src/penguin/data/example_posts.jsonl"


def test_scrub_removes_contact_details_and_names():
    text = ("Email me at jordan.k@example.com or call (555) 014-2231 / 555-0199. My story: https://example.org/mystory "
            "and www.example.net/x. Follow @sunny_days_88 or u/throwaway_99. My boyfriend Marcus said my name is "
            "wrong; call me Priya. Marcus is 31.")
    clean, found = scrub_pii(text)
    for secret in ("jordan.k", "014-2231", "0199", "example.org", "example.net", "sunny_days", "throwaway_99",
                   "Marcus", "Priya"):
        assert secret not in clean
    assert found == {"[EMAIL]": 1, "[PHONE]": 2, "[URL]": 2, "[HANDLE]": 2, "[NAME]": 3}
    assert "31" in clean  # ages are not contact details


def test_scrub_leaves_ordinary_text_alone():
    text = "I'm 24 and I work 40 hours a week. My Mom and I argue. It costs $1,200 a month."
    assert scrub_pii(text) == (text, {})


def test_attribute_cues_separate_rich_from_sparse_posts():
    for _, post in read_posts(POSTS):
        n = sum(attribute_cues(f"{post.title}\n{post.body}").values())
        expected = json.loads(next(line for line in POSTS.read_text().splitlines() if post.id in line))["expected_rich"]
        assert (n >= 6) == expected, post.id


def test_example_posts_and_bad_post_files(tmp_path):
    assert len(read_posts(POSTS)) == 14
    bad = tmp_path / "posts.jsonl"
    bad.write_text('{"id": "1", "title": "x"}\n')
    with pytest.raises(DataError, match=r"posts.jsonl:1: field 'body': Field required"):
        read_posts(bad)


@pytest.mark.slow
async def test_extraction_pipeline_runs_with_the_embedded_model():
    model = load_model("local:smollm2")
    try:
        posts = read_posts(POSTS)
        kept, report = await extract(model, posts, min_attributes=7, presence_mode="both")
    finally:
        await model.aclose()
    assert report.posts == 14 and report.kept == len(kept)
    assert sum(report.rejected.values()) + report.kept == 14
    sparse = {p.id for _, p in posts if not json.loads(
        next(line for line in POSTS.read_text().splitlines() if p.id in line))["expected_rich"]}
    assert not any(s.id.removeprefix("real-") in sparse for s in kept)  # too few attributes: rejected
    assert report.rejected["fewer than 7 attributes"] >= len(sparse)
    assert report.pii["[EMAIL]"] >= 3 and report.pii["[PHONE]"] >= 2
    for s in kept:
        assert s.source == "real" and s.subreddit and find_leaf(s.scenario).domain == s.domain
        assert len(s.profile.known()) >= 7 and s.query and s.background is not None
        assert "@example" not in s.query + s.background


@pytest.mark.slow
async def test_generation_pipeline_runs_and_resumes(tmp_path):
    from penguin.taxonomy import leaves

    model = load_model("local:smollm2")
    out = tmp_path / "gen.jsonl"
    chosen = [(n, leaf) for n, leaf in enumerate(leaves()) if leaf.scenario in ("Exam Failure", "Medical Debt")]
    try:
        stats = await generate(model, chosen, out, profiles_per_leaf=1, queries_per_profile=3, seed=1)
        again = await generate(model, chosen, out, profiles_per_leaf=1, queries_per_profile=3, seed=1)
    finally:
        await model.aclose()
    assert stats.units == 2 and stats.profile_failures + stats.query_failures < 2
    items = list(load_scenarios(out))
    assert len(items) == stats.scenarios > 0
    for s in items:
        assert s.source == "synthetic" and s.scenario in ("Exam Failure", "Medical Debt")
        assert len(s.profile.known()) == 10
    assert len({s.query.lower() for s in items}) == len(items)
    assert not (tmp_path / "gen.jsonl.part").exists()
    # the second call found the finished file: it redid nothing and kept everything
    assert (again.skipped_done, again.scenarios) == (2, 0)
    assert list(load_scenarios(out)) == items
