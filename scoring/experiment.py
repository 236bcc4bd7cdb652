"""A controlled test of the scores: a random, stable share of new leads (HOTLEAD_HOLDOUT_SHARE) is a control arm
that alerts and routing leave to the old way, and conversion is compared by arm with its uncertainty.

A lead's arm is a pure function of its external id (a hash), so every process, and every later run of the report,
agrees on it without storing it; raising the share only moves leads from the model's arm to the control arm. The
comparison is intent-to-treat: every lead assigned to an arm counts in it, open ones as not converted (yet).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Any

from scipy.stats import fisher_exact, norm
from sqlalchemy import Connection, Engine

from storage.experiments import experiment_rows, experiment_start
from storage.history import stamp, utc

CONTROL, MODEL = "control", "model"
Z95 = float(norm.ppf(0.975))
MIN_LEADS = 30  # per arm, before any verdict
MIN_EACH = 5  # conversions and non-conversions per arm, before any verdict
ALPHA = 0.05


def arm_of(external_id: str, share: float) -> str:
    """CONTROL for a stable `share` of leads (by a hash of the external id), else MODEL."""
    if share <= 0:
        return MODEL
    digest = hashlib.sha256(f"hotlead-holdout:{external_id}".encode()).digest()
    return CONTROL if int.from_bytes(digest[:8], "big") / 2**64 < share else MODEL


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default); (0, 1) when there are no trials."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    scale = 1 + z * z / trials
    return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


def needed_per_arm(p1: float, p2: float, alpha: float = ALPHA, power: float = 0.8) -> int | None:
    """Leads per arm a two-sided test needs to tell rates p1 and p2 apart (None when they are equal)."""
    if p1 == p2:
        return None
    z_a, z_b = float(norm.ppf(1 - alpha / 2)), float(norm.ppf(power))
    mean = (p1 + p2) / 2
    top = z_a * math.sqrt(2 * mean * (1 - mean)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(top * top / ((p1 - p2) ** 2))


@dataclass(frozen=True)
class ExperimentLead:
    """One lead of the experiment: its arm, whether it converted (None: still open), and the hours from its
    creation to its first contact by the team (None: not contacted)."""

    arm: str
    converted: bool | None
    first_contact_hours: float | None


def _arm(name: str, leads: Sequence[ExperimentLead]) -> dict[str, Any]:
    converted = sum(1 for lead in leads if lead.converted)
    low, high = wilson(converted, len(leads))
    contacted = [lead.first_contact_hours for lead in leads if lead.first_contact_hours is not None]
    return {
        "arm": name, "leads": len(leads), "decided": sum(1 for lead in leads if lead.converted is not None),
        "converted": converted, "rate": round(converted / len(leads), 6) if leads else None,
        "ci_low": round(low, 6), "ci_high": round(high, 6),
        "contacted": len(contacted),
        "first_contact_hours_median": round(median(contacted), 2) if contacted else None,
    }


def report(leads: Sequence[ExperimentLead], share: float) -> dict[str, Any]:
    """Conversion and time to first contact per arm, a p-value (Fisher's exact test, two-sided) and a verdict in
    words, which says plainly when there is not enough data for one."""
    arms = [_arm(name, [lead for lead in leads if lead.arm == name]) for name in (MODEL, CONTROL)]
    model, control = arms
    short = [a["arm"] for a in arms if a["leads"] < MIN_LEADS or min(a["converted"], a["leads"] - a["converted"])
             < MIN_EACH]
    p_value = None
    if model["leads"] and control["leads"]:
        table = [[model["converted"], model["leads"] - model["converted"]],
                 [control["converted"], control["leads"] - control["converted"]]]
        p_value = round(float(fisher_exact(table).pvalue), 6)
    if share <= 0:
        verdict = "no experiment: HOTLEAD_HOLDOUT_SHARE is 0, so every lead is in the model's arm"
    elif short:
        verdict = (f"not enough data yet: the {' and '.join(short)} arm{'s' if len(short) > 1 else ''} need at "
                   f"least {MIN_LEADS} leads and {MIN_EACH} conversions and {MIN_EACH} non-conversions each")
    else:
        verdict = _verdict(model, control, p_value)
    return {"arms": arms, "p_value": p_value, "verdict": verdict, "share": share, "test": "Fisher's exact, two-sided",
            "interval": "Wilson 95%", "protocol": "intent-to-treat: every lead of an arm counts, open ones as not "
                                                   "converted yet"}


def _verdict(model: dict[str, Any], control: dict[str, Any], p_value: float | None) -> str:
    lift = model["rate"] - control["rate"]
    if p_value is not None and p_value < ALPHA:
        better = "the model's arm" if lift > 0 else "the control arm"
        return (f"{better} converts better: {model['rate']:.1%} vs {control['rate']:.1%} "
                f"(p = {p_value:.3g}, significant at {ALPHA:.0%})")
    needed = needed_per_arm(model["rate"], control["rate"])
    more = (f"; telling {model['rate']:.1%} from {control['rate']:.1%} apart takes about {needed:,} leads per arm"
            if needed else "")
    return (f"no significant difference yet: {model['rate']:.1%} in the model's arm vs {control['rate']:.1%} in the "
            f"control arm (p = {p_value:.3g}){more}")


def held_out(conn: Connection, *, external_id: str, created_at: datetime, share: float, now: datetime) -> bool:
    """Whether alerts and routing leave this lead to the old way: in the control arm, and new (created since the
    experiment started, which is `now` when this is the first lead it meets)."""
    if arm_of(external_id, share) != CONTROL:
        return False
    start = experiment_start(conn=conn, moment=stamp(now))
    return start is not None and created_at >= utc(start)


def measure(engine: Engine, share: float, since: str | None = None) -> dict[str, Any]:
    """The experiment's report on the leads created since `since` (a stamp), else since the experiment started,
    else on every lead (`since` None in the report)."""
    with engine.connect() as conn:
        start = since or experiment_start(conn=conn)
        rows = experiment_rows(conn=conn, since=start)
    leads = [ExperimentLead(arm_of(external_id, share), None if converted is None else bool(converted),
                            None if first is None else max(0.0, (first - created) * 24.0))
             for external_id, created, converted, first in rows]
    return {**report(leads, share), "since": start}
