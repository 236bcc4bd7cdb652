"""Progress bars on a terminal, silence elsewhere."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

Tick = Callable[[int, int], None]


def _silent(_done: int, _total: int) -> None:
    return None


@contextmanager
def progress_bar(label: str, *, enabled: bool | None = None) -> Iterator[Tick]:
    """Yield a `tick(done, total)` that draws a bar on stderr when it is a terminal."""
    show = sys.stderr.isatty() if enabled is None else enabled
    if not show:
        yield _silent
        return
    # a label holds file names: data, never rich markup ("leads[/b].csv" must not crash the import)
    columns = (TextColumn("{task.description}", markup=False), BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        yield tick
