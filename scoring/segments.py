"""Segments nobody defined: k-means over the scoring features of the decided leads, each segment described by what
sets it apart (in the reason sentences `why` uses), with its conversion rate against the base rate.

The features are made comparable first: counts and amounts (never negative, long-tailed) through log1p, every
column standardised, constant ones dropped, and the columns of one reason group scaled down together so that each
group weighs as one feature; categories stay out (distances between labels mean nothing). k runs from 2 to MAX_K
and is judged forward in time (see fit_segments): the silhouette, tried first, preferred two segments on the demo
and merged its hidden one into "engaged leads". A segment is described by the reason groups whose features differ
most from the other leads' (in standard deviations): up to DESCRIBED_BY it has more of, then up to LACKING_BY it
clearly lacks ("No email replies in 90 days"), each sentence written with the segment's median lead. The fitted
model (columns, transforms, centres) is kept with the model version, so that open leads are placed in the segment
of the nearest centre.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import skew
from sklearn.cluster import KMeans
from sqlalchemy import Engine

from scoring import registry
from scoring.experiment import wilson
from scoring.explain import describe, group_of
from scoring.features import build_features
from scoring.rescore import active_cutoffs
from storage import queries

MAX_K = 10
HELD_OUT = 0.3  # the newest share of the fitted rows that judges each k
PRIOR = 2.0  # leads' worth of the base rate added to each segment's rate when judging k
N_INIT = 8  # k-means starts per k
FIT_ROWS = 10_000  # rows k-means is fitted on (a random sample of the decided leads)
DESCRIBED_BY = 3  # reason groups a segment has more of, in its description
LACKING_BY = 2  # and those it has less of
MORE_AT = 0.25  # standard deviations above the other leads, before a difference is worth saying
LACKING_AT = 0.5  # and below them, before a lack is
MIN_ROWS = 200  # decided leads, before segments are looked for


@dataclass(frozen=True)
class SegmentSpace:
    """How leads are placed: the columns, their transforms and scales, and the segments' centres."""

    columns: list[str]
    logged: list[bool]
    means: list[float]
    scales: list[float]
    centres: list[list[float]]

    def matrix(self, features: pd.DataFrame) -> np.ndarray:
        """The leads' standardised coordinates (a missing value sits at the mean)."""
        values = features.reindex(columns=self.columns).apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float,
                                                                                                     copy=True)
        logged = np.asarray(self.logged)
        values[:, logged] = np.log1p(np.clip(values[:, logged], 0.0, None))
        z = (values - np.asarray(self.means)) / np.asarray(self.scales)
        return np.nan_to_num(z, nan=0.0)

    def assign(self, features: pd.DataFrame) -> np.ndarray:
        """Each lead's segment number (1-based): that of the nearest centre."""
        z = self.matrix(features)
        centres = np.asarray(self.centres)
        distances = ((z[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        return distances.argmin(axis=1) + 1

    def as_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "logged": self.logged, "means": self.means, "scales": self.scales,
                "centres": self.centres}

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> SegmentSpace:
        return cls(list(stored["columns"]), list(stored["logged"]), list(stored["means"]), list(stored["scales"]),
                   [list(c) for c in stored["centres"]])


def _space(features: pd.DataFrame) -> tuple[list[str], list[bool], np.ndarray]:
    """The numeric columns that vary, whether each is logged, and the transformed values."""
    numeric = [str(c) for c in features.columns
               if not isinstance(features[c].dtype, pd.CategoricalDtype) and pd.api.types.is_numeric_dtype(features[c])]
    values = features[numeric].to_numpy(dtype=float)
    columns, logged, kept = [], [], []
    for j, name in enumerate(numeric):
        column = values[:, j]
        known = column[~np.isnan(column)]
        if len(known) < 2 or np.nanstd(column) == 0:
            continue
        log = bool(known.min() >= 0 and skew(known) > 1.0)  # long-tailed counts and sizes
        columns.append(name)
        logged.append(log)
        kept.append(np.log1p(column) if log else column)
    return columns, logged, np.column_stack(kept) if kept else np.empty((len(features), 0))


def fit_segments(features: pd.DataFrame, labels: np.ndarray, seed: int = 0,
                 in_time_order: bool = True) -> dict[str, Any] | None:
    """Segments of the decided leads (features as of each decision, oldest first when `in_time_order`; labels
    converted or not); None with fewer than MIN_ROWS leads or nothing that varies.

    k is chosen as the product is used, forward in time: k-means with each k is fitted on the older rows, each
    segment's conversion rate learnt there predicts the newest HELD_OUT share, and the smallest k whose log-loss
    is within one standard error of the best k's wins (the one-standard-error rule of Breiman et al., as in
    Hastie, Tibshirani and Friedman §7.10): more segments only when they tell conversion apart better. The
    segments are then fitted on all the rows."""
    if len(features) < MIN_ROWS:
        return None
    columns, logged, values = _space(features)
    if not columns:
        return None
    means = np.nanmean(values, axis=0)
    # each reason group weighs as one feature: the six windows of page views must not outvote company size
    sizes = pd.Series([group_of(c) for c in columns]).value_counts()
    shares = np.sqrt([sizes[group_of(c)] for c in columns])
    scales = np.nanstd(values, axis=0) * shares
    z = np.nan_to_num((values - means) / scales, nan=0.0)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(z), size=min(FIT_ROWS, len(z)), replace=False))  # every lead is placed after
    if not in_time_order:
        rows = rng.permutation(rows)
    losses = _held_out_losses(z[rows], labels[rows], int(len(rows) * (1 - HELD_OUT)), seed)
    best = min(losses, key=lambda k: losses[k][0])
    k = min(k for k, (loss, _se) in losses.items() if loss <= losses[best][0] + losses[best][1])
    fitted = KMeans(n_clusters=k, n_init=N_INIT, random_state=seed).fit(z[rows])
    space = SegmentSpace(columns, logged, means.tolist(), scales.tolist(), fitted.cluster_centers_.tolist())
    numbers = fitted.predict(z) + 1
    base = float(labels.mean())
    standard = z * shares  # each column in standard deviations of all leads, for the descriptions
    segments = [_segment(n, features, standard, numbers, labels, base, columns) for n in range(1, k + 1)]
    segments.sort(key=lambda s: -s["conversion_rate"])
    return {"space": space.as_dict(), "k": k, "base_rate": round(base, 6), "segments": segments,
            "leads": int(len(features)),
            "held_out_log_loss": {str(k): {"mean": round(loss, 5), "se": round(se, 5)}
                                  for k, (loss, se) in losses.items()}}


def _held_out_losses(z: np.ndarray, labels: np.ndarray, cut: int, seed: int) -> dict[int, tuple[float, float]]:
    """For each k: the mean log-loss (and its standard error) on z[cut:] of the conversion rates of k segments
    learnt on z[:cut] (each rate drawn towards the older rows' base rate by PRIOR leads)."""
    older, newer = labels[:cut], labels[cut:]
    base = float(older.mean())
    losses = {}
    for k in range(2, MAX_K + 1):
        fitted = KMeans(n_clusters=k, n_init=N_INIT, random_state=seed).fit(z[:cut])
        sizes = np.bincount(fitted.labels_, minlength=k)
        converted = np.bincount(fitted.labels_, weights=older, minlength=k)
        rates = np.clip((converted + PRIOR * base) / (sizes + PRIOR), 1e-6, 1 - 1e-6)[fitted.predict(z[cut:])]
        loss = -(newer * np.log(rates) + (1 - newer) * np.log(1 - rates))
        losses[k] = (float(loss.mean()), float(loss.std(ddof=1) / np.sqrt(len(loss))))
    return losses


def _segment(number: int, features: pd.DataFrame, z: np.ndarray, numbers: np.ndarray, labels: np.ndarray,
             base: float, columns: list[str]) -> dict[str, Any]:
    inside = numbers == number
    converted, size = int(labels[inside].sum()), int(inside.sum())
    low, high = wilson(converted, size)
    gaps = z[inside].mean(axis=0) - z[~inside].mean(axis=0)  # in standard deviations of all leads
    furthest: dict[str, tuple[tuple[bool, float], float]] = {}  # group -> (rank, gap) of its furthest column
    for name, gap in zip(columns, gaps, strict=True):
        rank = (not name.startswith("time."), abs(float(gap)))  # counts before days-since columns (more is less)
        group = group_of(name)
        if group not in furthest or rank > furthest[group][0]:
            furthest[group] = (rank, float(gap))
    ranked = sorted(((g, gap) for g, (_rank, gap) in furthest.items()), key=lambda item: -abs(item[1]))
    typical = features[inside].quantile(0.5, interpolation="lower", numeric_only=True).to_dict()  # no 158.5 employees
    said = {group: describe(group, typical) for group, _gap in ranked}
    # more of it, yet its median lead has none ("No unsubscribes"): a few leads set the mean, not the segment
    more = [item for item in ranked if item[1] >= MORE_AT and not said[item[0]].startswith("No ")][:DESCRIBED_BY]
    less = [item for item in ranked if item[1] <= -LACKING_AT][:LACKING_BY]
    top = more + less or ranked[:DESCRIBED_BY]
    sentences = [said[group] for group, _gap in top]
    return {"segment": number, "size": size, "converted": converted, "conversion_rate": round(converted / size, 6),
            "base_rate": round(base, 6), "ci_low": round(low, 6), "ci_high": round(high, 6),
            "lift": round(converted / size / base, 3) if base else None,
            "description": "; ".join(sentences), "apart": [{"group": g, "gap_sd": round(v, 3)} for g, v in top]}


def open_segments(stored: dict[str, Any], features: pd.DataFrame, probabilities: dict[int, float],
                  listed: int = 5) -> list[dict[str, Any]]:
    """The stored segments with the open leads placed in them (`features` indexed by lead id): each segment's
    count of open leads and its `listed` likeliest (lead ids, by `probabilities`)."""
    numbers = SegmentSpace.from_dict(stored["space"]).assign(features) if len(features) else np.array([], int)
    placed: dict[int, list[int]] = {}
    for lead_id, number in zip(features.index, numbers, strict=True):
        placed.setdefault(int(number), []).append(int(lead_id))
    result = []
    for segment in stored["segments"]:
        members = sorted(placed.get(segment["segment"], []), key=lambda i: -probabilities.get(i, 0.0))
        result.append({**segment, "open_leads": len(members), "leads": members[:listed]})
    return result


def segments_now(engine: Engine, listed: int = 5) -> dict[str, Any] | None:
    """The active model's segments with today's open leads placed in them (each segment's `leads`: the external
    ids of its `listed` likeliest open leads); None when the active model has none (or there is no model)."""
    version = registry.active_version(engine)
    stored = version.metrics.get("segments") if version is not None else None
    if version is None or not stored:
        return None
    with engine.connect() as conn:
        rows = queries.latest_open_scores(conn=conn)
    probabilities = {int(row[8]): float(row[3]) for row in rows}
    external = {int(row[8]): str(row[0]) for row in rows}
    cutoffs = active_cutoffs(engine)
    features = build_features(engine, cutoffs) if len(cutoffs) else pd.DataFrame(index=cutoffs.index)
    found = open_segments(stored, features, probabilities, listed)
    for segment in found:
        segment["leads"] = [external[i] for i in segment["leads"] if i in external]
    return {"version": version.version, "k": stored["k"], "base_rate": stored["base_rate"],
            "decided_leads": stored["leads"], "segments": found}


def segment_of(engine: Engine, lead_id: int) -> dict[str, Any] | None:
    """The active model's segment of one lead, placed as `segments_now` places the open leads (its features now,
    the nearest centre): that segment's stored facts with the model's `version`, `k` and `base_rate`, and `open`.
    A lead no longer in play gets `segment` None (decided leads are what the segments were found in, each as of
    its decision, not as of now); None when the active model has no segments (or there is no model)."""
    version = registry.active_version(engine)
    stored = version.metrics.get("segments") if version is not None else None
    if version is None or not stored:
        return None
    head = {"version": version.version, "k": stored["k"], "base_rate": stored["base_rate"]}
    cutoffs = active_cutoffs(engine, among=[lead_id])
    if not len(cutoffs):
        return {**head, "segment": None, "open": False}
    number = int(SegmentSpace.from_dict(stored["space"]).assign(build_features(engine, cutoffs))[0])
    segment = next(s for s in stored["segments"] if s["segment"] == number)
    return {**segment, **head, "open": True}
