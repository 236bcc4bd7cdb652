"""Load a generated demo pipeline through the same importers a user runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

from sqlalchemy import Engine

from storage.demo.simulate import DemoPipeline
from storage.importers import ImportResult, Progress, import_table
from storage.importers.transcripts import import_transcripts

ORDER = ("reps", "accounts", "leads", "activities", "messages", "transcripts", "outcomes")


def load_demo(
    engine: Engine, pipeline: DemoPipeline, progress: Callable[[str], AbstractContextManager[Progress]]
) -> Iterator[ImportResult]:
    """Import every generated file in dependency order, yielding each import's result."""
    for kind in ORDER:
        with progress(f"importing {kind}") as tick:
            if kind == "transcripts":
                yield import_transcripts(engine, pipeline.files[kind], progress=tick)
            else:
                yield import_table(engine, kind, pipeline.files[kind], progress=tick)
