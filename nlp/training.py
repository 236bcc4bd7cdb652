"""Fit the sentiment and urgency heads on the project's own labelled sentences, and measure them."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score

from nlp import spans as span_rules
from nlp.analyze import Reader, head_features, lexical
from nlp.embed import Embedder
from nlp.heads import HEADS_FILE, SENTIMENT_CLASSES, Heads, Linear

DATA = Path(__file__).with_name("data") / "sentences.csv"


@dataclass
class Labelled:
    """Sentences with their labels."""

    texts: list[str]
    sentiment: np.ndarray  # index into SENTIMENT_CLASSES
    urgency: np.ndarray  # 0/1


def load_sentences(path: Path = DATA) -> dict[str, Labelled]:
    """The labelled sentences by split (train, test)."""
    rows: dict[str, list[tuple[str, int, int]]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            label = SENTIMENT_CLASSES.index(row["sentiment"].strip())
            rows.setdefault(row["split"].strip(), []).append((row["text"], label, int(row["urgency"])))
    return {
        split: Labelled([r[0] for r in items], np.array([r[1] for r in items]), np.array([r[2] for r in items]))
        for split, items in rows.items()
    }


def _features(embedder: Embedder, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    lexicon = lexical(texts, span_rules.extract(texts))
    return head_features(embedder.encode(texts), lexicon), lexicon


def train_heads(path: Path = DATA, embedder: Embedder | None = None, save_to: Path | None = HEADS_FILE) -> Heads:
    """Fit both heads on the train split and record their held-out scores in the heads' metadata."""
    data = load_sentences(path)
    encoder = embedder or Embedder()
    train_x, _ = _features(encoder, data["train"].texts)
    sentiment = LogisticRegression(C=2.0, max_iter=2000, class_weight="balanced").fit(train_x, data["train"].sentiment)
    urgency = LogisticRegression(C=2.0, max_iter=2000, class_weight="balanced").fit(train_x, data["train"].urgency)
    heads = Heads(
        Linear(sentiment.coef_, sentiment.intercept_), Linear(urgency.coef_, urgency.intercept_),
        {"trained_on": path.name, "train_sentences": len(data["train"].texts)},
    )
    report = evaluate(heads, data["test"], encoder)
    heads.meta.update(report)
    if save_to is not None:
        heads.save(save_to)
    return heads


def evaluate(heads: Heads, test: Labelled, embedder: Embedder) -> dict[str, Any]:
    """Held-out sentiment macro-F1 and urgency AUC, next to VADER alone."""
    features, lexicon = _features(embedder, test.texts)
    predicted = heads.sentiment.probabilities(features).argmax(axis=1)
    urgency = heads.urgency.probabilities(features)
    compound = lexicon[:, 3]
    vader_label = np.where(compound >= 0.05, 2, np.where(compound <= -0.05, 0, 1))
    rules = Reader("rules").analyze(test.texts)
    return {
        "test_sentences": len(test.texts),
        "sentiment_macro_f1": round(float(f1_score(test.sentiment, predicted, average="macro")), 4),
        "urgency_auc": round(float(roc_auc_score(test.urgency, urgency)), 4),
        "vader_sentiment_macro_f1": round(float(f1_score(test.sentiment, vader_label, average="macro")), 4),
        "vader_negative_urgency_auc": round(float(roc_auc_score(test.urgency, lexicon[:, 0])), 4),
        "rules_urgency_auc": round(float(roc_auc_score(test.urgency, [s.urgency for s in rules])), 4),
    }
