"""Load a generated demo pipeline through the same importers a user runs, then the reps' feedback."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from storage.db import begin_now
from storage.demo.simulate import DemoPipeline
from storage.errors import StorageError
from storage.history import all_reps, record_action
from storage.importers import ImportResult, Progress, import_table
from storage.importers.transcripts import import_transcripts
from storage.importers.writer import Counts
from storage.queries import lead_ids_by_external_id

ORDER = ("reps", "accounts", "leads", "activities", "messages", "transcripts", "outcomes", "feedback")


def load_demo(
    engine: Engine, pipeline: DemoPipeline, progress: Callable[[str], AbstractContextManager[Progress]]
) -> Iterator[ImportResult]:
    """Import every generated file in dependency order, yielding each import's result."""
    for kind in ORDER:
        with progress(f"importing {kind}") as tick:
            if kind == "transcripts":
                yield import_transcripts(engine, pipeline.files[kind], progress=tick)
            elif kind == "feedback":
                yield record_feedback(engine, pipeline.files[kind], progress=tick)
            else:
                yield import_table(engine, kind, pipeline.files[kind], progress=tick)


def record_feedback(engine: Engine, path: Path, *, progress: Progress | None = None) -> ImportResult:
    """Record the reps' verdicts of a generated feedback file as the chat does, in one transaction. There is no
    natural key to import them again by: the demo records them once, into the fresh database it builds."""
    started = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with engine.begin() as conn:
        begin_now(conn, immediate=True)
        leads = lead_ids_by_external_id(conn=conn, external_ids={row["lead"] for row in rows})
        reps = {rep.name: rep.id for rep in all_reps(conn=conn)}
        for number, row in enumerate(rows, start=1):
            if row["lead"] not in leads or row["rep"] not in reps:
                raise StorageError(f"{path.name}:{number}: no lead {row['lead']!r} owned by a rep {row['rep']!r}")
            record_action(conn=conn, lead_id=leads[row["lead"]], rep_id=reps[row["rep"]], action=row["action"],
                          moment=datetime.fromisoformat(row["created_at"]),
                          until=datetime.fromisoformat(row["until"]) if row["until"] else None,
                          note=row["note"] or None)
            if progress and number % 5000 == 0:
                progress(number, len(rows))
    if progress:
        progress(len(rows), len(rows))
    return ImportResult("feedback", path.name, Counts(inserted=len(rows)), time.perf_counter() - started)
