"""Honest holdout evaluation: ranking metrics, lift by decile, calibration, and the model-vs-rules report.

Scores may be probabilities or rule points. Rule points tie a lot (a CRM data set scores 0 everywhere), and
a holdout is often sorted by date or outcome, so tied leads are never split by row order: each tied group
counts its conversion rate in every position it occupies, which is what a random tie-break gives on average.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from scoring.auc import auc_standard_error

HEALTHY_QUARTILE_RATIO = 2.0


def _check(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes as 0/1 floats and finite scores of the same length, or a ValueError saying what is wrong."""
    y_arr = np.asarray(y, dtype=float).ravel()
    p_arr = np.asarray(p, dtype=float).ravel()
    if len(y_arr) != len(p_arr):
        raise ValueError(f"{len(y_arr)} outcomes but {len(p_arr)} scores")
    if len(y_arr) == 0:
        raise ValueError("the holdout is empty")
    if not np.isin(y_arr, (0.0, 1.0)).all():
        raise ValueError("outcomes must be 0 or 1")
    if not np.isfinite(p_arr).all():
        raise ValueError("scores must be finite numbers")
    return y_arr, p_arr


def _slots(y: np.ndarray, p: np.ndarray, *, best_first: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Scores in rank order and each position's outcome, with tied scores sharing their group's mean outcome."""
    shared = pd.Series(y).groupby(p).transform("mean").to_numpy(dtype=float)
    order = np.argsort(-p if best_first else p, kind="stable")  # rank(method="first")
    return p[order], shared[order]


def _rate(converted: float, leads: int) -> float:
    return converted / leads if leads else 0.0


def evaluate(y: np.ndarray, p: np.ndarray, probabilities: bool = True) -> dict[str, float]:
    """Rank metrics, conversion of the top and bottom slices, and the Brier score when `p` are probabilities."""
    y, p = _check(y, p)
    if y.min() == y.max():
        raise ValueError("the holdout needs both converted and unconverted leads")
    _, slot = _slots(y, p)
    n = len(y)
    k20, k25 = max(1, round(n * 0.2)), max(1, round(n * 0.25))
    bottom_converted = float(slot[n - k25 :].sum())
    bottom_rate = _rate(bottom_converted, k25)
    if bottom_rate == 0:  # keep the ratio finite: add half a conversion to an empty bottom quartile
        bottom_rate = (bottom_converted + 0.5) / (k25 + 1)
    metrics = {
        "auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "top20_rate": _rate(float(slot[:k20].sum()), k20),
        "bottom20_rate": _rate(float(slot[n - k20 :].sum()), k20),
        "quartile_ratio": _rate(float(slot[:k25].sum()), k25) / bottom_rate,
        "base_rate": float(y.mean()),
        "n": float(n),
        "positives": float(y.sum()),
    }
    if probabilities:
        if p.min() < 0 or p.max() > 1:
            raise ValueError("scores outside [0, 1] are not probabilities: pass probabilities=False")
        metrics["brier"] = float(brier_score_loss(y, p))
    return metrics


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """ECE: over equal-count bins of the probability, the gap between mean probability and conversion rate,
    weighted by the bin's share of leads."""
    y, p = _check(y, p)
    order = np.argsort(p, kind="stable")
    gaps = [len(part) * abs(float(p[part].mean()) - float(y[part].mean()))
            for part in np.array_split(order, min(bins, len(order))) if len(part)]
    return float(sum(gaps) / len(y))


def calibration_slope(y: np.ndarray, p: np.ndarray) -> float:
    """The slope of the outcomes' log-odds on the probabilities' log-odds (1 is ideal; 0 or below means the
    probabilities do not rank, or rank backwards)."""
    from sklearn.linear_model import LogisticRegression

    y, p = _check(y, p)
    clipped = np.clip(p, 1e-6, 1 - 1e-6)
    logit = np.log(clipped / (1 - clipped)).reshape(-1, 1)
    return float(LogisticRegression(C=1e6).fit(logit, y).coef_[0, 0])


def auc_interval(auc: float, positives: int, negatives: int) -> tuple[float, float]:
    """An approximate 95% interval of an AUC (Hanley & McNeil, 1982)."""
    half = 1.96 * auc_standard_error(auc, positives, negatives)
    return auc - half, auc + half


def lift_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Equal-count bins best first: leads, conversions, rate, lift over the base rate, cumulative capture."""
    y, p = _check(y, p)
    _, slot = _slots(y, p)
    chunks = [chunk for chunk in np.array_split(slot, bins) if len(chunk)]
    converted = np.array([chunk.sum() for chunk in chunks])
    captured = np.cumsum(converted)
    total, base_rate = captured[-1], y.mean()
    return [
        {
            "decile": i + 1,
            "leads": len(chunk),
            "converted": float(converted[i]),
            "rate": _rate(float(converted[i]), len(chunk)),
            "lift": _rate(float(converted[i]), len(chunk)) / base_rate if base_rate else 0.0,
            "cumulative_capture": float(captured[i] / total) if total else 0.0,
        }
        for i, chunk in enumerate(chunks)
    ]


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Equal-count bins from the lowest score up: mean predicted probability against the observed rate."""
    y, p = _check(y, p)
    ranked, slot = _slots(y, p, best_first=False)
    return [
        {"predicted": float(scores.mean()), "observed": float(outcomes.mean()), "leads": len(scores)}
        for scores, outcomes in zip(np.array_split(ranked, bins), np.array_split(slot, bins), strict=True)
        if len(scores)
    ]


def compare(y: np.ndarray, model_p: np.ndarray, rules_points: np.ndarray) -> dict[str, Any]:
    """The model's probabilities and the rules' points evaluated on the same holdout, and the AUC gained."""
    model = evaluate(y, model_p)
    rules = evaluate(y, rules_points, probabilities=False)
    applies = bool(np.ptp(np.asarray(rules_points, dtype=float))) if len(rules_points) else False
    return {"model": model, "rules": rules, "auc_gain": model["auc"] - rules["auc"], "rules_apply": applies}


def _count(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def format_report(comparison: dict[str, Any], lift: list[dict[str, float]]) -> str:
    """A plain-text terminal report: model vs rules side by side, then lift by decile."""
    model, rules = comparison["model"], comparison["rules"]
    rows = [
        ("AUC", "auc", "{:.3f}", ""),
        ("PR-AUC", "pr_auc", "{:.3f}", ""),
        ("Top 20% conversion", "top20_rate", "{:.1%}", ""),
        ("Bottom 20% conversion", "bottom20_rate", "{:.1%}", ""),
        ("Top/bottom quartile", "quartile_ratio", "{:.1f}x", f"healthy above {HEALTHY_QUARTILE_RATIO:g}"),
        ("Brier (lower is better)", "brier", "{:.3f}", ""),
    ]
    lines = [f"{'':<24}{'model':>9}{'rules':>9}"]
    for label, key, fmt, note in rows:
        cells = [fmt.format(side[key]) if key in side else "-" for side in (model, rules)]
        lines.append(f"{label:<24}{cells[0]:>9}{cells[1]:>9}  {note}".rstrip())
    if comparison.get("rules_apply", True):
        lines.append(f"AUC gain over rules: {comparison['auc_gain']:+.3f}")
    else:
        lines.append("Rules do not apply here: the data hold no activity, so every lead scores 0 points (compare "
                     "with the logistic regression instead)")
    lines.append(
        f"Holdout: {model['n']:,.0f} leads, {model['positives']:,.0f} converted (base rate {model['base_rate']:.1%})"
    )
    lines += [
        "",
        "Lift by decile",
        f"{'decile':>6}{'leads':>8}{'converted':>11}{'rate':>8}{'lift':>7}{'captured':>10}",
    ]
    for row in lift:
        lines.append(
            f"{row['decile']:>6.0f}{row['leads']:>8,.0f}{_count(row['converted']):>11}{row['rate']:>8.1%}"
            f"{row['lift']:>6.2f}x{row['cumulative_capture']:>10.1%}"
        )
    return "\n".join(lines)


def _lift_figure(y: np.ndarray, model_p: np.ndarray, rules_points: np.ndarray) -> Figure:
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    for name, scores, shift in (("model", model_p, -0.2), ("rules", rules_points, 0.2)):
        table = lift_table(y, scores)
        ax.bar([row["decile"] + shift for row in table], [row["rate"] for row in table], width=0.4, label=name)
    ax.axhline(float(np.mean(y)), color="grey", linestyle="--", linewidth=1, label="base rate")
    ax.set(xlabel="decile (1 = highest score)", ylabel="conversion rate", title="Conversion by decile")
    ax.set_xticks(range(1, 11))
    ax.legend()
    return fig


def _calibration_figure(y: np.ndarray, model_p: np.ndarray) -> Figure:
    table = calibration_table(y, model_p)
    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    ax.plot([row["predicted"] for row in table], [row["observed"] for row in table], marker="o", label="model")
    ax.set(xlabel="predicted probability", ylabel="observed conversion rate", title="Calibration", xlim=(0, 1))
    ax.set_ylim(0, 1)
    ax.legend()
    return fig


def save_plots(directory: Path, y: np.ndarray, model_p: np.ndarray, rules_points: np.ndarray) -> list[Path]:
    """Write lift.png (conversion by decile, model vs rules) and calibration.png into `directory`."""
    # A pyplot-free Figure renders PNG through Agg without switching the process-wide backend.
    directory.mkdir(parents=True, exist_ok=True)
    figures = {"lift.png": _lift_figure(y, model_p, rules_points), "calibration.png": _calibration_figure(y, model_p)}
    for name, fig in figures.items():
        fig.savefig(directory / name, dpi=100)
    return [directory / name for name in figures]
