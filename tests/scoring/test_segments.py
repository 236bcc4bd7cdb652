"""Segments: planted groups are found whole, with their own conversion rates and what sets them apart; every lead
is placed in the segment of the nearest centre."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scoring.segments import MAX_K, MIN_ROWS, SegmentSpace, _segment, fit_segments, open_segments


def planted(rows: int = 3000, seed: int = 5) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Three kinds of leads: readers (many docs views, no replies), talkers (replies, few views) and the rest."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(3, rows, p=[0.2, 0.3, 0.5])
    docs = np.where(kind == 0, rng.poisson(12, rows), rng.poisson(1, rows)).astype(float)
    replies = np.where(kind == 1, rng.poisson(8, rows), rng.poisson(0.2, rows)).astype(float)
    employees = rng.lognormal(5, 1, rows)
    features = pd.DataFrame({"beh.page_docs_30d": docs, "beh.email_reply_90d": replies, "firm.employees": employees,
                             "firm.constant": np.ones(rows), "firm.industry": pd.Categorical(["x"] * rows)})
    rate = np.array([0.45, 0.2, 0.05])[kind]
    return features, (rng.random(rows) < rate).astype(int), kind


def test_planted_segments_are_found_whole_with_their_conversion_and_what_sets_them_apart() -> None:
    features, labels, kind = planted()
    found = fit_segments(features, labels)
    assert found is not None and found["k"] == 3
    numbers = SegmentSpace.from_dict(found["space"]).assign(features)
    for planted_kind in range(3):  # each planted group lies (almost) wholly in one segment
        _, counts = np.unique(numbers[kind == planted_kind], return_counts=True)
        assert counts.max() >= 0.9 * (kind == planted_kind).sum()
    readers = next(s for s in found["segments"] if np.mean(kind[numbers == s["segment"]] == 0) > 0.9)
    assert readers["apart"][0]["group"] == "doc visits" and readers["apart"][0]["gap_sd"] > 0
    assert readers["description"].startswith("Read the docs")
    assert readers["description"].endswith("No email replies in 90 days")  # what it lacks is said too
    assert all(a["group"] != "company size" for s in found["segments"] for a in s["apart"])  # it says nothing
    assert readers["conversion_rate"] > 1.5 * found["base_rate"] and readers["ci_low"] < readers["conversion_rate"]
    assert sum(s["size"] for s in found["segments"]) == len(features)
    assert sum(s["converted"] for s in found["segments"]) == labels.sum()
    assert [s["conversion_rate"] for s in found["segments"]] == sorted((s["conversion_rate"] for s in
                                                                        found["segments"]), reverse=True)


def test_k_is_the_fewest_segments_that_predict_the_newest_leads_within_one_standard_error_of_the_best() -> None:
    features, labels, _kind = planted()
    found = fit_segments(features, labels)
    assert found is not None
    losses = found["held_out_log_loss"]
    assert set(losses) == {str(k) for k in range(2, MAX_K + 1)}
    best = min(losses.values(), key=lambda loss: loss["mean"])
    assert found["k"] == min(int(k) for k, loss in losses.items() if loss["mean"] <= best["mean"] + best["se"])
    assert losses["2"]["mean"] > best["mean"] + best["se"]  # merging talkers into the rest predicts worse
    # a wide feature that says nothing about conversion does not earn segments of its own
    noisy = features.assign(**{"firm.revenue": np.random.default_rng(1).lognormal(8, 2, len(features))})
    again = fit_segments(noisy, labels)
    assert again is not None and again["k"] == 3


def test_open_leads_are_placed_and_listed_likeliest_first() -> None:
    features, labels, _kind = planted()
    found = fit_segments(features, labels)
    assert found is not None
    fresh = features.head(60).set_axis(range(1000, 1060))
    probabilities = {lead: lead / 2000 for lead in fresh.index}
    placed = open_segments(found, fresh, probabilities, listed=3)
    assert sum(s["open_leads"] for s in placed) == 60
    for segment in placed:
        assert segment["leads"] == sorted(segment["leads"], reverse=True)[:3]  # likeliest: the highest ids here


def test_too_few_decided_leads_give_no_segments() -> None:
    features, labels, _kind = planted(rows=MIN_ROWS - 1)
    assert fit_segments(features, labels) is None


def test_a_segment_is_not_described_by_what_its_typical_lead_has_none_of() -> None:
    rng = np.random.default_rng(2)
    numbers = np.repeat([1, 2], 500)
    docs = np.where(numbers == 1, rng.poisson(12, 1000), rng.poisson(1, 1000)).astype(float)
    unsubscribed = ((numbers == 1) & (rng.random(1000) < 0.2)).astype(float)  # more than elsewhere, median none
    features = pd.DataFrame({"beh.page_docs_30d": docs, "beh.unsubscribe_90d": unsubscribed})
    z = ((features - features.mean()) / features.std(ddof=0)).to_numpy()
    described = _segment(1, features, z, numbers, (rng.random(1000) < 0.3).astype(int), 0.3, list(features.columns))
    assert [a["group"] for a in described["apart"]] == ["doc visits"]
    assert described["description"] == "Read the docs 12× in the last 30 days"
