"""Keep the `signal` table in step with `message`: every message read once per NLP version."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from nlp import SPAN_KINDS, Signals, reader
from storage.db import json_dumps
from storage.signals import pending_messages, save_signals

BATCH = 256
Progress = Callable[[int, int], None]


@dataclass
class AnalysisResult:
    """How many messages were read, and how fast."""

    analyzed: int
    seconds: float
    version: str


def _entities(signals: Signals) -> str:
    return json_dumps({
        kind: [{"text": s.text, "start": s.start, "end": s.end, "label": s.label, "negated": s.negated}
               for s in getattr(signals, kind)]
        for kind in SPAN_KINDS
    } | {"question": signals.question, "engine": signals.engine})


def analyze_pending(engine: Engine, *, mode: str = "transformer", progress: Progress | None = None) -> AnalysisResult:
    """Read every message that has no signal from the current NLP version. The prospect's lines go through
    `mode`; the team's lines through the rules (their spans matter, their mood is not the buyer's)."""
    started = time.perf_counter()
    prospect, team = reader(mode), reader("rules")
    versions = {"inbound": prospect.version, "outbound": team.version}
    with engine.connect() as conn:
        pending = pending_messages(conn=conn, inbound_version=versions["inbound"],
                                   outbound_version=versions["outbound"])
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    done = 0
    for start in range(0, len(pending), BATCH):
        batch = pending[start : start + BATCH]
        rows = []
        for direction, chosen in (("inbound", prospect), ("outbound", team)):
            part = [m for m in batch if (m[1] == "inbound") == (direction == "inbound")]
            for (message_id, _, _), signals in zip(part, chosen.analyze([m[2] for m in part]), strict=True):
                rows.append({"message_id": message_id, "nlp_version": chosen.version,
                             "sentiment": signals.sentiment, "sentiment_label": signals.sentiment_label,
                             "urgency": signals.urgency, "entities": _entities(signals), "analyzed_at": now})
        with engine.begin() as conn:
            save_signals(conn=conn, rows=rows)
        done += len(batch)
        if progress:
            progress(done, len(pending))
    return AnalysisResult(done, time.perf_counter() - started, versions["inbound"])
