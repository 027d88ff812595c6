"""The router's build-side rules that need no model: calibration steps, held-out sets kept out
of training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from penguin.agent import router_training as rt
from penguin.errors import DataError
from penguin.files import read_rows


def test_a_threshold_added_on_top_never_starts_below_its_floor():
    ordinary = np.ones(200, dtype=bool)
    quiet = ordinary.copy()
    scores = np.zeros(200)
    # nothing scores high: the lowest allowed step is taken, and it is at or above the floor
    assert rt._adding_at_most(ordinary, quiet, scores, 0.5549) == 0.56
    assert rt._adding_at_most(ordinary, quiet, scores, 0.56) == 0.56


def test_the_independent_sets_are_never_trained_on():
    trained = {t.strip().lower() for it in rt.load_items() for t in it.texts}
    for name, field in (("risky", "query"), ("benign", "query"), ("router_probe", "text"),
                        ("router_boundary", "text")):
        texts = {r[field].strip().lower() for _, r in read_rows(rt.eval_dir() / f"{name}.jsonl")}
        assert texts and not texts & trained, name


def test_the_boundary_set_is_both_sides_of_the_line_and_refuses_other_labels(tmp_path, monkeypatch):
    items = rt.boundary_items()
    assert {it.label for it in items} == {"agent", "direct"} and min(
        sum(it.label == label for it in items) for label in ("agent", "direct")) > 500
    assert {(it.label, it.kind.split("/")[0]) for it in items} == {
        (label, group) for label in ("agent", "direct") for group in ("lookalike", "everyday")}
    (tmp_path / "router_boundary.jsonl").write_text(
        '{"text": "a rose for a picnic", "label": "agent", "group": "lookalike", "kind": "alcohol"}\n'
        '{"text": "blackjack odds", "label": "crisis", "group": "lookalike", "kind": "word_problem"}\n', "utf-8")
    monkeypatch.setattr(rt, "eval_dir", lambda: tmp_path)
    with pytest.raises(DataError, match=r"router_boundary.jsonl:2.*'label'"):
        rt.boundary_items()
    (tmp_path / "router_boundary.jsonl").write_text('{"label": "direct", "group": "everyday", "kind": "x"}\n', "utf-8")
    with pytest.raises(DataError, match=r"router_boundary.jsonl:1.*'text'"):
        rt.boundary_items()


def test_the_card_page_is_the_shipped_card_with_intervals():
    """docs/router.md is what card_markdown makes of the shipped artefact, and each rate carries
    the Wilson interval of the count behind it (a small n shows as a wide interval)."""
    artefact = json.loads((rt.data_dir() / rt.ARTEFACT).read_text("utf-8"))
    page = rt.card_markdown(artefact)
    assert (Path(__file__).resolve().parents[1] / "docs" / "router.md").read_text("utf-8") == page
    risky = artefact["card"]["test"]["risky_to_agent"]
    row = next(line for line in page.splitlines() if line.startswith("| risky personal requests sent to the agent"))
    low, high = (float(x.strip(" %")) for x in row.split("|")[3].split(" to "))
    assert low < risky["rate"] * 100 < high and row.endswith(f"| {risky['n']} |")
    assert risky["rate"] == round(risky["count"] / risky["n"], 4)
