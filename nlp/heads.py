"""Small trained heads over sentence embeddings: sentiment (3 classes) and urgency (yes/no).

Stored as plain JSON coefficients inside the package (no pickles), reproducible with `hotlead nlp train-heads`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HEADS_FILE = Path(__file__).with_name("heads.json")
SENTIMENT_CLASSES = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class Linear:
    """A fitted linear head: scores = features @ coef.T + intercept."""

    coef: np.ndarray  # (classes, features) or (1, features)
    intercept: np.ndarray

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Softmax over classes (or the sigmoid of a single score)."""
        scores = features @ self.coef.T + self.intercept
        if scores.shape[1] == 1:
            return 1.0 / (1.0 + np.exp(-scores[:, 0]))
        scores -= scores.max(axis=1, keepdims=True)
        weights = np.exp(scores)
        return weights / weights.sum(axis=1, keepdims=True)

    def to_json(self) -> dict[str, Any]:
        """Plain lists for the heads file."""
        return {"coef": self.coef.round(7).tolist(), "intercept": self.intercept.round(7).tolist()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Linear:
        """Rebuild a head from the heads file."""
        return cls(np.asarray(data["coef"], dtype=np.float64), np.asarray(data["intercept"], dtype=np.float64))


@dataclass(frozen=True)
class Heads:
    """The sentiment and urgency heads and what they were trained on.

    `sentiment` and `urgency` read our sales sentences best; `public_sentiment` and `public_urgency`, when present,
    read text written by the public best; `gate` says how much a text reads like our sentences (0..1), and each
    task's log-odds are the gate's mix of its two heads' (a mixture of two experts, linear in the features for any
    one text: the parts of its urgency still add up exactly).
    """

    sentiment: Linear
    urgency: Linear
    meta: dict[str, Any]
    public_sentiment: Linear | None = None
    public_urgency: Linear | None = None
    gate: Linear | None = None

    @property
    def version(self) -> str:
        """A short fingerprint of the coefficients: a new fit is a new NLP version."""
        blob = json.dumps([h.to_json() for h in self._linear().values()]).encode()
        return hashlib.sha256(blob).hexdigest()[:10]

    def _linear(self) -> dict[str, Linear]:
        heads = {"sentiment": self.sentiment, "urgency": self.urgency, "public_sentiment": self.public_sentiment,
                 "public_urgency": self.public_urgency, "gate": self.gate}
        return {name: head for name, head in heads.items() if head is not None}

    def ours(self, features: np.ndarray) -> np.ndarray:
        """How much each text reads like our sales sentences (1 without a gate)."""
        if self.gate is None:
            return np.ones(len(features))
        return np.asarray(self.gate.probabilities(features))

    def _mixed(self, own: Linear, public: Linear | None, features: np.ndarray) -> np.ndarray:
        scores = features @ own.coef.T + own.intercept
        if public is None:
            return np.asarray(scores)
        g = self.ours(features)[:, None]
        return np.asarray(g * scores + (1 - g) * (features @ public.coef.T + public.intercept))

    def sentiment_probabilities(self, features: np.ndarray) -> np.ndarray:
        """Negative, neutral, positive per text."""
        scores = self._mixed(self.sentiment, self.public_sentiment, features)
        scores -= scores.max(axis=1, keepdims=True)
        weights = np.exp(scores)
        return np.asarray(weights / weights.sum(axis=1, keepdims=True))

    def urgency_parts(self, features: np.ndarray, split: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Urgency log-odds in three parts that add up: from features[:, :split], from the rest, and the base."""
        g = self.ours(features) if self.public_urgency is not None else np.ones(len(features))
        parts = []
        for head, share in ((self.urgency, g), (self.public_urgency, 1 - g)):
            if head is None:
                continue
            coef = head.coef[0]
            parts.append((share * (features[:, :split] @ coef[:split]), share * (features[:, split:] @ coef[split:]),
                          share * float(head.intercept[0])))
        words, rules, base = (np.sum([p[k] for p in parts], axis=0) for k in range(3))
        return words, rules, base

    def urgency_probabilities(self, features: np.ndarray) -> np.ndarray:
        """The urgency of each text, 0..1."""
        words, rules, base = self.urgency_parts(features, 0)  # where the parts split does not change their sum
        return np.asarray(1.0 / (1.0 + np.exp(-(words + rules + base))))

    def save(self, path: Path = HEADS_FILE) -> None:
        """Write the heads file."""
        data = {**{name: head.to_json() for name, head in self._linear().items()}, "meta": self.meta}
        path.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")


def load_heads(path: Path = HEADS_FILE) -> Heads | None:
    """The shipped heads, or None when they have not been trained yet."""
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    optional = {name: Linear.from_json(data[name]) for name in ("public_sentiment", "public_urgency", "gate")
                if name in data}
    return Heads(Linear.from_json(data["sentiment"]), Linear.from_json(data["urgency"]), data.get("meta", {}),
                 **optional)
