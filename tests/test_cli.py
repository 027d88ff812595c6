"""The command line: --help everywhere, and bad input gives one clear line, no traceback."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PENGUIN = [str(Path(sys.executable).parent / "penguin")]


def run(*args, env=None, input=None):
    e = dict(os.environ)
    e.pop("OPENAI_API_KEY", None)
    e.pop("OPENAI_BASE_URL", None)
    e.update(env or {})
    return subprocess.run([*PENGUIN, *args], capture_output=True, text=True, env=e, input=input, timeout=120)


def every_command() -> list[list[str]]:
    """Every command and group of the CLI, walked from the click tree."""
    import typer

    from penguin.cli import app

    out: list[list[str]] = []

    def walk(cmd, path: list[str]) -> None:  # noqa: ANN001 - typer's own click-like commands
        out.append(path)
        if getattr(cmd, "commands", None):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return out


def test_version_and_help_on_every_command():
    assert run("--version").stdout.startswith("penguin ")
    commands = every_command()
    assert ["raise", "gate"] in commands and ["data", "audit"] in commands and len(commands) > 30
    for cmd in commands:
        res = run(*cmd, "--help", env={"COLUMNS": "80"})
        assert res.returncode == 0 and "Usage" in res.stdout, cmd
        options = [line.strip() for line in res.stdout.splitlines() if line.lstrip().startswith("-")]
        for line in options:  # the option names are the text before the help column
            names = line.split("  ")[0]
            assert "…" not in names and "..." not in names, (cmd, line)
        assert max(len(line) for line in res.stdout.splitlines()) <= 80, cmd


@pytest.mark.parametrize("spec,message", [
    ("mystery:model", "unknown backend 'mystery'"),
    ("smollm2", "malformed model spec 'smollm2'"),
    ("local:", "nothing after 'local:'"),
    ("local:/nowhere/model.gguf", "no GGUF file at /nowhere/model.gguf"),
    ("openai:gpt-4o", "no API key; set OPENAI_API_KEY"),
    ("openai:gpt-4o?colour=blue", "unknown option 'colour' for openai"),
    ("openai:gpt-4o?concurrency=many", "concurrency='many'"),
    ("azure:dep", "AZURE_OPENAI_ENDPOINT"),
])
def test_bad_model_specs_fail_with_one_clear_line(spec, message):
    res = run("models", "check", spec)
    assert res.returncode == 2
    assert message in res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert len(res.stderr.strip().splitlines()) <= 2  # one message, possibly wrapped


def test_not_a_gguf(tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"not a model")
    res = run("models", "check", f"local:{fake}")
    assert res.returncode == 2 and "not a GGUF file" in res.stderr and "Traceback" not in res.stderr


def test_validate_exit_codes_and_messages(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n{broken\n')
    res = run("data", "validate", str(bad))
    assert res.returncode == 1
    assert "bad.jsonl:1: field 'domain'" in res.stderr and "bad.jsonl:2: malformed JSON" in res.stderr
    good = tmp_path / "good.jsonl"
    assert run("data", "export", str(good), "--format", "jsonl").returncode == 0
    res = run("data", "validate", str(good))
    assert res.returncode == 0 and "7000 valid scenarios" in res.stdout


def test_eval_rejects_bad_options_before_doing_work(tmp_path):
    res = run("eval", "--variants", "free,telepathy", "--out", str(tmp_path))
    assert res.returncode == 2 and "unknown attribute 'telepathy'" in res.stderr
    res = run("eval", "--domains", "Cooking", "--out", str(tmp_path))
    assert res.returncode == 2 and "unknown domain(s) Cooking" in res.stderr
    res = run("eval", "--dataset", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path))
    assert res.returncode == 2 and "no such file" in res.stderr
    res = run("eval", "--resume", str(tmp_path))
    assert res.returncode == 2 and "not a run folder" in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_stats_json():
    res = run("data", "stats", "--json")
    assert res.returncode == 0
    assert json.loads(res.stdout)["total"] == 7000


@pytest.mark.parametrize("args,message", [
    (["eval", "--concurrency", "0"], "Invalid value for '--concurrency'"),
    (["judge-check", "--repeats", "0"], "Invalid value for '--repeats'"),
    (["eval", "--judge-max-tokens", "0"], "--judge-max-tokens"),
    (["analyze", "attributes", "--max-tokens", "0"], "--max-tokens"),
    (["eval", "--retry-errors"], "--retry-errors needs --resume"),
    (["eval", "--sample", "3", "--per-domain", "2"], "not both"),
    (["eval", "--judge", "local:smollm2", "--judge", "local:smollm2"], "the same judge is given twice"),
    (["analyze", "subsets", "--k", "12"], "--k must be between 1 and 10"),
    (["analyze", "subsets", "--strategies", "oracle,psychic"], "unknown strategy psychic"),
    (["models", "check", "openai:m?base_url=http://127.0.0.1:9&concurrency=0"], "must be positive"),
    (["data", "export", "/proc/no/such/dir/out.jsonl"], "error:"),
])
def test_bad_options_fail_with_one_clear_line(tmp_path, args, message):
    res = run(*args, *(["--out", str(tmp_path)] if args[0] in ("eval", "analyze") else []))
    assert res.returncode == 2, res.stdout + res.stderr
    assert message in res.stderr + res.stdout
    assert "Traceback" not in res.stderr + res.stdout
    assert not any(tmp_path.iterdir())


def test_data_import_of_the_reference_format(tmp_path):
    from .test_schema import FULL

    ref = tmp_path / "ref.json"
    ref.write_text(json.dumps([{"Scenario": "Medical Debt", "User_Profile": FULL, "Queries": ["One?", "Two?"]}]))
    out = tmp_path / "out.jsonl"
    res = run("data", "import", str(ref), str(out))
    assert res.returncode == 0, res.stderr
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["query"] for r in rows] == ["One?", "Two?"]
    assert {r["domain"] for r in rows} == {"Financial"} and {r["source"] for r in rows} == {"synthetic"}


def test_data_show(tmp_path):
    res = run("data", "show", "-n", "2", "--seed", "1")
    assert res.returncode == 0 and res.stdout.count("Query (what the model sees context-free)") == 2


def test_error_lines_print_brackets_as_text(tmp_path):
    """An install line's ``[local]`` or a path with brackets is text, not rich markup to swallow."""
    missing = str(tmp_path / "no[local]such.jsonl")
    for args in (["eval", "--dataset", missing, "--limit", "1"], ["data", "validate", missing]):
        r = run(*args)
        assert r.returncode != 0 and "no[local]such.jsonl" in r.stderr, r.stderr


def test_outside_text_with_brackets_prints_as_written(tmp_path):
    """A user's file, a remote model's answer and an output folder may hold ``[/]``, ``[1]`` or
    ``[local]``: printed as written, never read as rich markup (which drops it or crashes)."""
    from penguin.dataset.sources import load_scenarios

    from .scripted_server import ScriptedServer

    s = next(iter(load_scenarios(None))).model_copy(update={"query": "Is [/] ok? see [local] and [1]"})
    data = tmp_path / "mine.jsonl"
    data.write_text(s.model_dump_json() + "\n")
    shown = run("data", "show", str(data), "-n", "1")
    assert shown.returncode == 0 and "Is [/] ok? see [local] and [1]" in shown.stdout, shown.stdout + shown.stderr
    with ScriptedServer() as srv:
        srv.responder = lambda body: "closing [/bold] and a citation [2]"
        checked = run("models", "check", f"openai:m?base_url={srv.url}&max_attempts=1")
    assert checked.returncode == 0 and "closing [/bold] and a citation [2]" in checked.stdout, checked.stderr
    out = tmp_path / "runs[1]"
    ok = run("data", "validate", str(data))
    assert ok.returncode == 0 and str(data) in ok.stdout.replace("\n", "")
    converted = run("data", "import", str(data), str(out / "copy.jsonl"))
    assert converted.returncode == 0 and "runs[1]" in converted.stdout.replace("\n", ""), converted.stderr
