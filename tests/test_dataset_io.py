"""Reading, writing, importing and validating scenario files; bad input names file, line, field."""

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from penguin.dataset.check import stats, validate
from penguin.dataset.importers import parse_mapping, read_foreign
from penguin.dataset.io import write_scenarios
from penguin.dataset.sources import load_scenarios
from penguin.errors import DataError
from penguin.files import read_records
from penguin.schema import Scenario

from .test_schema import FULL


def sample(n=20):
    out = []
    for i, s in enumerate(load_scenarios()):
        if i % 350 == 0:
            out.append(s)
        if len(out) == n:
            break
    return out


@pytest.mark.parametrize("name", ["x.jsonl", "x.jsonl.gz", "x.csv", "x.parquet"])
def test_round_trip_is_lossless(tmp_path, name):
    items = sample()
    # a real-style record with background and subreddit, and a sparse profile
    items.append(Scenario(id="real-1", domain="Career", subcategory="Employment", scenario="Sudden Job Loss",
                          source="real", profile={"Age": "35-44", "Mental Health Status": "Anxiety"},
                          query="What now?", background="Laid off, anxious, two kids.", subreddit="jobs"))
    path = tmp_path / name
    assert write_scenarios(path, items) == len(items)
    assert list(load_scenarios(path)) == items


def test_reference_format_round_trip(tmp_path):
    items = sample(10)
    path = tmp_path / "queries.json"
    write_scenarios(path, items, "reference")
    data = json.loads(path.read_text())
    assert {"Scenario", "User_Profile", "Queries"} <= set(data[0])
    back = list(load_scenarios(path))
    assert [(s.scenario, s.profile, s.query) for s in back] == [(s.scenario, s.profile, s.query) for s in items]


def test_reference_code_generator_output_imports(tmp_path):
    ref = [{"Scenario": "Investment Loss", "User_Profile": {"Scenario": "Investment Loss", **FULL},
            "Queries": ["Should I sell everything now?", "Is it normal to feel this numb about money?"]}]
    path = tmp_path / "ref.json"
    path.write_text(json.dumps(ref))
    got = list(load_scenarios(path))
    assert [s.domain for s in got] == ["Financial", "Financial"]
    assert got[0].subcategory == "Investment" and got[0].profile.dump() == FULL


def test_tolerant_loader_maps_hf_like_fields(tmp_path):
    rows = [
        {"Query": "How do I stop overthinking at night?", "Background": "Grad student, anxious.", "Subreddit": "gradschool",
         "Age": "25-34", "Mental Health": "Anxiety", "Emotional State": "Anxiety", "score": 3},
        {"user_text": "Is it worth finishing?", "scenario": "Thesis/Dissertation Crisis", "gender": "Female"},
    ]
    path = tmp_path / "hf.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    got = list(read_foreign(path, parse_mapping(["user_text=query"]), source="real"))
    assert got[0].domain == "Education" and got[0].source == "real" and got[0].subreddit == "gradschool"
    assert got[0].profile.dump() == {"Age": "25-34", "Mental Health Status": "Anxiety", "Emotional State": "Anxiety"}
    assert got[1].scenario == "Thesis/Dissertation Crisis" and got[1].subcategory == "Performance"


def test_tolerant_loader_says_what_it_cannot_map(tmp_path):
    path = tmp_path / "hf.jsonl"
    path.write_text(json.dumps({"text": "hello"}) + "\n")
    with pytest.raises(DataError, match=r"hf.jsonl:1: no query field.*--map"):
        list(read_foreign(path, {}, source="real"))
    path.write_text(json.dumps({"Query": "hello there"}) + "\n")
    with pytest.raises(DataError, match=r"hf.jsonl:1: cannot tell the domain"):
        list(read_foreign(path, {}, source="real"))


def good_line(**over):
    d = {"id": "a", "domain": "Health", "subcategory": "Mental", "scenario": "Panic Attack", "source": "synthetic",
         "profile": FULL, "query": "How do I breathe through it?"}
    d.update(over)
    return json.dumps(d)


@pytest.mark.parametrize("content,pattern", [
    (good_line() + "\n{not json\n", r"bad.jsonl:2: malformed JSON"),
    (good_line() + "\n" + good_line(domain="Cooking"), r"bad.jsonl:2: field 'domain'"),
    (good_line(profile={**FULL, "Shoe": "9"}), r"bad.jsonl:1: field 'profile.Shoe'"),
    (json.dumps({"id": "a"}), r"bad.jsonl:1: field 'domain': Field required"),
    ("[1, 2]", r"bad.jsonl:1: expected a JSON object"),
])
def test_bad_jsonl_names_file_line_and_field(tmp_path, content, pattern):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(DataError, match=pattern):
        list(load_scenarios(path))


def test_bad_encoding_and_empty_files(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(good_line().encode() + b"\n\xff\xfe{}\n")
    with pytest.raises(DataError, match=r"bad.jsonl:2: not valid UTF-8"):
        list(load_scenarios(path))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty file"):
        list(load_scenarios(empty))
    n, problems = validate(tmp_path / "nothing.jsonl")
    assert problems == [f"{tmp_path / 'nothing.jsonl'}: no such file"]


def test_validate_lists_every_problem(tmp_path):
    path = tmp_path / "mixed.jsonl"
    lines = [
        good_line(id="1"),
        "{oops",
        good_line(id="2", domain="Cooking"),
        good_line(id="1"),  # duplicate id
        good_line(id="3", profile={**FULL, "Age": "18-24", "Education Level": "PhD"}),
        good_line(id="4", scenario="Knitting Accident"),
        good_line(id="5", domain="Career"),  # leaf belongs to Health
    ]
    path.write_text("\n".join(lines) + "\n")
    n_ok, problems = validate(path)
    assert n_ok == 1
    joined = "\n".join(problems)
    for expected in ["mixed.jsonl:2: malformed JSON", "mixed.jsonl:3: field 'domain'", "mixed.jsonl:4: field 'id': duplicate",
                     "mixed.jsonl:5: field 'profile.Education Level'", "mixed.jsonl:6: field 'scenario'",
                     "mixed.jsonl:7: field 'domain': 'Career' but scenario"]:
        assert expected in joined
    assert len(problems) == 6


def test_write_is_atomic(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text("previous complete content\n")

    def broken():
        yield from sample(3)
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        write_scenarios(path, broken())
    assert path.read_text() == "previous complete content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_stats_of_bundled_set():
    st_ = stats(None)
    assert st_.total == 7000
    assert list(st_.per_source_domain) == ["synthetic"] and set(st_.per_source_domain["synthetic"].values()) == {1000}
    assert set(st_.leaves.values()) == {20} and set(st_.coverage.values()) == {1.0}
    assert st_.query_words["min"] >= 3 and st_.distinct_queries <= 1680


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".jsonl", ".jsonl.gz", ".csv", ".json"]))
def test_fuzzed_files_never_crash_the_loader(tmp_path, data, suffix):
    path = tmp_path / f"fuzz{suffix}"
    if suffix == ".jsonl.gz":
        data = gzip.compress(data) if data[:1] != b"!" else data  # also feed non-gzip bytes
    path.write_bytes(data)
    try:
        list(load_scenarios(path))
    except DataError:
        pass
    validate(path)  # never raises


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(record=st.dictionaries(st.sampled_from(["id", "domain", "query", "profile", "source", "scenario", "subcategory", "x"]),
                              st.one_of(st.none(), st.text(max_size=20), st.integers(), st.lists(st.integers(), max_size=2),
                                        st.dictionaries(st.text(max_size=12), st.text(max_size=8), max_size=3))))
def test_fuzzed_records_fail_cleanly(tmp_path, record):
    path = tmp_path / "rec.jsonl"
    path.write_text(json.dumps(record) + "\n")
    try:
        list(read_records(path, Scenario))
    except DataError as exc:
        assert "rec.jsonl:1:" in str(exc)


def test_bundled_file_is_in_package():
    from penguin.dataset.io import bundled_path

    assert bundled_path().is_file() and Path(bundled_path()).suffix == ".gz"
