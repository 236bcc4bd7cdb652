"""NLP throughput (full pipeline, both readers), the first message's wait in a fresh process, and held-out quality
on our sentences and on the public sets (beside VADER on the same texts)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# What the first message read by the transformer waits for in a fresh process, timed from the process's start:
# the interpreter, every import, checking and loading the model, and reading one message.
_FIRST_MESSAGE = "from nlp import reader; reader('transformer').analyze(['We need this live by Friday'])"


def _best_of(reader: Any, texts: list[str], passes: int = 3) -> float:
    """Seconds for the fastest of a few passes: on a shared machine the others measure the neighbours."""
    timings = []
    for _ in range(passes):
        started = time.perf_counter()
        reader.analyze(texts)
        timings.append(time.perf_counter() - started)
    return min(timings)


def load_seconds() -> float:
    """A fresh process reading one message with the transformer, from its start to its end."""
    from nlp.embed import onnx_path

    if not onnx_path().exists():  # the one-time export (make install does it) is not what a reader waits for
        subprocess.run([sys.executable, "-m", "nlp.export"], check=True, capture_output=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", _FIRST_MESSAGE], check=True, capture_output=True)
    return time.perf_counter() - started


def run(messages: int = 2000, data: Path | None = None) -> dict[str, Any]:
    """Time `analyze` on our sentences (cycled to `messages`); quality on every held-out part found."""
    from nlp import Reader
    from nlp.corpora import own, pick, public
    from nlp.heads import load_heads
    from nlp.training import Features, evaluate

    corpora = own() + (public(data) if data is not None else [])
    pool = [t for c in pick(corpora, task="sentiment", split="train", names=("own",))
            + pick(corpora, task="sentiment", split="test", names=("own",)) for t in c.texts]
    texts = [pool[i % len(pool)] for i in range(messages)]
    load_s = load_seconds()
    full = Reader("transformer")
    full.analyze(texts[:8])  # loaded: what is timed below is reading
    transformer_s = _best_of(full, texts)
    rules = Reader("rules")
    rules.analyze(texts[:8])
    rules_s = _best_of(rules, texts)
    heads = load_heads()
    held_out: dict[str, Any] = {}
    if heads is not None:
        features = Features(full.embedder)
        tests = [c for c in corpora if c.split == "test"]
        features.add(tests)
        held_out = evaluate(heads, tests, features)
    return {"messages": messages, "messages_per_s": round(messages / transformer_s),
            "rules_messages_per_s": round(messages / rules_s), "load_s": round(load_s, 2),
            "backend": full.embedder.backend, "held_out": held_out,
            "public_sets": sorted({c.name for c in corpora if c.name != "own"})}
