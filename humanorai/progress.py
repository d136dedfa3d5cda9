"""Progress lines on the terminal with timings, for training, loading and batch scoring.

One place decides how a stage is announced ("Training GBM… done in 12.3 s"), so `train`, bundle loading
and the server's start-up look the same. Output goes to stderr, keeping stdout free for results.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

console = Console(stderr=True, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def stage(message: str) -> Iterator[None]:
    """Print ``message…``, run the block, then print how long it took (or that it failed)."""
    console.print(f"[bold]{message}…[/bold]")
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        console.print(f"  [red]{message} failed after {time.perf_counter() - started:.1f} s[/red]")
        raise
    console.print(f"  done in {time.perf_counter() - started:.1f} s")


def note(message: str) -> None:
    """A line of information between stages (counts, file sizes, chosen settings)."""
    console.print(f"  {message}")


class RateColumn(ProgressColumn):
    """Steps per second, e.g. ``12.3 documents/s`` (blank until rich has measured a speed)."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:.1f} {self.unit}/s")


@contextlib.contextmanager
def progress_bar(description: str, total: int, unit: str | None = None) -> Iterator[Callable[[int], None]]:
    """A bar with count, elapsed and remaining time for long loops (and the rate, given its ``unit``); yields
    ``advance(steps)``.

    The bar disappears when the block ends, leaving the stage's own "done in" line.
    """
    rate = () if unit is None else (RateColumn(unit),)
    columns = (TextColumn(f"  {description}"), BarColumn(), MofNCompleteColumn(), *rate, TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda steps: progress.advance(task, steps)
