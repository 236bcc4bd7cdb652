"""Model health: does the active model still rank recent decisions well, and does it still see the leads it
was trained on? Scheduled retraining, and a decay alert to the managers when the answer is no."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from bot.channels.slack import message
from bot.push.outbox import enqueue
from bot.replies import Reply
from scoring import registry
from scoring.drift import DRIFT_PSI, drift
from scoring.errors import NotEnoughOutcomesError
from scoring.evaluate import HEALTHY_QUARTILE_RATIO, evaluate
from scoring.rescore import active_cutoffs, rescore, score_leads
from storage.history import all_reps
from storage.push import decisions_with_last_score

log = logging.getLogger(__name__)
RECENT_DAYS = 90
MIN_CLOSED = 40  # fewer recent decisions than this (or fewer than MIN_EACH of either kind): use training metrics
MIN_EACH = 5


@dataclass(frozen=True)
class ModelHealth:
    """How the active model is doing: the quartile ratio (and where it comes from) and PSI per feature."""

    version: str | None
    quartile_ratio: float | None
    ratio_source: str  # recent (leads closed lately, scored before they closed) | training | none
    closed_leads: int  # recent decisions the ratio was measured on
    psi: dict[str, float] = field(default_factory=dict)  # feature (and "probability") -> PSI

    @property
    def worst_drift(self) -> tuple[str, float] | None:
        """The feature with the largest PSI."""
        return max(self.psi.items(), key=lambda item: item[1]) if self.psi else None

    @property
    def problems(self) -> list[str]:
        """Why the model looks decayed, in sentences (empty when it looks healthy)."""
        found = []
        if self.quartile_ratio is not None and self.quartile_ratio < HEALTHY_QUARTILE_RATIO:
            found.append(f"top/bottom quartile conversion is {self.quartile_ratio:.1f}× "
                         f"(healthy above {HEALTHY_QUARTILE_RATIO:g})")
        drifted = sorted(((v, k) for k, v in self.psi.items() if v > DRIFT_PSI), reverse=True)
        if drifted:
            found.append("drift (PSI above {:g}) in {}".format(DRIFT_PSI, ", ".join(f"{k} {v:.2f}"
                                                                                  for v, k in drifted[:3])))
        return found

    def summary(self) -> str:
        """One line for the digest."""
        if self.version is None:
            return "No model is active yet: run `hotlead train`."
        if self.quartile_ratio is None:
            ratio = "quartile ratio unknown"
        elif self.ratio_source == "recent":
            ratio = (f"top/bottom quartile conversion {self.quartile_ratio:.1f}× on {self.closed_leads} leads "
                     f"closed in the last {RECENT_DAYS} days")
        else:
            ratio = (f"top/bottom quartile conversion {self.quartile_ratio:.1f}× at training "
                     f"(only {self.closed_leads} recent decisions were scored before they closed)")
        worst = self.worst_drift
        shift = (f"largest drift PSI {worst[1]:.2f} ({worst[0]})" if worst else
                 "drift unknown (no training reference: retrain to record one)")
        verdict = "needs attention: " + "; ".join(self.problems) if self.problems else "healthy"
        return f"Model {self.version}: {ratio}; {shift}. {verdict[0].upper()}{verdict[1:]}."

    def as_dict(self) -> dict[str, Any]:
        """Machine-readable form."""
        return {"version": self.version, "quartile_ratio": self.quartile_ratio, "ratio_source": self.ratio_source,
                "closed_leads": self.closed_leads, "psi": self.psi, "problems": self.problems}


def recent_ratio(engine: Engine, now: datetime, days: int = RECENT_DAYS) -> tuple[float | None, int]:
    """Top/bottom quartile conversion of leads closed in the last `days`, each by its last score before it
    closed; None (with the count) when there are too few of them."""
    with engine.connect() as conn:
        scored = decisions_with_last_score(conn=conn, since=now - timedelta(days=days), now=now)
    positives = sum(converted for converted, _ in scored)
    if len(scored) < MIN_CLOSED or min(positives, len(scored) - positives) < MIN_EACH:
        return None, len(scored)
    y, p = (np.array(column, dtype=float) for column in zip(*scored, strict=True))
    return evaluate(y, p)["quartile_ratio"], len(scored)


def model_health(engine: Engine, now: datetime) -> ModelHealth:
    """The active model's quartile ratio (recent decisions, else its training holdout) and drift on open leads."""
    version = registry.active_version(engine)
    if version is None:
        return ModelHealth(None, None, "none", 0)
    ratio, closed = recent_ratio(engine, now)
    source = "recent"
    if ratio is None:
        trained = version.metrics.get("quartile_ratio")
        ratio, source = (float(trained), "training") if trained is not None else (None, "none")
    reference = version.metrics.get("drift_reference")
    psi: dict[str, float] = {}
    if reference:
        cutoffs = active_cutoffs(engine, pd.Timestamp(now).to_julian_date())
        if not cutoffs.empty:
            scored = score_leads(engine, cutoffs)
            psi = drift(reference, scored.features, scored.probability)
    return ModelHealth(version.version, ratio, source, closed, psi)


def queue_decay_alerts(engine: Engine, health: ModelHealth, now: datetime) -> list[int]:
    """Queue one decay alert per manager (once per model version and week) when the model looks decayed."""
    if health.version is None or not health.problems:
        return []
    year, week, _ = now.astimezone(UTC).isocalendar()
    text_ = (f"Hotlead's model {health.version} may be decaying: " + "; ".join(health.problems) + ". "
             "Retrain now with `hotlead train` (it is promoted only if it beats this one), or go back to the "
             "previous model with `hotlead model rollback`.")
    slack = message(Reply(f":warning: *Model health*\n{text_}"))  # feature names are CRM columns: data
    with engine.connect() as conn:
        managers = [rep for rep in all_reps(conn=conn) if rep.role == "manager" and rep.slack_user_id]
    queued = []
    for manager in managers:
        found = enqueue(engine, kind="model_decay", channel="slack", target=manager.slack_user_id,
                        dedupe_key=f"model-decay:{health.version}:{year}-W{week:02d}:{manager.id}",
                        payload={**slack, "health": health.as_dict()},
                        rep_id=manager.id, now=now)
        if found is not None:
            queued.append(found)
    return queued


def check_decay(engine: Engine, now: datetime) -> tuple[ModelHealth, list[int]]:
    """Measure the active model's health and queue decay alerts when needed."""
    health = model_health(engine, now)
    return health, queue_decay_alerts(engine, health, now)


@dataclass(frozen=True)
class RetrainResult:
    """What a scheduled retraining did."""

    version: str | None
    promoted: bool
    rescored: int
    health: ModelHealth
    alerts: list[int]


def retrain(engine: Engine, now: datetime, *, nlp_mode: str = "transformer") -> RetrainResult:
    """Read new messages, train a candidate (promoted only when it beats the active model on the newest
    decisions), rescore when it was promoted, then check the active model for decay."""
    from scoring.signals import analyze_pending
    from scoring.training import train

    analyze_pending(engine, mode=nlp_mode)
    version, promoted, rescored = None, False, 0
    try:
        report = train(engine)
        version, promoted = report.version, report.promoted
        if promoted:
            rescored = rescore(engine).written
    except NotEnoughOutcomesError as exc:
        log.warning("scheduled retraining skipped: %s", exc)
    health, alerts = check_decay(engine, now)
    return RetrainResult(version, promoted, rescored, health, alerts)
