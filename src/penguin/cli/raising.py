"""`penguin raise eval|calibrate|gate|build-router` and `penguin chat`: the RAISE agent."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from .app import app, raise_app
from .common import (BaseUrlOpt, DatasetOpt, DomainsOpt, JudgeMaxTokensOpt, JudgeOpt, ModelOpt, OutOpt, ProgressOpt,
                     ReportOpt, ResumeOpt, RetryOpt, SplitOpt, console, err_console, friendly, split)

AbstentionOpt = typer.Option("scale", help="Abstention: scale (0-5, the paper's best), binary, basic.")
ThresholdOpt = typer.Option(4, min=0, max=6, help="Scale abstention: stop at completeness >= this.")
MaxQuestionsOpt = typer.Option(5, min=0, max=10, help="Most questions the agent may ask.")
LibraryOpt = typer.Option(None, help="Path library (a plan folder); enables the planner variant.")
GateOpt = typer.Option(True, "--gate/--no-gate", help="Route first: crisis / agent / direct.")


def show_raise(run) -> None:  # noqa: ANN001 - a RaiseRun
    s = run.raise_summary
    t = Table(title=f"RAISE · {run.summary.model} · safety (1-5) and questions · gate {'on' if s.gate else 'off'}")
    for col in ("variant", "safety", "questions", "declined", "routes", "stop reasons", "fallbacks", "n"):
        t.add_column(col, justify="left" if col in ("variant", "routes", "stop reasons", "fallbacks") else "right")
    for name, v in s.variants.items():
        pss = v.pss
        t.add_row(name, f"{pss.mean:.2f} [{pss.low:.2f}, {pss.high:.2f}]" if pss else "–", f"{v.mean_questions:.2f}",
                  f"{v.mean_withheld:.2f}", ", ".join(f"{k} {n}" for k, n in v.routes.items()) or "–",
                  ", ".join(f"{k} {n}" for k, n in v.stop_reasons.items()) or "–",
                  ", ".join(f"{k} {n}" for k, n in v.fallbacks.items()) or "none", str(pss.n if pss else v.dialogues))
    console.print(t)
    for name, b in s.benign.items():
        console.print(f"benign set · {name}: asked in {b.ask_rate:.1%} of {b.queries} benign queries, "
                      f"{b.mean_questions:.2f} questions on average · routes {b.routes}", highlight=False)
    report = run.path / "report.html"
    if report.exists():
        console.print(f"report: [bold]{escape(str(report))}[/]")


@raise_app.command("eval")
@friendly
def raise_eval_cmd(
    library: Optional[Path] = LibraryOpt,
    variants: str = typer.Option("vanilla,agent,planner", help="Comma-separated: vanilla, agent, planner."),
    budgets: Optional[str] = typer.Option(None, help="Question budgets for the curve, e.g. 0,1,2,3."),
    abstention: str = AbstentionOpt,
    threshold: int = ThresholdOpt,
    calibration: Optional[Path] = typer.Option(None, help="calibration.json: use its threshold."),
    max_questions: int = MaxQuestionsOpt,
    top_k: int = typer.Option(5, help="Planned paths retrieved as examples."),
    gate: bool = GateOpt,
    benign: bool = typer.Option(True, "--benign/--no-benign", help="Also measure over-asking on benign queries."),
    user: str = typer.Option("plain", help="Simulated user's replies: plain or llm."),
    decline: float = typer.Option(0.0, min=0.0, max=1.0, help="Chance the user declines a question."),
    model: str = ModelOpt,
    judge: List[str] = JudgeOpt,
    dataset: Optional[str] = DatasetOpt,
    split_: str = SplitOpt,
    domains: Optional[str] = DomainsOpt,
    limit: Optional[int] = typer.Option(None, help="First N scenarios of the split."),
    per_domain: Optional[int] = typer.Option(None, help="N scenarios drawn per domain."),
    seed: int = typer.Option(0),
    max_tokens: int = typer.Option(512, help="Max tokens of each final answer."),
    judge_max_tokens: int = JudgeMaxTokensOpt,
    base_url: Optional[str] = BaseUrlOpt,
    concurrency: int = typer.Option(4, min=1),
    out: Path = OutOpt,
    resume: Optional[Path] = ResumeOpt,
    retry_errors: bool = RetryOpt,
    progress: bool = ProgressOpt,
    report: bool = ReportOpt,
) -> None:
    """Vanilla vs +agent vs +planner, judged per domain, questions counted (resumable)."""
    from ..api import raise_eval, resume as resume_run
    from ..errors import ConfigError
    from .evaluation import _no_retry_without_resume

    _no_retry_without_resume(retry_errors, resume)
    if resume is not None:
        run = resume_run(resume, retry_errors=retry_errors, progress=progress, report=report)
    else:
        try:
            curve = [int(b) for b in split(budgets) or []]
        except ValueError as exc:
            raise ConfigError(f"--budgets must be integers like 0,1,2,3, not {budgets!r}") from exc
        run = raise_eval(library, variants=split(variants) or [], budgets=curve, abstention=abstention,
                         threshold=threshold, calibration=calibration, max_questions=max_questions, top_k=top_k,
                         gate=gate, benign=benign, user=user, decline=decline, model=model, judges=judge,
                         dataset=dataset, split=split_, domains=split(domains), limit=limit, per_domain=per_domain,
                         seed=seed, max_tokens=max_tokens, judge_max_tokens=judge_max_tokens, base_url=base_url,
                         concurrency=concurrency, out=out, progress=progress, report=report)
    console.print(f"run folder: [bold]{escape(str(run.path))}[/]")
    show_raise(run)


@raise_app.command("calibrate")
@friendly
def raise_calibrate_cmd(
    target_questions: float = typer.Option(2.7, help="Wanted mean number of questions (paper: 2.7)."),
    library: Optional[Path] = LibraryOpt,
    max_questions: int = MaxQuestionsOpt,
    user: str = typer.Option("plain", help="Simulated user's replies (as in the evaluation)."),
    decline: float = typer.Option(0.0, min=0.0, max=1.0, help="Chance the user declines (as evaluated)."),
    model: str = ModelOpt,
    dataset: Optional[str] = DatasetOpt,
    split_: str = typer.Option("dev", "--split", help="Query split (dev: apart from plan and online)."),
    domains: Optional[str] = DomainsOpt,
    limit: Optional[int] = typer.Option(None),
    per_domain: Optional[int] = typer.Option(None),
    seed: int = typer.Option(0),
    base_url: Optional[str] = BaseUrlOpt,
    concurrency: int = typer.Option(4, min=1),
    progress: bool = ProgressOpt,
    out: Path = typer.Option(Path("calibration.json"), help="Where to write the calibration."),
) -> None:
    """Choose the abstention threshold that asks a target mean number of questions."""
    from ..api import calibrate

    result = calibrate(target_questions, library, max_questions=max_questions, user=user, decline=decline, model=model,
                       dataset=dataset, split=split_, domains=split(domains), limit=limit, per_domain=per_domain,
                       seed=seed, base_url=base_url, concurrency=concurrency, progress=progress)
    out.write_text(result.model_dump_json(indent=1))
    t = Table(title=f"Abstention threshold vs questions · {result.scenarios} {split_} scenarios")
    t.add_column("threshold", justify="right")
    t.add_column("mean questions", justify="right")
    for row in result.thresholds:
        mark = " ←" if row.threshold == result.chosen_threshold else ""
        t.add_row(str(row.threshold), f"{row.mean_questions:.2f}{mark}")
    console.print(t)
    console.print(f"chosen threshold {result.chosen_threshold} (target {target_questions} questions) → {escape(str(out))}")


@raise_app.command("gate")
@friendly
def raise_gate_cmd(
    path: Path = typer.Argument(..., help="Queries: one per line, or JSONL/CSV with a query field."),
    out: Optional[Path] = typer.Option(None, help="Write one JSON object per query here."),
    field: str = typer.Option("query", help="The query field in JSONL/CSV files."),
) -> None:
    """Route queries (crisis / agent / direct) and print the share sent to the agent."""
    from ..agent.gate import gate_file

    result = gate_file(path, out, field=field)
    console.print(f"{result.queries} queries: agent {result.routes.get('agent', 0)} ({result.agent_share:.1%}) · "
                  f"direct {result.routes.get('direct', 0)} · crisis {result.routes.get('crisis', 0)}"
                  f" (imminent {result.crisis_levels.get('imminent', 0)}, passive "
                  f"{result.crisis_levels.get('passive', 0)})" + (f" → {out}" if out else ""), highlight=False)


@raise_app.command("build-router")
@friendly
def raise_build_router_cmd(
    out: Optional[Path] = typer.Option(None, help="Folder to write to (default: the package's)."),
    docs: Optional[Path] = typer.Option(None, help="Also write the card as Markdown here."),
    seed: Optional[int] = typer.Option(None, help="Training seed (default: the one the shipped router was built with)."),
    progress: bool = ProgressOpt,
) -> None:
    """Rebuild the router from its training data (about 15 minutes on 2 cores), with its card."""
    from ..agent.router_training import EPOCHS, SEED, build
    from ..progress import RunProgress

    with RunProgress(EPOCHS, label="fine-tuning the router", enabled=progress) as bar:
        artefact = build(out, seed=SEED if seed is None else seed, progress=lambda _epoch: bar.tick())
    if docs:
        from ..agent.router_training import card_markdown

        docs.write_text(card_markdown(artefact))
    card = artefact["card"]["test"]
    console.print(f"router: thresholds {artefact['thresholds']} · held-out test: imminent recall "
                  f"{card['imminent_recall']['rate']:.1%}, passive recall {card['passive_recall']['rate']:.1%}, "
                  f"hard-negative false alarms {card['hard_negative_false_alarms']['rate']:.1%}, benign to the agent "
                  f"{card['benign_to_agent']['rate']:.1%}, risky requests to the agent {card['risky_to_agent']['rate']:.1%}, "
                  f"PENGUIN to the agent {card['penguin_to_agent']['rate']:.1%}",
                  highlight=False)


@app.command("chat")
@friendly
def chat_cmd(
    model: str = ModelOpt,
    library: Optional[Path] = LibraryOpt,
    abstention: str = AbstentionOpt,
    threshold: int = ThresholdOpt,
    max_questions: int = MaxQuestionsOpt,
    gate: bool = GateOpt,
    max_tokens: int = typer.Option(512, help="Max tokens of the final answer."),
    base_url: Optional[str] = BaseUrlOpt,
    show_trace: bool = typer.Option(False, "--show-trace", help="Print the agent's decisions."),
    query: Optional[str] = typer.Option(None, help="Ask this instead of prompting for a question."),
) -> None:
    """Talk to RAISE in the terminal: it asks what matters (you may decline), then answers."""
    from ..agent.loop import Agent, AgentConfig, Turn
    from ..agent.retriever import Retriever
    from ..models import load_model
    from ..planner.library import library_file

    cfg = AgentConfig(abstention=abstention, threshold=threshold, max_questions=max_questions, gate=gate,
                      generation={"max_tokens": max_tokens})
    retriever = Retriever(library_file(library)) if library else None
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
                        err_console.print(f"[dim]· {escape(line)}[/]", highlight=False)
                    if d.examples:
                        err_console.print(f"[dim]· similar planned queries: {escape(str(d.examples[:3]))}[/]", highlight=False)
                if d.action == "answer":
                    console.print(f"\n[bold]answer[/] [dim](route: {d.route}; stop: {d.stop_reason}; known: "
                                  f"{', '.join(a.value for a in d.known) or 'nothing'})[/]\n{escape(d.answer or '')}")
                    return
                why = "the planner's similar queries" if retriever else "the model's judgement"
                console.print(f"[bold cyan]asks about {d.attribute.value}[/] [dim](chosen by {why})[/]")  # type: ignore[union-attr]
                reply = await asyncio.to_thread(typer.prompt, d.question, default="I'd rather not say",
                                                show_default=False)
                turns.append(Turn(attribute=d.attribute, reply=reply))  # type: ignore[arg-type]
        finally:
            await m.aclose()

    asyncio.run(run())
