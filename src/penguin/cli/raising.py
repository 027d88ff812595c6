"""`penguin raise eval|calibrate` and `penguin chat`: the RAISE agent, measured and in use."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from . import (
    BaseUrlOpt,
    JudgeOpt,
    ModelOpt,
    _analysis_config,
    _config,
    app,
    console,
    err_console,
    friendly,
)

raise_app = typer.Typer(help="Evaluate and calibrate the RAISE agent.", no_args_is_help=True)
app.add_typer(raise_app, name="raise")

AbstentionOpt = typer.Option("scale", help="Abstention module: scale (0-5, the paper's best), binary or basic.")
ThresholdOpt = typer.Option(4, min=0, max=6, help="Scale abstention: stop asking once completeness >= this.")
MaxQuestionsOpt = typer.Option(5, min=0, max=10, help="Most questions the agent may ask.")
LibraryOpt = typer.Option(None, help="Path library (library.jsonl from `penguin plan`); enables the planner variant.")


def _agent_config(abstention: str, threshold: int, max_questions: int, top_k: int = 5, **extra: object):  # noqa: ANN202
    from pydantic import ValidationError

    from ..agent.loop import AgentConfig
    from ..errors import ConfigError, describe_validation

    try:
        return AgentConfig(abstention=abstention, threshold=threshold, max_questions=max_questions, top_k=top_k,
                           **extra)
    except ValidationError as exc:
        raise ConfigError(describe_validation(exc)) from exc


def _library_file(library: Optional[Path]) -> Optional[str]:
    from ..errors import ConfigError

    if library is None:
        return None
    if library.is_dir():
        library = library / "library.jsonl"
    if not library.is_file():
        raise ConfigError(f"{library}: no path library here (run `penguin plan` first)")
    return str(library.resolve())


@raise_app.command("eval")
@friendly
def raise_eval_cmd(
    library: Optional[Path] = LibraryOpt,
    variants: str = typer.Option("vanilla,agent,planner", help="Comma-separated: vanilla, agent, planner."),
    budgets: Optional[str] = typer.Option(None, help="Question budgets for the safety-vs-questions curve, "
                                                     "e.g. 0,1,2,3 (planner variant)."),
    abstention: str = AbstentionOpt,
    threshold: int = ThresholdOpt,
    calibration: Optional[Path] = typer.Option(None, help="calibration.json from `raise calibrate`: use its "
                                                          "chosen threshold."),
    max_questions: int = MaxQuestionsOpt,
    top_k: int = typer.Option(5, help="Planned paths retrieved as examples."),
    user: str = typer.Option("plain", help="Simulated user's replies: plain or llm (phrased by the model)."),
    decline: float = typer.Option(0.0, min=0.0, max=1.0, help="Chance the simulated user declines a question."),
    model: str = ModelOpt,
    judge: List[str] = JudgeOpt,
    dataset: Optional[str] = typer.Option(None, help="Scenario file; default: the bundled set."),
    split: str = typer.Option("online", help="Query split: online (no query overlap with plan), dev, plan, all."),
    domains: Optional[str] = typer.Option(None, help="Comma-separated domains."),
    limit: Optional[int] = typer.Option(None, help="First N scenarios of the split."),
    per_domain: Optional[int] = typer.Option(None, help="N scenarios drawn per domain."),
    seed: int = typer.Option(0),
    max_tokens: int = typer.Option(512, help="Max tokens of each final answer."),
    judge_max_tokens: int = typer.Option(1024),
    base_url: Optional[str] = BaseUrlOpt,
    concurrency: int = typer.Option(4, min=1),
    out: Path = typer.Option(Path("runs"), help="Folder for run folders."),
    resume: Optional[Path] = typer.Option(None, help="Continue this RAISE run folder."),
    report: bool = typer.Option(True, help="Write report.html into the run folder."),
) -> None:
    """Vanilla vs +agent vs +planner, judged per domain, with questions asked (resumable)."""
    from pydantic import ValidationError

    from ..agent.evaluation import SETTINGS, RaiseEvaluation, RaiseSettings
    from ..errors import ConfigError, describe_validation
    from ..evaluation.engine import Runner
    from ..evaluation.folder import load_manifest, load_pinned, new_run_dir

    if resume is not None:
        config, run_dir = load_manifest(resume).config, resume
        settings = load_pinned(resume, SETTINGS, "raise", RaiseSettings)
    else:
        if calibration is not None:
            threshold = _calibrated_threshold(calibration, abstention, user, decline)
        lib = _library_file(library)
        chosen = [v.strip() for v in variants.split(",") if v.strip()]
        unknown = set(chosen) - {"vanilla", "agent", "planner"}
        if unknown:
            raise ConfigError(f"unknown variant(s) {', '.join(sorted(unknown))} (choose vanilla, agent, planner)")
        try:
            curve = [int(b) for b in budgets.split(",")] if budgets else []
        except ValueError as exc:
            raise ConfigError(f"--budgets must be integers like 0,1,2,3, not {budgets!r}") from exc
        if any(not 0 <= b <= 10 for b in curve):
            raise ConfigError("--budgets must be between 0 and 10")
        import hashlib

        if not chosen:
            raise ConfigError("--variants is empty (choose from vanilla, agent, planner)")
        try:
            settings = RaiseSettings(
                variants=chosen, budgets=curve, user_phrasing=user, decline=decline, library=lib,
                library_sha256=hashlib.sha256(Path(lib).read_bytes()).hexdigest() if lib else None,
                agent=_agent_config(abstention, threshold, max_questions, top_k))
        except ValidationError as exc:
            raise ConfigError(describe_validation(exc)) from exc
        config = _analysis_config(model, judge, dataset, domains, per_domain, None, seed, max_tokens,
                                  judge_max_tokens, base_url, concurrency, [], split=split, limit=limit)
        run_dir = new_run_dir(out, f"raise-{model}")
    console.print(f"run folder: [bold]{run_dir}[/]")
    summary = asyncio.run(RaiseEvaluation(Runner(run_dir, config, keep_verdicts=True, resume=resume is not None),
                                          settings).run())
    _print_raise(summary, config.model)
    if report:
        from ..report.build import render_report

        html_path, _ = render_report([run_dir], run_dir / "report.html")
        console.print(f"report: [bold]{html_path}[/]")


def _calibrated_threshold(path: Path, abstention: str, user: str, decline: float) -> int:
    """The threshold a calibration chose, if it was made for the same kind of dialogue."""
    from ..errors import ConfigError

    if abstention != "scale":
        raise ConfigError("--calibration sets the 0-5 scale's threshold; it does not apply to --abstention "
                          f"{abstention}")
    try:
        cal = json.loads(path.read_text())
        threshold = int(cal["chosen_threshold"])
        made_for = (cal["user_phrasing"], float(cal["decline"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a calibration from `penguin raise calibrate` ({exc})") from exc
    if made_for != (user, decline):
        raise ConfigError(f"{path} was calibrated with --user {made_for[0]} --decline {made_for[1]}; "
                          f"this evaluation uses --user {user} --decline {decline}")
    return threshold


def _print_raise(summary: dict, model: str) -> None:
    t = Table(title=f"RAISE · {model} · safety score (1-5) and questions asked")
    for col in ("variant", "safety", "questions", "withheld", "stop reasons", "fallbacks", "n"):
        t.add_column(col, justify="left" if col in ("variant", "stop reasons", "fallbacks") else "right")
    for name, v in summary["variants"].items():
        pss = v["pss"]
        t.add_row(name, f"{pss['mean']:.2f} [{pss['low']:.2f}, {pss['high']:.2f}]" if pss else "–",
                  f"{v['mean_questions']:.2f}", f"{v['mean_withheld']:.2f}",
                  ", ".join(f"{k} {n}" for k, n in v["stop_reasons"].items()) or "–",
                  ", ".join(f"{k} {n}" for k, n in v["fallbacks"].items()) or "none",
                  str(pss["n"] if pss else v["dialogues"]))
    console.print(t)


@raise_app.command("calibrate")
@friendly
def raise_calibrate_cmd(
    target_questions: float = typer.Option(2.7, help="Wanted mean number of questions (paper's 0-5 scale: 2.7)."),
    library: Optional[Path] = LibraryOpt,
    max_questions: int = MaxQuestionsOpt,
    user: str = typer.Option("plain", help="Simulated user's replies: plain or llm (as in the evaluation)."),
    decline: float = typer.Option(0.0, min=0.0, max=1.0, help="Chance the simulated user declines (as in the "
                                                               "evaluation)."),
    model: str = ModelOpt,
    dataset: Optional[str] = typer.Option(None),
    split: str = typer.Option("dev", help="Query split to calibrate on (dev: disjoint from plan and online)."),
    domains: Optional[str] = typer.Option(None),
    limit: Optional[int] = typer.Option(None),
    per_domain: Optional[int] = typer.Option(None),
    seed: int = typer.Option(0),
    base_url: Optional[str] = BaseUrlOpt,
    concurrency: int = typer.Option(4, min=1),
    out: Path = typer.Option(Path("calibration.json"), help="Where to write the calibration."),
) -> None:
    """Choose the abstention threshold that asks a target mean number of questions."""
    from ..agent.evaluation import calibrate, pick_threshold
    from ..errors import ConfigError

    config = _config(model=model, dataset=dataset, contexts=[], domains=domains,
                     split=None if split == "all" else split, limit=limit, per_domain=per_domain, seed=seed,
                     base_url=base_url, concurrency=concurrency)
    if user not in ("plain", "llm"):
        raise ConfigError(f"--user must be plain or llm, not {user!r}")
    result = asyncio.run(calibrate(config, _agent_config("scale", 4, max_questions), _library_file(library),
                                   max_questions=max_questions, user_phrasing=user, decline=decline))
    result["target_questions"] = target_questions
    result["chosen_threshold"] = pick_threshold(result, target_questions)
    out.write_text(json.dumps(result, indent=1))
    t = Table(title=f"Abstention threshold vs questions · {result['scenarios']} {split} scenarios")
    t.add_column("threshold", justify="right")
    t.add_column("mean questions", justify="right")
    for row in result["thresholds"]:
        mark = " ←" if row["threshold"] == result["chosen_threshold"] else ""
        t.add_row(str(row["threshold"]), f"{row['mean_questions']:.2f}{mark}")
    console.print(t)
    console.print(f"chosen threshold {result['chosen_threshold']} (target {target_questions} questions) → {out}")


@app.command("chat")
@friendly
def chat_cmd(
    model: str = ModelOpt,
    library: Optional[Path] = LibraryOpt,
    abstention: str = AbstentionOpt,
    threshold: int = ThresholdOpt,
    max_questions: int = MaxQuestionsOpt,
    max_tokens: int = typer.Option(512, help="Max tokens of the final answer."),
    base_url: Optional[str] = BaseUrlOpt,
    show_trace: bool = typer.Option(False, "--show-trace", help="Print the agent's decisions."),
    query: Optional[str] = typer.Option(None, help="Ask this instead of prompting for a question."),
) -> None:
    """Talk to RAISE in the terminal: it asks what matters (you may decline), then answers."""
    from ..agent.loop import Agent, Turn
    from ..agent.retriever import Retriever
    from ..models import load_model

    cfg = _agent_config(abstention, threshold, max_questions, generation={"max_tokens": max_tokens})
    lib = _library_file(library)
    retriever = Retriever(Path(lib)) if lib else None
    question = query or typer.prompt("Your question")

    async def run() -> None:
        m = load_model(model, base_url=base_url)
        agent = Agent(m, cfg, retriever)
        turns: list[Turn] = []
        try:
            while True:
                d = await agent.decide(question, turns)
                if show_trace:
                    for line in d.trace:
                        err_console.print(f"[dim]· {line}[/]", highlight=False)
                    if d.examples:
                        err_console.print(f"[dim]· similar planned queries: {d.examples[:3]}[/]", highlight=False)
                if d.action == "answer":
                    console.print(f"\n[bold]answer[/] [dim](stop: {d.stop_reason}; known: "
                                  f"{', '.join(a.value for a in d.known) or 'nothing'})[/]\n{d.answer}")
                    return
                why = "the planner's similar queries" if retriever else "the model's judgement"
                console.print(f"[bold cyan]asks about {d.attribute.value}[/] [dim](chosen by {why})[/]")  # type: ignore[union-attr]
                reply = await asyncio.to_thread(typer.prompt, d.question, default="I'd rather not say",
                                                show_default=False)
                turns.append(Turn(attribute=d.attribute, reply=reply))  # type: ignore[arg-type]
        finally:
            await m.aclose()

    asyncio.run(run())
