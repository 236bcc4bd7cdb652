"""Scoring speed on a large demo database, built as `hotlead demo` builds it (files imported, conversations read
with the configured NLP): rescore, reasons for every lead, `why`, and training."""

from __future__ import annotations

import random
import tempfile
import time
from contextlib import nullcontext
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from bot.bench import fresh_engine
from scoring.leads import explain_lead
from scoring.rescore import active_cutoffs, rescore, score_leads, top_reasons
from scoring.signals import analyze_pending
from scoring.training import train
from storage.db import (
    create_schema,
    make_engine,
    session_scope,
    set_meta,
)
from storage.demo import generate
from storage.demo.load import load_demo
from storage.push import lead_count
from storage.samples import clear_scores, lead_external_ids

WHY_SAMPLES = 200


def build(folder: Path, leads: int, seed: int, url: str | None = None,
          nlp: str = "transformer") -> tuple[Engine, dict[str, Any]]:
    """A fresh demo database of `leads` leads (a SQLite file under `folder`, or at `url`, whose Hotlead tables
    are replaced), its conversations read by `nlp` as `hotlead demo` reads them, and how fast both went."""
    engine = fresh_engine(url or f"sqlite:///{folder / 'speed.db'}")
    create_schema(engine)
    with session_scope(engine) as session:
        set_meta(session=session, key="origin", value="bench")
    pipeline = generate(folder / "files", leads=leads, seed=seed, today=date(2026, 11, 23))
    started = time.perf_counter()
    results = list(load_demo(engine, pipeline, lambda _label: nullcontext(lambda _d, _t: None)))
    seconds = time.perf_counter() - started
    rows = sum(r.counts.inserted + r.counts.updated + r.counts.unchanged for r in results)
    read = analyze_pending(engine, mode=nlp)  # the features (and so the model) users get
    return engine, {"import_rows": rows, "import_s": round(seconds, 2), "import_rows_per_s": round(rows / seconds),
                    "nlp": read.version, "nlp_messages": read.analyzed, "nlp_s": round(read.seconds, 2)}


def measure(engine: Engine, seed: int = 7) -> dict[str, Any]:
    """Time training, a full rescore (every history row and its reasons written), a steady-state rescore
    (nothing moved), reasons for every active lead, and `why` on random leads."""
    with engine.connect() as conn:
        leads = lead_count(conn=conn)
        external_ids = lead_external_ids(conn=conn)
    started = time.perf_counter()
    report = train(engine)
    train_s = time.perf_counter() - started
    with engine.begin() as conn:
        clear_scores(conn=conn)
    full = rescore(engine)
    steady = rescore(engine)
    cutoffs = active_cutoffs(engine)
    started = time.perf_counter()
    scored = score_leads(engine, cutoffs)
    top_reasons(scored, np.arange(len(cutoffs)))  # exact TreeSHAP and sentences for every active lead
    explain_s = time.perf_counter() - started
    sample = random.Random(seed).sample(external_ids, min(WHY_SAMPLES, len(external_ids)))
    explain_lead(engine, sample[0])  # warm: the model is loaded once, as in a running server
    timings = []
    for external_id in sample:
        started = time.perf_counter()
        explain_lead(engine, external_id)
        timings.append((time.perf_counter() - started) * 1000)
    return {
        "leads": leads, "active_leads": full.leads,
        "rescore_seconds": round(full.seconds, 3), "rescore_leads_per_s": round(full.leads / full.seconds),
        "history_rows_written": full.written,
        "steady_rescore_leads_per_s": round(steady.leads / steady.seconds), "steady_rows_written": steady.written,
        "explain_leads_per_s": round(len(cutoffs) / explain_s),
        "why_p50_ms": round(float(np.percentile(timings, 50)), 1),
        "why_p99_ms": round(float(np.percentile(timings, 99)), 1),
        "train_s": round(train_s, 2), "train_auc": round(report.metrics["auc"], 4),
        "model_depth": report.metrics.get("depth"), "model_trees": report.metrics.get("trees"),
    }


def run(leads: int = 100_000, seed: int = 7, database: Path | None = None, url: str | None = None,
        nlp: str = "transformer") -> dict[str, Any]:
    """Measure on `database` (a copy is not made: its model registry and score history change) or on a
    freshly built demo database of `leads` leads: a temporary SQLite file, or the database at `url` (SQLite or
    PostgreSQL; its Hotlead tables are replaced), its conversations read by `nlp` (HOTLEAD_NLP)."""
    if database is not None:
        engine = make_engine(f"sqlite:///{database}")
        return {"engine": engine.dialect.name, **measure(engine, seed)}
    with tempfile.TemporaryDirectory(prefix="hotlead-speed-") as tmp:
        engine, imported = build(Path(tmp), leads, seed, url, nlp)
        try:
            return {"engine": engine.dialect.name, **imported, **measure(engine, seed)}
        finally:
            engine.dispose()
