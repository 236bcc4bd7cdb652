"""Fit the sentiment and urgency heads on our sentences and on public text nobody here wrote, and measure every
set's held-out part beside VADER. `hotlead nlp train-heads` runs it and ships only the heads' coefficients
(nlp/heads.json).

One head trained on everything at once learns the public sets' notion and forgets ours (urgency on our held-out
sentences fell from 0.996 to 0.897 AUC when public rows outweighed ours), and a fixed blend of two heads only
trades one for the other. So each task gets two linear heads, one fitted on our sentences and one on the public
sets (its strength chosen on their dev parts, never on ours), and a linear gate, fitted to tell our sentences from
public text, mixes their log-odds per text: sales-like messages are read by our head, the rest by the public one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score

from nlp import spans as span_rules
from nlp.analyze import Reader, head_features, lexical
from nlp.corpora import Corpus, own, pick, public
from nlp.embed import Embedder
from nlp.heads import HEADS_FILE, SENTIMENT_CLASSES, Heads, Linear

STRENGTHS = (0.25, 1.0, 4.0)  # the public head's C, chosen on the public dev parts
NEUTRAL_BAND = 0.05  # VADER's own convention: compound within ±0.05 is neutral


class Features:
    """Head features of every distinct text, computed once (the embedding is the costly part)."""

    def __init__(self, embedder: Embedder, progress: Callable[[int, int], None] | None = None) -> None:
        self.embedder = embedder
        self.progress = progress
        self.rows: dict[str, int] = {}
        self.matrix = np.zeros((0, 0))
        self.lexicon = np.zeros((0, 0))

    def add(self, corpora: list[Corpus]) -> None:
        """Compute the features of texts not seen yet, in chunks (with progress)."""
        new = list(dict.fromkeys(t for c in corpora for t in c.texts if t not in self.rows))
        chunk = 2048
        parts, lexica = [], []
        for start in range(0, len(new), chunk):
            texts = new[start : start + chunk]
            lexicon = lexical(texts, span_rules.extract(texts))
            parts.append(head_features(self.embedder.encode(texts), lexicon))
            lexica.append(lexicon)
            if self.progress:
                self.progress(min(start + chunk, len(new)), len(new))
        if parts:
            self.matrix = np.vstack([self.matrix, *parts]) if self.matrix.size else np.vstack(parts)
            self.lexicon = np.vstack([self.lexicon, *lexica]) if self.lexicon.size else np.vstack(lexica)
            self.rows.update({t: len(self.rows) + i for i, t in enumerate(new)})

    def of(self, corpus: Corpus) -> np.ndarray:
        return self.matrix[[self.rows[t] for t in corpus.texts]]

    def lexicon_of(self, corpus: Corpus) -> np.ndarray:
        return self.lexicon[[self.rows[t] for t in corpus.texts]]


OWN_STRENGTH = 2.0  # our sentences' head: as trained before the public sets came
GATE_STRENGTH = 1.0


def _logistic(x: np.ndarray, y: np.ndarray, strength: float, task: str,
              weights: np.ndarray | None = None) -> Linear:
    model = LogisticRegression(C=strength, max_iter=3000, class_weight="balanced" if task == "sentiment" else None)
    model.fit(x, y, sample_weight=weights)
    return Linear(model.coef_, model.intercept_)


def _stack(corpora: list[Corpus], features: Features) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and per-row weights where each set counts equally in total."""
    x = np.vstack([features.of(c) for c in corpora])
    y = np.concatenate([c.labels for c in corpora])
    w = np.concatenate([np.full(len(c), 1.0 / len(corpora) / len(c)) for c in corpora]) * len(y)
    return x, y, w


def score(head: Linear, features: np.ndarray, labels: np.ndarray, task: str) -> float:
    """Sentiment macro-F1, or urgency ROC AUC."""
    p = head.probabilities(features)
    if task == "sentiment":
        return float(f1_score(labels, p.argmax(axis=1), average="macro"))
    return float(roc_auc_score(labels, p))


def fit_task(features: Features, corpora: list[Corpus], task: str,
             log: Callable[[str], None]) -> tuple[Linear, Linear | None, float]:
    """Our head, and the public head with its strength chosen on the public dev parts (None without public
    text); the public head's dev score."""
    ours = pick(corpora, task=task, split="train", names=("own",))[0]
    theirs = [c for c in pick(corpora, task=task, split="train") if c.name != "own"]
    dev = [c for c in pick(corpora, task=task, split="dev") if c.name != "own"]
    own_head = _logistic(features.of(ours), ours.labels, OWN_STRENGTH, task)
    if not theirs or not dev:
        return own_head, None, 0.0
    x, y, w = _stack(theirs, features)
    best: tuple[float, Linear] | None = None
    for strength in STRENGTHS:
        head = _logistic(x, y, strength, task, w)
        on_dev = float(np.mean([score(head, features.of(c), c.labels, task) for c in dev]))
        log(f"{task}: public head, C {strength:g}: public dev {on_dev:.4f}")
        if best is None or on_dev > best[0]:
            best = (on_dev, head)
    assert best is not None
    return own_head, best[1], best[0]


def fit_gate(features: Features, corpora: list[Corpus]) -> Linear:
    """P(a text reads like our sales sentences), from our training sentences against every public training text,
    the two sides weighted equally."""
    ours = list(dict.fromkeys(t for c in pick(corpora, task="sentiment", split="train", names=("own",))
                              for t in c.texts))
    theirs = list(dict.fromkeys(t for c in corpora if c.split == "train" and c.name != "own" for t in c.texts))
    x = features.matrix[[features.rows[t] for t in ours + theirs]]
    y = np.concatenate([np.ones(len(ours)), np.zeros(len(theirs))])
    model = LogisticRegression(C=GATE_STRENGTH, max_iter=3000, class_weight="balanced").fit(x, y)
    return Linear(model.coef_, model.intercept_)


def vader_scores(lexicon: np.ndarray, labels: np.ndarray, task: str) -> float:
    """VADER alone on the same texts: its compound score's label (sentiment), or its negative score (urgency)."""
    if task == "sentiment":
        compound = lexicon[:, 3]
        label = np.where(compound >= NEUTRAL_BAND, 2, np.where(compound <= -NEUTRAL_BAND, 0, 1))
        return float(f1_score(labels, label, average="macro"))
    return float(roc_auc_score(labels, lexicon[:, 0]))


def evaluate(heads: Heads, corpora: list[Corpus], features: Features) -> dict[str, Any]:
    """Every held-out (test) part: the heads' score beside VADER's, per set."""
    report: dict[str, Any] = {}
    for corpus in [c for c in corpora if c.split == "test"]:
        x = features.of(corpus)
        if corpus.task == "sentiment":
            metric, value = "macro_f1", f1_score(corpus.labels, heads.sentiment_probabilities(x).argmax(axis=1),
                                                 average="macro")
        else:
            metric, value = "auc", roc_auc_score(corpus.labels, heads.urgency_probabilities(x))
        key = f"{corpus.name}_{corpus.task}"
        report[key] = {"texts": len(corpus), metric: round(float(value), 4),
                       "read_as_ours": round(float(heads.ours(x).mean()), 3),
                       f"vader_{metric}": round(vader_scores(features.lexicon_of(corpus), corpus.labels,
                                                             corpus.task), 4)}
        if corpus.task == "urgency":
            rules = Reader("rules").analyze(corpus.texts)
            report[key]["rules_auc"] = round(float(roc_auc_score(corpus.labels, [s.urgency for s in rules])), 4)
    return report


def train_heads(data_home: Path | None = None, embedder: Embedder | None = None, save_to: Path | None = HEADS_FILE,
                log: Callable[[str], None] = lambda _: None,
                progress: Callable[[int, int], None] | None = None) -> Heads:
    """Fit both heads (see the module docstring) and record how they were chosen and every held-out score."""
    corpora = own() + (public(data_home) if data_home else [])
    features = Features(embedder or Embedder(), progress)
    features.add(corpora)
    own_sentiment, public_sentiment, sentiment_dev = fit_task(features, corpora, "sentiment", log)
    own_urgency, public_urgency, urgency_dev = fit_task(features, corpora, "urgency", log)
    public_heads = public_sentiment is not None or public_urgency is not None
    used = sorted({c.name for c in corpora if c.split == "train"})
    heads = Heads(own_sentiment, own_urgency, {
        "trained_on": used,
        "layers": features.embedder.layers,
        "public_dev": {"sentiment": round(sentiment_dev, 4), "urgency": round(urgency_dev, 4)},
        "train_texts": {c.name + "_" + c.task: len(c) for c in corpora if c.split == "train"},
    }, public_sentiment, public_urgency, fit_gate(features, corpora) if public_heads else None)
    heads.meta["held_out"] = evaluate(heads, corpora, features)
    if save_to is not None:
        heads.save(save_to)
    return heads


__all__ = ["SENTIMENT_CLASSES", "Features", "evaluate", "train_heads"]
