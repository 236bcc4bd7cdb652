"""Scoring speed on a large demo database: rescore, reasons for every lead, `why`, and training."""

from __future__ import annotations

import random
import tempfile
import time
from contextlib import nullcontext
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from scoring.leads import explain_lead
from scoring.rescore import active_cutoffs, rescore, score_leads, top_reasons
from scoring.training import train
from storage.db import create_schema, make_engine
from storage.demo import generate
from storage.demo.load import load_demo

WHY_SAMPLES = 200


def run(leads: int = 100_000, seed: int = 7) -> dict[str, Any]:
    """Build a demo database of `leads` leads and time the scoring paths on it."""
    with tempfile.TemporaryDirectory(prefix="hotlead-speed-") as tmp:
        folder = Path(tmp)
        engine = make_engine(f"sqlite:///{folder / 'speed.db'}")
        create_schema(engine)
        pipeline = generate(folder / "files", leads=leads, seed=seed, today=date(2026, 11, 23))
        list(load_demo(engine, pipeline, lambda _label: nullcontext(lambda _d, _t: None)))
        started = time.perf_counter()
        report = train(engine)
        train_s = time.perf_counter() - started
        result = rescore(engine)
        cutoffs = active_cutoffs(engine)
        scored = score_leads(engine, cutoffs)
        started = time.perf_counter()
        top_reasons(scored, np.arange(len(cutoffs)))
        explain_s = time.perf_counter() - started
        sample = random.Random(seed).sample([p[0] for p in pipeline.truth], WHY_SAMPLES)
        explain_lead(engine, sample[0])  # warm: the model is loaded and cached like in a running server
        timings = []
        for external_id in sample:
            started = time.perf_counter()
            explain_lead(engine, external_id)
            timings.append((time.perf_counter() - started) * 1000)
        engine.dispose()
    return {
        "leads": leads, "active_leads": result.leads, "rescore_seconds": round(result.seconds, 3),
        "rescore_leads_per_s": round(result.leads / result.seconds), "history_rows_written": result.written,
        "explain_leads_per_s": round(len(cutoffs) / explain_s) if explain_s else None,
        "why_p50_ms": round(float(np.percentile(timings, 50)), 1),
        "why_p99_ms": round(float(np.percentile(timings, 99)), 1),
        "train_s": round(train_s, 2), "train_auc": round(report.metrics["auc"], 4),
    }
