"""A rich progress bar with ETA, tokens and error counts (silent when disabled)."""

from __future__ import annotations

from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class RunProgress:
    def __init__(self, total: int, *, enabled: bool = True, label: str = "evaluating"):
        self.enabled = enabled
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            disable=not enabled,
            transient=False,
        )
        self._task = self._progress.add_task(label, total=total, stats="")
        self.completed = 0

    def __enter__(self) -> "RunProgress":
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.__exit__(*exc)

    def update(self, completed: int, stats: str = "") -> None:
        self.completed = completed
        self._progress.update(self._task, completed=completed, stats=stats)

    def tick(self) -> None:
        """One more unit done (for callers that only count)."""
        self.update(self.completed + 1)
