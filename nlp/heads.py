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
    """Both heads and what they were trained on."""

    sentiment: Linear
    urgency: Linear
    meta: dict[str, Any]

    @property
    def version(self) -> str:
        """A short fingerprint of the coefficients: a new fit is a new NLP version."""
        blob = json.dumps([self.sentiment.to_json(), self.urgency.to_json()]).encode()
        return hashlib.sha256(blob).hexdigest()[:10]

    def save(self, path: Path = HEADS_FILE) -> None:
        """Write the heads file."""
        data = {"sentiment": self.sentiment.to_json(), "urgency": self.urgency.to_json(), "meta": self.meta}
        path.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")


def load_heads(path: Path = HEADS_FILE) -> Heads | None:
    """The shipped heads, or None when they have not been trained yet."""
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return Heads(Linear.from_json(data["sentiment"]), Linear.from_json(data["urgency"]), data.get("meta", {}))
