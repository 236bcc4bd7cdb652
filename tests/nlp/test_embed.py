"""The transformer as Hotlead runs it: the packaged weights exported once to int8 ONNX, read by ONNX Runtime with
the packaged tokenizer, checked against their hash; the same vectors as the model run in PyTorch."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nlp import Reader
from nlp.embed import Embedder, ModelUnavailableError, build, onnx_path

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["We need this live before end of quarter.", "Thanks!", "Budget is approved, around $40k for the year.",
         "Honestly the onboarding was a mess and nobody answered my emails for two weeks, so we're reconsidering.",
         "Can you send the contract today?", "ok", "Wir brauchen das bis Freitag.", "🔥🔥🔥"]


def full_precision(texts: list[str], layers: int) -> np.ndarray:
    """The model's own vectors: PyTorch, float32, no quantisation."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from nlp.embed import model_dir

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir()))
    model = AutoModel.from_pretrained(str(model_dir())).eval()
    model.encoder.layer = model.encoder.layer[:layers]
    with torch.inference_mode():
        batch = tokenizer(texts, padding=True, return_tensors="pt")
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (model(**batch).last_hidden_state * mask).sum(1) / mask.sum(1)
        return torch.nn.functional.normalize(pooled, dim=1).numpy()


@pytest.mark.parametrize("layers", [3, 6])
def test_onnx_int8_is_as_close_to_the_full_model_as_the_pytorch_int8_it_replaces(layers: int) -> None:
    onnx = Embedder(backend="onnx", layers=layers).encode(TEXTS)
    torch = Embedder(backend="torch", layers=layers).encode(TEXTS)
    exact = full_precision(TEXTS, layers)
    assert onnx.shape == torch.shape == exact.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-4)
    onnx_close, torch_close = np.sum(onnx * exact, axis=1), np.sum(torch * exact, axis=1)
    assert onnx_close.mean() > 0.9 and onnx_close.mean() >= torch_close.mean() - 0.01, (onnx_close, torch_close)
    alone = np.vstack([Embedder(backend="onnx", layers=layers).encode([text]) for text in TEXTS])  # no padding
    # the mask is honoured: padding changes a vector only through int8's per-batch activation scale (dynamic
    # quantisation), never by reading the padding (that gave 0.77 cosine in a first export)
    assert np.sum(alone * onnx, axis=1).min() > 0.94  # (PyTorch's dynamic int8 does the same)


def test_a_damaged_export_is_refused_and_a_rebuilt_one_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    file = onnx_path()
    assert str(file).startswith(str(tmp_path))
    assert build() == file and file.with_suffix(".sha256").exists()
    blob = bytearray(file.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    file.write_bytes(bytes(blob))
    with pytest.raises(ModelUnavailableError, match="does not match its SHA-256"):
        Embedder(backend="onnx").encode(["hi"])
    file.unlink()  # gone: built again on first use
    assert Embedder(backend="onnx").encode(["hi"]).shape == (1, 384)


def test_reading_with_the_transformer_imports_no_torch() -> None:
    code = ("import sys; from nlp import reader; s = reader('transformer').analyze(['by Friday please'])[0]; "
            "print(s.engine, 'torch' in sys.modules, 'transformers' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.stdout.split() == ["transformer", "False", "False"], done.stderr


def test_urgency_says_what_the_words_and_the_rules_each_added() -> None:
    [deadline, calm] = Reader("transformer").analyze(["Can we get this signed by Friday? It's urgent.",
                                                      "Thanks, have a nice weekend"])
    for signals in (deadline, calm):
        parts = signals.urgency_parts
        logit = parts["words"] + parts["rules"] + parts["base"]
        assert 1 / (1 + math.exp(-logit)) == pytest.approx(signals.urgency, abs=1e-3)  # the parts add up exactly
    assert deadline.urgency_parts["rules"] > calm.urgency_parts["rules"] == 0.0
    assert "by Friday" in deadline.urgency_parts["fired"] and calm.urgency_parts["fired"] == []


def test_make_install_exports_the_model_the_shipped_heads_read() -> None:
    from nlp.heads import load_heads

    heads = load_heads()
    assert heads is not None
    reader = Reader("transformer")
    assert reader.embedder.layers == heads.meta["layers"]
    done = subprocess.run([sys.executable, "-m", "nlp.export"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(onnx_path(reader.embedder.layers))
