"""`analyze(texts)`: sentiment, urgency and buying-signal spans for a batch of messages.

Two readers: "transformer" (MiniLM embeddings + VADER + rule counts into trained heads) and "rules"
(VADER and rule counts only: the fallback, and what HOTLEAD_NLP=rules selects). Spans always come from the
rules, which read the whole text even past the transformer's window. One bad text never fails the batch.
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from typing import Any

import numpy as np

from nlp import spans as span_rules
from nlp.embed import DIMENSIONS, LAYERS, Embedder, ModelUnavailableError
from nlp.heads import SENTIMENT_CLASSES, Heads, load_heads
from nlp.types import SPAN_KINDS, Signals, Span

log = logging.getLogger(__name__)
_EMBEDDING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hotlead-embed")
MODES = ("transformer", "rules")
RULES_VERSION = "rules-3"  # the span rules too: bump when the lexicon or nlp/spans.py change what they find
NEUTRAL_BAND = 0.05  # VADER's own convention for a neutral compound score


@lru_cache(maxsize=1)
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def lexical(texts: list[str], found: list[dict[str, list[Span]]]) -> np.ndarray:
    """Per text: VADER neg, neu, pos, compound; urgency cues, negated cues, deadlines, objections."""
    out = np.zeros((len(texts), 8))
    analyzer = _vader()
    for i, (text, spans) in enumerate(zip(texts, found, strict=True)):
        try:
            scores = analyzer.polarity_scores(text[:5000]) if text.strip() else {}
        except Exception:  # noqa: BLE001 - one odd text must not fail the batch
            log.debug("VADER could not read text %d", i, exc_info=True)
            scores = {}
        cues = spans.get("urgency_cues", [])
        out[i] = (
            scores.get("neg", 0.0), scores.get("neu", 1.0), scores.get("pos", 0.0), scores.get("compound", 0.0),
            sum(not s.negated for s in cues), sum(s.negated for s in cues),
            sum(not s.negated for s in spans.get("timeline", [])),
            sum(not s.negated for s in spans.get("objections", [])),
        )
    return out


WORDS_END = DIMENSIONS + 4  # head features: the sentence vector and VADER's four scores, then the rules' four counts


def head_features(embeddings: np.ndarray, lexicon: np.ndarray) -> np.ndarray:
    """What the heads read: the sentence vector next to the lexical and rule counts."""
    counts = np.log1p(lexicon[:, 4:])
    return np.hstack([embeddings, lexicon[:, :4], counts])


class Reader:
    """Reads batches of messages; the transformer loads on first use only."""

    def __init__(self, mode: str = "transformer", embedder: Embedder | None = None, heads: Heads | None = None):
        if mode not in MODES:
            raise ValueError(f"unknown NLP mode {mode!r}: use one of {', '.join(MODES)}")
        self.mode = mode
        self.heads = heads if heads is not None else (load_heads() if mode == "transformer" else None)
        # the heads read the vectors of as many of MiniLM's layers as they were trained on
        layers = int(self.heads.meta.get("layers", LAYERS)) if self.heads else LAYERS
        self.embedder = embedder or Embedder(layers=layers)
        if mode == "transformer" and self.heads is None:
            log.warning("no trained NLP heads found: using the rules (run `hotlead nlp train-heads`)")
            self.mode = "rules"

    @property
    def version(self) -> str:
        """Stored with every signal row; a new version re-analyses messages lazily."""
        if self.mode == "transformer" and self.heads:
            return f"transformer-{self.heads.version}-{RULES_VERSION}"  # its spans come from the rules
        return RULES_VERSION

    def analyze(self, texts: list[str]) -> list[Signals]:
        """Signals for every text, in order."""
        texts = [t if isinstance(t, str) else ("" if t is None else str(t)) for t in texts]
        readable = [i for i, t in enumerate(texts) if t.strip()] if self.mode == "transformer" else []
        # the transformer runs in native code without the GIL: the rules read the same texts meanwhile
        vectors = _EMBEDDING.submit(self.embedder.encode, [texts[i] for i in readable]) if readable else None
        found = span_rules.extract(texts)
        lexicon = lexical(texts, found)
        results = [self._from_rules(text, spans, row) for text, spans, row in zip(texts, found, lexicon, strict=True)]
        if vectors is not None:
            self._apply_heads(readable, vectors, lexicon, results)
        return results

    def _from_rules(self, text: str, spans: dict[str, list[Span]], row: np.ndarray) -> Signals:
        compound = float(row[3])
        label = "positive" if compound >= NEUTRAL_BAND else "negative" if compound <= -NEUTRAL_BAND else "neutral"
        rules = 0.9 * row[4] + 0.4 * row[6]  # urgency cues and deadlines
        urgency = 1.0 - math.exp(-rules)
        fired = list(dict.fromkeys(s.text for kind in ("urgency_cues", "timeline") for s in spans.get(kind, [])
                                   if not s.negated))  # "by Friday" is both a cue and a deadline: said once
        signals = Signals(sentiment=compound, sentiment_label=label, urgency=round(urgency, 4),
                          urgency_parts={"rules": round(float(rules), 4), "fired": fired},
                          question="?" in text, engine="rules")
        for kind in SPAN_KINDS:
            setattr(signals, kind, spans.get(kind, []))
        return signals

    def _apply_heads(self, readable: list[int], embedding: Future[np.ndarray], lexicon: np.ndarray,
                     results: list[Signals]) -> None:
        assert self.heads is not None
        try:
            vectors = embedding.result()
        except ModelUnavailableError as exc:
            log.warning("transformer unavailable, using the rules: %s", exc)
            for i in readable:
                results[i].error = str(exc)
            return
        features = head_features(vectors, lexicon[readable])
        sentiment = self.heads.sentiment_probabilities(features)
        words, rules, bases = self.heads.urgency_parts(features, WORDS_END)  # they add up: the heads are linear
        urgency = 1.0 / (1.0 + np.exp(-(words + rules + bases)))
        positive, negative = SENTIMENT_CLASSES.index("positive"), SENTIMENT_CLASSES.index("negative")
        for j, i in enumerate(readable):
            signals = results[i]
            signals.sentiment = round(float(sentiment[j, positive] - sentiment[j, negative]), 4)
            signals.sentiment_label = SENTIMENT_CLASSES[int(np.argmax(sentiment[j]))]
            signals.urgency = round(float(urgency[j]), 4)
            signals.urgency_parts = {"words": round(float(words[j]), 4), "rules": round(float(rules[j]), 4),
                                     "base": round(float(bases[j]), 4), "fired": signals.urgency_parts.get("fired", [])}
            signals.engine = "transformer"


@lru_cache(maxsize=2)
def reader(mode: str = "transformer") -> Reader:
    """The process-wide reader for a mode (the transformer is loaded once, when first needed)."""
    return Reader(mode)


def analyze(texts: list[str], *, mode: str = "transformer") -> list[Signals]:
    """Signals for a batch of messages (see the module docstring)."""
    return reader(mode).analyze(list(texts))
