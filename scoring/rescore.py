"""Score every active lead with the active model and append to the score history what moved."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from scoring import registry, stored_reasons
from scoring.bands import bands_of
from scoring.errors import NoModelError
from scoring.features import build_features
from scoring.feedback import pins
from scoring.model import LeadScorer
from scoring.stops import CAP, GROUP, judgements, stop_reason, stops
from storage import queries
from storage.db import json_dumps
from storage.history import insert_scores, stamp, verdicts

EPSILON = 0.005  # a probability move smaller than this (with the same band) is not history
REASONS_KEPT = 3
WRITE_CHUNK = 4096  # history rows explained and inserted at a time
FINAL = ("won", "lost")


@dataclass
class Scored:
    """Scores of a set of leads, with what is needed to explain them."""

    features: pd.DataFrame
    encoded: np.ndarray  # the features as the model reads them
    probability: np.ndarray
    percentile: np.ndarray
    band: np.ndarray
    margin: np.ndarray  # the calibrated log-odds: logit(probability)
    version_id: int
    scorer: LeadScorer
    stopped: np.ndarray  # per lead, the sentence of the stop that caps its band (see scoring.stops), or None
    pinned: np.ndarray | None = None  # per lead, the band a rep's verdict pins (see scoring.feedback), or None

    def contributions(self, rows: np.ndarray | None = None) -> pd.DataFrame:
        """Exact contributions (plus `bias`) of the given rows (default: all) in the probability's log-odds,
        computed on demand: it is the costly part of scoring, and only leads whose history row is written need
        it."""
        chosen = slice(None) if rows is None else rows
        return pd.DataFrame(self.scorer.log_odds(self.scorer.pred_contribs(self.encoded[chosen])),
                            index=self.features.index[chosen], columns=[*self.scorer.feature_names_in_, "bias"])

    def explained(self, rows: np.ndarray) -> np.ndarray:
        """`contributions` of `rows` as an array, read from the TreeSHAP tables (many rows at once)."""
        return self.scorer.log_odds(self.scorer.encoded_contributions(self.encoded[rows]))

    def picked(self, rows: np.ndarray, keep: int = REASONS_KEPT,
               contributions: np.ndarray | None = None) -> tuple[stored_reasons.Picked, stored_reasons.Sentences]:
        """The `keep` strongest reason groups of the given rows and their sentences (from `contributions` of
        these rows when already computed)."""
        if contributions is None:
            contributions = self.explained(rows)
        picked = stored_reasons.pick(contributions, tuple(str(n) for n in self.scorer.feature_names_in_), keep)
        return picked, stored_reasons.sentences(self.features, rows, picked, getattr(self.scorer, "presence_", {}))

    def history_reasons(self, rows: np.ndarray) -> Iterator[tuple[np.ndarray, list[str]]]:
        """The reasons JSON of `rows`, chunk by chunk: the next chunk's contributions (numpy work, mostly without
        the GIL) are computed in a second thread while this one writes the current chunk's sentences."""
        chunks = [rows[start : start + WRITE_CHUNK] for start in range(0, len(rows), WRITE_CHUNK)]
        with ThreadPoolExecutor(max_workers=1) as explainer:
            ahead = [explainer.submit(self.explained, c) for c in chunks[:1]]
            for k, chunk in enumerate(chunks):
                contributions = ahead.pop().result()
                if k + 1 < len(chunks):
                    ahead.append(explainer.submit(self.explained, chunks[k + 1]))
                texts = stored_reasons.as_json(*self.picked(chunk, contributions=contributions))
                yield chunk, [texts[i] if stop is None else _stop_first(stop, texts[i])
                              for i, stop in enumerate(self.stopped[chunk].tolist())]


def active_scorer(engine: Engine) -> tuple[LeadScorer, int]:
    """The active model, or NoModelError saying how to get one."""
    version_id = registry.active_version_id(engine)
    if version_id is None:
        raise NoModelError("no model is active yet: import outcomes and run `hotlead train`")
    return registry.cached_scorer(engine, version_id), version_id


def active_cutoffs(engine: Engine, now: float | None = None, among: Sequence[int] | None = None) -> pd.Series:
    """Every lead still in play (no outcome, not closed), or those of `among`, with `now` as its cutoff."""
    moment = now if now is not None else pd.Timestamp.now(tz="UTC").to_julian_date()
    with engine.connect() as conn:
        ids = queries.open_lead_ids(conn=conn, among=among)
    return pd.Series(moment, index=ids, dtype=float)


def score_leads(engine: Engine, cutoffs: pd.Series, population: np.ndarray | None = None) -> Scored:
    """Score leads as of their cutoffs; percentiles are among `population` probabilities (default: these)."""
    scorer, version_id = active_scorer(engine)
    features = build_features(engine, cutoffs)
    encoded = scorer.encode(features)
    slope, intercept = scorer.calibration_
    margin = slope * scorer.encoded_margin(encoded) + intercept  # the probability's log-odds
    probability = 1.0 / (1.0 + np.exp(-margin))
    reference = np.sort(probability if population is None else population)
    percentile = 100.0 * np.searchsorted(reference, probability, side="right") / max(len(reference), 1)
    band = bands_of(probability, percentile, len(reference), scorer.hot_share, scorer.warm_share,
                    getattr(scorer, "band_thresholds_", None))  # artifacts older than these get the defaults
    with engine.connect() as conn:
        said = verdicts(conn=conn, lead_ids=[int(i) for i in cutoffs.index])
    pinned = pins(said, cutoffs)
    band = np.where(pd.isna(pinned), band, pinned)  # a rep's "hotter" or "no budget" holds until its date
    stopped = stops(features, judgements(said, cutoffs))
    band = np.where(pd.isna(stopped), band, CAP)  # a signal that must win caps the band, whatever the model says
    return Scored(features, encoded, probability, percentile, band, margin, version_id, scorer, stopped, pinned)


def _stop_first(stop: str, reasons: str) -> str:
    """A stored reasons JSON list with the stop's reason put first."""
    first = json_dumps(stop_reason(stop))
    return f"[{first}]" if reasons == "[]" else f"[{first},{reasons[1:]}"


def top_reasons(scored: Scored, rows: np.ndarray, keep: int = REASONS_KEPT) -> list[list[dict[str, Any]]]:
    """The strongest reasons (either sign) for each of `rows`, grouped by family, as stored in history."""
    if not len(rows):
        return []
    found = stored_reasons.as_dicts(*scored.picked(np.asarray(rows), keep))
    return [reasons if text is None else [stop_reason(text), *reasons]
            for reasons, text in zip(found, scored.stopped[np.asarray(rows)].tolist(), strict=True)]


@dataclass
class RescoreResult:
    """What a rescore did."""

    leads: int
    written: int
    seconds: float
    version_id: int


@contextmanager
def _bulk() -> Iterator[None]:
    """Pause the cyclic garbage collector: a rescore makes millions of short-lived, acyclic objects (rows,
    numbers, sentences), and each full collection would walk all of them (measured: 0.2-0.3 s a rescore)."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def rescore(engine: Engine, now: float | None = None) -> RescoreResult:
    """Score all active leads as of `now` (a julian day; default: now); append a score row where the
    probability moved or the band changed."""
    with _bulk():
        return _rescore(engine, now)


def rescore_past(engine: Engine, moment: datetime) -> RescoreResult:
    """Score the leads that were in play at `moment` (created by then, not yet decided) as of then, and append
    the rows that moved, dated then: how a pipeline gets a score history it would have had (the demo's weeks
    before today). Call it oldest moment first."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    with engine.connect() as conn:
        ids = queries.lead_ids_open_at(conn=conn, moment=stamp(moment))
    julian = pd.Timestamp(moment.replace(tzinfo=None)).to_julian_date()
    with _bulk():
        return _rescore(engine, julian, pd.Series(julian, index=ids, dtype=float), moment)


def _rescore(engine: Engine, now: float | None, cutoffs: pd.Series | None = None,
             scored_at: datetime | None = None) -> RescoreResult:
    started = time.perf_counter()
    cutoffs = active_cutoffs(engine, now) if cutoffs is None else cutoffs
    if cutoffs.empty:
        return RescoreResult(0, 0, time.perf_counter() - started, active_scorer(engine)[1])
    scored = score_leads(engine, cutoffs)
    ids = cutoffs.index.to_numpy()
    with engine.connect() as conn:
        latest = queries.latest_with_lead_reason(conn=conn, group=GROUP)
    rows = _moved(ids, scored, latest)
    if len(rows):
        _append(engine, scored, ids, rows, scored_at or datetime.now(UTC))
    return RescoreResult(len(ids), len(rows), time.perf_counter() - started, scored.version_id)


def _append(engine: Engine, scored: Scored, ids: np.ndarray, rows: np.ndarray, moment: datetime) -> None:
    """Append the history rows of `rows` in one transaction; each chunk is inserted in a second thread (SQLite
    writes without the GIL) while the next chunk's reasons are written."""
    scored_at = stamp(moment)
    with engine.begin() as conn, ThreadPoolExecutor(max_workers=1) as writer:
        inserting: list[Future[Any]] = []
        for chunk, reasons in scored.history_reasons(rows):
            records = list(zip(
                ids[chunk].tolist(), [scored.version_id] * len(chunk), [scored_at] * len(chunk),
                scored.probability[chunk].tolist(), scored.percentile[chunk].tolist(), scored.band[chunk].tolist(),
                reasons, strict=True,
            ))
            for done in inserting:  # one statement at a time on the connection
                done.result()
            inserting = [writer.submit(insert_scores, conn=conn, records=records)]
        for done in inserting:
            done.result()


def _moved(ids: np.ndarray, scored: Scored, latest: Sequence[Any]) -> np.ndarray:
    """Rows whose lead has no score yet, or whose probability moved more than EPSILON, or whose band or stop
    changed (a rep's "not a fit" moves no feature, but must show at once)."""
    if not latest:
        return np.arange(len(ids))
    last = pd.DataFrame(list(latest), columns=["lead", "probability", "band", "stopped"]).set_index("lead")
    last = last.reindex(ids)
    stopped = np.array([r if isinstance(r, str) else None for r in last["stopped"]], dtype=object)
    moved = (last["probability"].isna().to_numpy() | (np.abs(last["probability"].to_numpy() - scored.probability)
                                                        > EPSILON) | (last["band"].to_numpy() != scored.band)
             | (stopped != scored.stopped))
    return np.flatnonzero(moved)
