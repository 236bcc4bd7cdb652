"""Keep the `signal` table in step with `message`: every message read once per NLP version."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from nlp import SPAN_KINDS, Signals, reader
from storage.db import json_dumps, marks

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
        pending = conn.exec_driver_sql(
            "SELECT m.id, m.direction, m.text FROM message m LEFT JOIN signal s ON s.message_id = m.id "
            "WHERE s.id IS NULL OR s.nlp_version != CASE m.direction WHEN 'inbound' THEN ? ELSE ? END "
            "ORDER BY m.id", (versions["inbound"], versions["outbound"]),
        ).all()
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    done = 0
    for start in range(0, len(pending), BATCH):
        batch = pending[start : start + BATCH]
        rows = []
        for direction, chosen in (("inbound", prospect), ("outbound", team)):
            part = [m for m in batch if (m[1] == "inbound") == (direction == "inbound")]
            for (message_id, _, _), signals in zip(part, chosen.analyze([m[2] for m in part]), strict=True):
                rows.append((message_id, chosen.version, signals.sentiment, signals.sentiment_label,
                             signals.urgency, _entities(signals), now))
        with engine.begin() as conn:
            conn.exec_driver_sql(
                f"INSERT INTO signal (message_id, nlp_version, sentiment, sentiment_label, urgency, entities, "
                f"analyzed_at) VALUES ({marks(conn, 7)}) ON CONFLICT (message_id) DO UPDATE SET "
                "nlp_version = excluded.nlp_version, sentiment = excluded.sentiment, "
                "sentiment_label = excluded.sentiment_label, urgency = excluded.urgency, "
                "entities = excluded.entities, analyzed_at = excluded.analyzed_at", rows,
            )
        done += len(batch)
        if progress:
            progress(done, len(pending))
    return AnalysisResult(done, time.perf_counter() - started, versions["inbound"])
