"""Train a candidate on past decisions, judge it on a holdout, deploy it fitted on every decision, and promote it
only when it has signal and is better.

The holdout is the newest 20% of decisions when the data has a time: every decision dated (`time`), or an export
imported as being in time order (`ordered`, `hotlead import crm --ordered`). Otherwise it is a stratified random
20% (`random`), and every report says so: "newest" is never claimed for rows that are merely last in a file.
After the holdout report, the model is fitted again, with the settings chosen, on every decision (the newest are
the most relevant), and that is the version registered; its metrics are the holdout's.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sqlalchemy import Engine
from sqlmodel import Session

from scoring import drift, registry
from scoring.bands import HOT_SHARE, WARM_SHARE, check_shares, shares_of, thresholds
from scoring.baseline import baseline_auc
from scoring.errors import NotEnoughOutcomesError
from scoring.evaluate import (
    auc_interval,
    calibration_slope,
    compare,
    expected_calibration_error,
    lift_table,
    save_plots,
)
from scoring.features import build_features
from scoring.feedback import COLUMN as FEEDBACK
from scoring.feedback import FEEDBACK_WEIGHT
from scoring.model import LeadScorer
from scoring.rules import rule_points
from scoring.segments import fit_segments
from scoring.value import MIN_WON, fit_value
from storage.db import get_meta
from storage.history import verdicts
from storage.queries import decisions, won_amounts

log = logging.getLogger(__name__)
HOLDOUT_FRACTION = 0.2
TOO_GOOD_AUC = 0.99  # a holdout AUC this high usually means a column gives the outcome away
LEAK_AUC = 0.98  # a single column that ranks the training outcomes this well alone is left out (a leak)
LEAK_MIN_LEVEL = 10  # a category seen fewer times says nothing alone (an id column is not a leak)
MIN_HOLDOUT_CLASS = 5  # conversions and non-conversions the holdout needs at least, to judge anything
WARN_POSITIVES = 500  # below this many conversions, training warns that scores will be noisy


@dataclass
class TrainingData:
    """Every decided lead, oldest decision first, with features as of its decision."""

    features: pd.DataFrame
    labels: np.ndarray
    external_ids: list[str]
    decided: np.ndarray  # julian day of each decision (NaN when unknown)
    order: str = "time"  # time | ordered | random: how the holdout is drawn (see the module's text)
    amounts: np.ndarray | None = None  # each won deal's amount (NaN: lost, or won without one)

    def split(self, fraction: float = HOLDOUT_FRACTION, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Row positions of the training part and of the holdout: the newest `fraction` when the rows are in time
        order, else a stratified random sample. Training rows come oldest first, or shuffled when there is no
        time (so that the model's own validation part is a sample too)."""
        n = len(self.labels)
        if self.order in ("time", "ordered"):
            cut = int(n * (1 - fraction))
            train, hold = np.arange(cut), np.arange(cut, n)
        else:
            train, hold = train_test_split(np.arange(n), test_size=fraction, stratify=self.labels,
                                           random_state=seed)
            train, hold = np.random.default_rng(seed).permutation(train), np.sort(hold)
        held = self.labels[hold]
        if min(int(held.sum()), int(len(held) - held.sum())) < MIN_HOLDOUT_CLASS:
            what = "newest" if self.order != "random" else "held-out"
            raise NotEnoughOutcomesError(
                f"the {what} {fraction:.0%} of decisions hold {int(held.sum())} conversions and "
                f"{int(len(held) - held.sum())} non-conversions: too few of one to judge a model"
                + (" (are the rows really in time order? import without --ordered to hold out a random sample)"
                   if self.order == "ordered" else ""))
        return train, hold

    def everything(self, seed: int = 0) -> np.ndarray:
        """Every row, in the order a deployed model is fitted on: by time, or shuffled when there is none."""
        n = len(self.labels)
        return np.arange(n) if self.order in ("time", "ordered") else np.random.default_rng(seed).permutation(n)


@dataclass
class TrainingReport:
    """What `hotlead train` reports."""

    version: str
    promoted: bool
    metrics: dict[str, Any]
    lift: list[dict[str, Any]]
    holdout_ids: list[str]
    plots: list[Path] = field(default_factory=list)
    shares: tuple[float, float] = (HOT_SHARE, WARM_SHARE)  # the model's hot and warm band shares


def training_data(engine: Engine, min_amount: float | None = None) -> TrainingData:
    """Decided leads in decision order; cutoffs are decision times (now, when a decision has no time). With
    `min_amount`, only a deal won with at least that amount counts as converted."""
    now = pd.Timestamp.now(tz="UTC").to_julian_date()
    with engine.connect() as conn:
        rows = decisions(conn=conn)
        won = won_amounts(conn=conn)
    decided = np.array([r[3] if r[3] is not None else np.nan for r in rows], dtype=float)
    cutoffs = pd.Series(np.where(np.isnan(decided), now, decided), index=[r[0] for r in rows])
    features = build_features(engine, cutoffs)
    amounts = np.array([won.get(r[0], np.nan) for r in rows], dtype=float)
    labels = np.array([r[2] for r in rows], dtype=int)
    if min_amount is not None:
        labels = (labels == 1) & (np.nan_to_num(amounts, nan=0.0) >= min_amount)
    return TrainingData(features, labels.astype(int), [r[1] for r in rows], decided, decision_order(engine, decided),
                        amounts)


def decision_order(engine: Engine, decided: np.ndarray) -> str:
    """`time` when every decision is dated; `ordered` when the export was imported as being in time order (lead
    ids follow it); else `random`."""
    if len(decided) and not np.isnan(decided).any():
        return "time"
    with Session(engine) as session:
        stated = get_meta(session=session, key="decision_order")
    return "ordered" if stated in ("ordered", "time") else "random"


def _window(decided: np.ndarray) -> tuple[datetime | None, datetime | None]:
    known = decided[~np.isnan(decided)]
    if not len(known):
        return None, None
    unix_epoch = 2440587.5  # the julian day of 1970-01-01T00:00Z
    first, last = (datetime.fromtimestamp(round((d - unix_epoch) * 86400), UTC) for d in (known.min(), known.max()))
    return first, last


def train(
    engine: Engine, *, plots: Path | None = None, scorer: LeadScorer | None = None,
    shares: tuple[float | None, float | None] = (None, None), force: bool = False, keep: tuple[str, ...] = (),
    value: bool | None = None, min_amount: float | None = None,
) -> TrainingReport:
    """Fit a candidate on the training part, judge it on the holdout, fit it again on every decision and register
    that; promote it when it has signal and wins. Its band `shares` (hot, warm) default to the active model's, so
    that a retraining keeps the team's bands. `force` promotes a model that looks too good to be true. A column
    that alone ranks the training outcomes almost perfectly is left out (a leak) unless named in `keep`.
    A deal-value model is fitted too when `value` (by default whenever MIN_WON won deals have amounts; True
    insists); `min_amount` makes the target "won with at least this amount"."""
    if scorer is None:
        hot, warm = _shares(engine, shares)
        scorer = LeadScorer(hot_share=hot, warm_share=warm)
    check_shares(scorer.hot_share, scorer.warm_share)  # before the slow part
    started = time.perf_counter()
    data = training_data(engine, min_amount)
    with_amounts = int(np.count_nonzero(np.nan_to_num(data.amounts, nan=0.0) > 0)) if data.amounts is not None else 0
    if value and with_amounts < MIN_WON:
        raise NotEnoughOutcomesError(f"{with_amounts} won deals have an amount: a value model needs {MIN_WON} at "
                                     "least (the outcomes file's amount column)")
    if data.order == "random":  # rows with no time have no newest to weigh more
        scorer = clone(scorer).set_params(half_lives=())
    train_rows, hold_rows = data.split()
    converted = int(data.labels.sum())
    if converted < WARN_POSITIVES:  # once per training, not once per model fitted in it
        log.warning("only %d conversions: scores will be noisy until there are %d", converted, WARN_POSITIVES)
    leaks = left_out_columns(data.features.iloc[train_rows], data.labels[train_rows], keep)
    data.features = data.features.drop(columns=list(leaks))
    train_x, hold_x = data.features.iloc[train_rows], data.features.iloc[hold_rows]
    train_y, hold_y = data.labels[train_rows], data.labels[hold_rows]
    weights = feedback_weights(data.features)
    fit_started = time.perf_counter()
    model = scorer.fit(train_x, train_y, None if weights is None else weights[train_rows])
    seconds = time.perf_counter() - fit_started
    probability = model.predict_proba(hold_x)[:, 1]
    points = rule_points(hold_x)
    comparison = compare(hold_y, probability, points)
    positives = int(hold_y.sum())
    metrics: dict[str, Any] = {
        **comparison["model"], "rules_auc": comparison["rules"]["auc"], "rules": comparison["rules"],
        "auc_gain": comparison["auc_gain"], "rules_apply": comparison["rules_apply"],
        "train_seconds": round(seconds, 2), "train_leads": len(train_rows),
        "holdout_leads": int(len(hold_y)), "holdout": data.order, "trees": model.best_iteration_ + 1,
        "depth": model.depth_, "holdout_contestants": model.contestants_, "holdout_winner": model.winner_,
        "ece": expected_calibration_error(hold_y, probability),
        "calibration_slope": calibration_slope(hold_y, probability),
        "auc_interval": list(auc_interval(comparison["model"]["auc"], positives, len(hold_y) - positives)),
        "baseline_auc": baseline_auc(train_x, train_y, hold_x, hold_y),
        "without_conversation_auc": _auc_without(model, train_x, train_y, hold_x, hold_y, "conv."),
        "left_out": leaks,
    }
    metrics["feedback"] = _feedback_effect(model, probability, train_x, train_y, hold_x, hold_y)
    with engine.connect() as conn:  # judged leads not decided yet: they teach a later training
        waiting = len({v.lead_id for v in verdicts(conn=conn)} - set(data.features.index))
    if waiting:
        metrics["feedback"] = {**(metrics["feedback"] or {"leads": 0}), "waiting": waiting}
    metrics["drift_reference"] = drift_reference(model, train_x, probability)
    refused = _refusal(metrics, force)
    active = registry.active_version(engine)
    promoted = refused is None and active is None
    if refused is None and active is not None:
        promoted = _beats(active, model, metrics, data, hold_rows)
    everything = data.everything()
    deployed = LeadScorer(**{**model.get_params(), "max_depth": model.depth_}).fit(
        data.features.iloc[everything], data.labels[everything],
        None if weights is None else weights[everything])  # the newest decisions teach it too
    deployed.band_thresholds_ = thresholds(deployed.predict_proba(data.features)[:, 1], deployed.hot_share,
                                           deployed.warm_share)  # the bands of a small pipeline
    metrics["deployed_on"] = len(everything)
    if min_amount is not None:
        metrics["target"] = f"won with an amount of at least {min_amount:g}"
    metrics["segments"] = fit_segments(data.features, data.labels, in_time_order=data.order != "random")
    if value is not False and data.amounts is not None:
        deployed.value_ = fit_value(deployed, data.features, data.amounts, in_time_order=data.order != "random")
        metrics["value"] = deployed.value_.metrics if deployed.value_ is not None else None
    # The holdout judged the whole procedure, tournament included; run again on every decision, its tournament
    # is judged on the newest of them, which may crown another contestant: the deployed one is reported.
    metrics["contestants"], metrics["winner"] = deployed.contestants_, deployed.winner_
    metrics["half_life"] = deployed.half_life_  # the recency half-life its linear part took, if any
    metrics["seconds"] = round(time.perf_counter() - started, 2)
    metrics["seconds_per_10k_leads"] = round(metrics["seconds"] * 10_000 / max(len(everything), 1), 2)
    metrics["refused"] = refused
    version = registry.save_version(engine, deployed, metrics=metrics, window=_window(data.decided))
    if promoted:
        registry.activate(engine, version.version)
    written = save_plots(plots, hold_y, probability, points) if plots else []
    return TrainingReport(version.version, promoted, metrics, lift_table(hold_y, probability),
                          [data.external_ids[i] for i in hold_rows], written, (model.hot_share, model.warm_share))


def left_out_columns(features: pd.DataFrame, labels: np.ndarray, keep: tuple[str, ...] = ()) -> dict[str, str]:
    """Columns training leaves out, each with why: leaks (see `leaking_columns`) and ids (a CRM attribute holding
    a different whole number, or a different text, on nearly every row: a record number says nothing about a
    lead, and a category seen once teaches nothing)."""
    kept = {name.removeprefix("attr.").lower() for name in keep}
    found = {name: f"a leak: alone it ranks the outcomes with AUC {auc:.3f}, so it is probably known only once "
                   "a lead is decided" for name, auc in leaking_columns(features, labels, keep).items()}
    for name in features.columns:
        column = features[name]
        if not str(name).startswith("attr.") or name in found or str(name).removeprefix("attr.").lower() in kept:
            continue
        if isinstance(column.dtype, pd.CategoricalDtype) or column.dtype == object:
            filled = column.dropna()
            if len(filled) > 20 and filled.nunique() >= 0.99 * len(filled):
                found[str(name)] = "an id: a different value on nearly every row"
            continue
        values = pd.to_numeric(column, errors="coerce").dropna()
        if len(values) >= 0.9 * len(column) and len(values) > 20 and (values == values.round()).all() \
                and values.nunique() >= 0.99 * len(values):
            found[str(name)] = "an id: a different whole number on nearly every row"
    return found


def leaking_columns(features: pd.DataFrame, labels: np.ndarray, keep: tuple[str, ...] = ()) -> dict[str, float]:
    """Columns that alone rank the outcomes almost perfectly (AUC at least LEAK_AUC either way), with that AUC:
    usually known only once a lead is decided ("Win Probability", a closing reason). Categories are judged by
    their conversion rate, levels seen fewer than LEAK_MIN_LEVEL times counting as the average."""
    kept = {name.removeprefix("attr.").lower() for name in keep}
    found: dict[str, float] = {}
    for name in features.columns:
        if name.lower() in kept or name.removeprefix("attr.").lower() in kept:
            continue
        column = features[name]
        if isinstance(column.dtype, pd.CategoricalDtype) or column.dtype == object:
            text = column.astype(object).where(column.notna(), "(missing)").astype(str)
            rates = pd.Series(labels, index=column.index).groupby(text).agg(["mean", "size"])
            rate = rates["mean"].where(rates["size"] >= LEAK_MIN_LEVEL, float(labels.mean()))
            values = text.map(rate).to_numpy(dtype=float)
        else:
            values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
            if np.isnan(values).all():
                continue
            values = np.where(np.isnan(values), np.nanmin(values) - 1, values)
        if np.unique(values).size < 2:
            continue
        auc = float(roc_auc_score(labels, values))
        if max(auc, 1 - auc) >= LEAK_AUC:
            found[str(name)] = round(max(auc, 1 - auc), 4)
    return found


def _beats(active: Any, model: LeadScorer, metrics: dict[str, Any], data: TrainingData, hold_rows: np.ndarray) -> bool:
    """Whether the candidate beats the active model: on the holdout decisions the active model never saw (those
    after its window) when there are enough of them, else by their own holdout AUCs (each measured on decisions
    its model had not seen; a tie goes to the candidate, which learnt from more)."""
    held = hold_rows
    if data.order == "time" and active.window_end is not None:
        end = pd.Timestamp(active.window_end).tz_localize(None).to_julian_date()
        held = hold_rows[data.decided[hold_rows] > end]
    labels = data.labels[held]
    if min(int(labels.sum()), int(len(labels) - labels.sum())) >= MIN_HOLDOUT_CLASS:
        features = data.features.iloc[held]
        candidate = float(roc_auc_score(labels, model.predict_proba(features)[:, 1]))
        incumbent = float(roc_auc_score(labels, registry.load_scorer(active).predict_proba(features)[:, 1]))
        metrics.update(compared_on=len(held), candidate_auc_on_unseen=candidate, active_auc_on_holdout=incumbent)
        return candidate > incumbent
    recorded = active.metrics.get("auc")
    metrics.update(compared_on=0, active_auc_on_holdout=recorded)
    return recorded is None or metrics["auc"] >= float(recorded) - 0.005


def _refusal(metrics: dict[str, Any], force: bool) -> str | None:
    """Why a candidate must not be promoted, in one line, or None. (Its own calibration is always increasing:
    whether higher scores mean higher chances on decisions it never saw is the holdout's to say.)"""
    low, _ = metrics["auc_interval"]
    if low <= 0.5:
        return (f"no signal: holdout AUC {metrics['auc']:.3f} is not clearly above 0.5 (its 95% interval reaches "
                f"{low:.3f}); the outcomes may not depend on what Hotlead can see")
    if metrics["calibration_slope"] <= 0:
        return (f"calibration slope {metrics['calibration_slope']:.2f} on the holdout is not positive: higher "
                "scores would mean lower chances")
    if metrics["auc"] >= TOO_GOOD_AUC and not force:
        return (f"too good to be true: holdout AUC {metrics['auc']:.3f}; a column probably gives the outcome away "
                "(drop it on import, or pass --force to promote anyway)")
    return None


def _shares(engine: Engine, given: tuple[float | None, float | None]) -> tuple[float, float]:
    """The hot and warm shares asked for, else the active model's, else the defaults."""
    active = registry.active_version(engine)
    kept_hot, kept_warm = shares_of(active.params if active is not None else {})
    hot, warm = given
    return (kept_hot if hot is None else hot), (kept_warm if warm is None else warm)


def _auc_without(
    model: LeadScorer, train_x: pd.DataFrame, train_y: np.ndarray, hold_x: pd.DataFrame, hold_y: np.ndarray,
    prefix: str,
) -> float | None:
    """Holdout AUC of the same model trained without one feature family (what that family buys)."""
    family = [c for c in train_x.columns if c.startswith(prefix)]
    if not any(train_x[c].nunique(dropna=True) > 1 for c in family):
        return None  # no such feature, or none that varies (a CRM export holds no conversation): nothing to buy
    keep = [c for c in train_x.columns if not c.startswith(prefix)]
    dropped = LeadScorer(**{**model.get_params(), "max_depth": model.depth_}).fit(train_x[keep], train_y)
    return float(roc_auc_score(hold_y, dropped.predict_proba(hold_x[keep])[:, 1]))


def feedback_weights(features: pd.DataFrame) -> np.ndarray | None:
    """Each decision's weight in the trees' training: FEEDBACK_WEIGHT where a rep had judged the lead by then,
    else 1; None when no rep judged any (the model is trained as it always was)."""
    if FEEDBACK not in features or not features[FEEDBACK].notna().any():
        return None
    return np.where(features[FEEDBACK].notna().to_numpy(), FEEDBACK_WEIGHT, 1.0)


def _feedback_effect(model: LeadScorer, probability: np.ndarray, train_x: pd.DataFrame, train_y: np.ndarray,
                     hold_x: pd.DataFrame, hold_y: np.ndarray) -> dict[str, Any] | None:
    """What reps' feedback did to the model, on the same holdout: its AUC against the same model trained
    without the feedback feature or weights, how far the holdout's probabilities moved, and how often the
    verdicts agreed with what happened (hotter: converted; no budget or not a fit: did not). None without any."""
    if FEEDBACK not in train_x or not train_x[FEEDBACK].notna().any():
        return None
    keep = [c for c in train_x.columns if c != FEEDBACK]
    without = LeadScorer(**{**model.get_params(), "max_depth": model.depth_}).fit(train_x[keep], train_y)
    before = without.predict_proba(hold_x[keep])[:, 1]
    signs = np.concatenate([train_x[FEEDBACK].to_numpy(dtype=float), hold_x[FEEDBACK].to_numpy(dtype=float)])
    outcomes = np.concatenate([train_y, hold_y])
    judged = ~np.isnan(signs) & (signs != 0)
    agreed = (signs[judged] > 0) == (outcomes[judged] == 1)
    auc, auc_without = float(roc_auc_score(hold_y, probability)), float(roc_auc_score(hold_y, before))
    return {"leads": int(judged.sum()), "holdout_leads": int(hold_x[FEEDBACK].notna().sum()),
            "agreed": round(float(agreed.mean()), 4) if judged.any() else None, "weight": FEEDBACK_WEIGHT,
            "auc": round(auc, 4), "auc_without": round(auc_without, 4), "auc_change": round(auc - auc_without, 4),
            "holdout_mean_move_pts": round(float(np.abs(probability - before).mean()) * 100, 2)}


def drift_reference(model: LeadScorer, train_x: pd.DataFrame, holdout_probability: np.ndarray) -> dict[str, Any]:
    """What later drift checks compare with: the training rows' important features and the holdout's
    probabilities (the model's own scores on rows it never saw), binned by decile."""
    return drift.reference(model, train_x, holdout_probability)
