"""Labelled text the heads learn from and are judged on: the project's own sales sentences (shipped in the package)
and three public sets written by people nobody here knows (read from a data folder, never shipped):

- GoEmotions (Reddit comments, Apache-2.0): `label3` negative / neutral / positive → sentiment;
- disaster-response messages (real SMS and posts, CC BY 4.0): `request` (someone asks for help) → urgency;
- Parakweet email intent (business email sentences, Apache-2.0): `intent` (asks the reader to act) → urgency.

Every set is split three ways: `train` (the heads fit on it), `dev` (weights and strength are chosen on the public
dev parts, never on ours), `test` (held out: reported, never used to choose). Splits are the sets' own where they
have them; otherwise a stable hash of the text decides.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nlp.heads import SENTIMENT_CLASSES

OWN = Path(__file__).with_name("data") / "sentences.csv"
TEXT_DIR = Path("text")  # inside the public data folder
DEV_SHARE = 5  # one text in DEV_SHARE goes to dev where a set has no dev split of its own


@dataclass(frozen=True)
class Corpus:
    """Texts of one set and one split with one task's labels (sentiment: index into SENTIMENT_CLASSES; urgency:
    0/1)."""

    name: str
    task: str  # sentiment | urgency
    split: str  # train | dev | test
    texts: list[str]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)


def _dev(text: str) -> bool:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % DEV_SHARE == 0


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _corpora(name: str, task: str, rows: list[tuple[str, str, int]]) -> list[Corpus]:
    """(text, split, label) rows into one Corpus per split, texts in file order."""
    out = []
    for split in ("train", "dev", "test"):
        chosen = [(text, label) for text, part, label in rows if part == split]
        if chosen:
            out.append(Corpus(name, task, split, [t for t, _ in chosen], np.array([y for _, y in chosen])))
    return out


def own(path: Path = OWN) -> list[Corpus]:
    """Our sentences: both tasks, the file's train and test splits (no dev: nothing is chosen on our data)."""
    rows = _rows(path)
    sentiment = [(r["text"], r["split"].strip(), SENTIMENT_CLASSES.index(r["sentiment"].strip())) for r in rows]
    urgency = [(r["text"], r["split"].strip(), int(r["urgency"])) for r in rows]
    return _corpora("own", "sentiment", sentiment) + _corpora("own", "urgency", urgency)


def public(home: Path) -> list[Corpus]:
    """The public sets found under `home`/text (any that is missing is left out)."""
    base = home / TEXT_DIR
    out: list[Corpus] = []
    goemotions = base / "goemotions_sentiment" / "data.csv"
    if goemotions.exists():
        rows = [(r["text"], r["split"], SENTIMENT_CLASSES.index(r["label3"])) for r in _rows(goemotions)
                if r["label3"] in SENTIMENT_CLASSES]
        out += _corpora("goemotions", "sentiment", rows)
    disaster = base / "disaster_response_messages" / "data.csv"
    if disaster.exists():  # its validation split is our train (+ dev by hash); its test split stays held out
        rows = [(r["text"], "test" if r["split"] == "test" else "dev" if _dev(r["text"]) else "train",
                 int(r["request"])) for r in _rows(disaster)]
        out += _corpora("disaster_requests", "urgency", rows)
    parakweet = base / "email_intent_parakweet" / "data.csv"
    if parakweet.exists():
        rows = [(r["text"], "test" if r["split"] == "test" else "dev" if _dev(r["text"]) else "train",
                 int(r["intent"])) for r in _rows(parakweet)]
        out += _corpora("email_intent", "urgency", rows)
    return out


def pick(corpora: list[Corpus], *, task: str, split: str, names: tuple[str, ...] | None = None) -> list[Corpus]:
    """The corpora of one task and split (of the named sets only, when given)."""
    return [c for c in corpora if c.task == task and c.split == split and (names is None or c.name in names)]
