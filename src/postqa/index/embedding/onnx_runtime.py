"""The ONNX embedder: an exported sentence-transformers model run with onnxruntime + tokenizers (no torch).

An export lives in ``models/onnx/<model>-<source fingerprint>[-int8]/`` (see postqa.index.embedding.export): the
transformer as ``model.onnx``, the exact tokenizer sentence-transformers used as ``tokenizer.json``, and
``postqa_onnx.json`` with the pooling, truncation and the source weights' fingerprint. A fp32 export carries
its source model's name and fingerprint, so it opens the index that model built (no re-ingest); an int8
export has its own fingerprint, hence its own index.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from postqa.core.config import EmbeddingSettings
from postqa.core.errors import ModelNotAvailableError
from postqa.index.embedding.base import normalize_rows
from postqa.index.embedding.models import models_dirs, repo_root, resolve_model, weights_fingerprint

EXPORT_META = "postqa_onnx.json"
EXPORT_FORMAT = 1
POOLINGS = ("mean", "cls", "max")


def export_name(model: str, source_fingerprint: str, quantize: str = "none") -> str:
    """The folder name of a model's export: the source weights' fingerprint is part of it, so changed
    weights never pick up a stale export."""
    suffix = "" if quantize == "none" else f"-{quantize}"
    return f"{Path(model).name}-{source_fingerprint}{suffix}"


def source_of(settings: EmbeddingSettings) -> tuple[str, str, str]:
    """(folder to load, canonical name, weights fingerprint) of the configured source model."""
    target, canonical = resolve_model(settings.model, settings.offline)
    return target, canonical, weights_fingerprint(target)


def write_base() -> Path:
    """Where new exports are written: $POSTQA_MODELS_DIR, else the repository's models/ folder."""
    env = os.environ.get("POSTQA_MODELS_DIR")
    return (Path(env) if env else repo_root() / "models") / "onnx"


def find_export(settings: EmbeddingSettings) -> Path | None:
    """The export folder of the configured model and quantization, if one exists for its current weights."""
    _target, canonical, fingerprint = source_of(settings)
    name = export_name(canonical, fingerprint, settings.quantize)
    for base in models_dirs():
        folder = base / "onnx" / name
        if (folder / EXPORT_META).is_file() and (folder / "model.onnx").is_file():
            return folder
    return None


def read_meta(folder: Path) -> dict[str, Any]:
    try:
        meta = dict(json.loads((folder / EXPORT_META).read_text(encoding="utf-8")))
    except (OSError, ValueError) as err:
        raise ModelNotAvailableError(
            f"the ONNX export in {folder} cannot be read ({err}); delete the folder and run "
            "`python -m postqa.index.onnx_export` to export the model again") from None
    if meta.get("format") != EXPORT_FORMAT or meta.get("pooling") not in POOLINGS:
        raise ModelNotAvailableError(
            f"the ONNX export in {folder} has format {meta.get('format')!r} and pooling {meta.get('pooling')!r}; "
            f"expected format {EXPORT_FORMAT} and one of {', '.join(POOLINGS)}. Delete the folder and run "
            "`python -m postqa.index.onnx_export` to export the model again")
    return meta


def _pool(hidden: np.ndarray, mask: np.ndarray, pooling: str) -> np.ndarray:
    if pooling == "cls":
        return hidden[:, 0, :]
    m = mask[:, :, None].astype(hidden.dtype)
    if pooling == "max":
        return np.where(m > 0, hidden, -1e9).max(axis=1)
    return (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)


def length_batches(lengths: Sequence[int], batch_size: int, max_padding: float = 0.25) -> list[list[int]]:
    """Row indices in batches of at most ``batch_size``, longest first (like sentence-transformers); a text that
    padding to its batch's longest would leave more than ``max_padding`` empty starts a new batch, so a
    question's few short words do not run padded to the length of the sentences embedded in the same call."""
    batches: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        cur = batches[-1] if batches else None
        if cur is not None and len(cur) < batch_size and lengths[i] >= (1 - max_padding) * lengths[cur[0]]:
            cur.append(i)
        else:
            batches.append([i])
    return batches


class OnnxEmbedder:
    """An exported model run by onnxruntime; vectors equal the source model's sentence-transformers ones
    (checked at export time on a probe set)."""

    provider = "onnx"

    def __init__(self, settings: EmbeddingSettings, folder: Path | None = None) -> None:
        from tokenizers import Tokenizer

        if folder is None:
            folder = find_export(settings)
        if folder is None:
            raise ModelNotAvailableError(
                f"no ONNX export of {settings.model!r} (quantize = {settings.quantize!r}) for its current weights in "
                f"{', '.join(str(d / 'onnx') for d in models_dirs())}; run `python -m postqa.index.onnx_export` "
                "(scripts/setup.sh does), or set [embedding] provider = \"auto\"")
        self.folder = folder
        self.meta = read_meta(folder)
        self.name = str(self.meta["name"])
        self.dim = int(self.meta["dim"])
        self.max_tokens = int(self.meta["max_seq_length"]) - 2  # [CLS] and [SEP]
        self.normalize = bool(settings.normalize or self.meta.get("normalize_module"))
        self.batch_size = settings.batch_size
        self._fingerprint = str(self.meta["fingerprint"])
        self._lower = bool(self.meta.get("do_lower_case"))
        self._inputs = list(self.meta["input_names"])
        self._pad = int(self.meta.get("pad_id", 0))
        self._tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tok.no_padding()
        self._tok.enable_truncation(max_length=int(self.meta["max_seq_length"]))
        self._counter = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._counter.no_padding()
        self._counter.no_truncation()
        self._threads = settings.threads
        self._session: Any = None
        self._lock = threading.Lock()

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def set_threads(self, threads: int) -> None:
        """Intra-op threads (0 = all cores); the session is made again on next use if this changes."""
        with self._lock:
            if threads != self._threads:
                self._threads = threads
                self._session = None

    def session(self) -> Any:
        with self._lock:
            if self._session is None:
                import onnxruntime as ort

                opts = ort.SessionOptions()
                opts.intra_op_num_threads = self._threads or (os.cpu_count() or 1)
                opts.inter_op_num_threads = 1
                opts.log_severity_level = 3
                self._session = ort.InferenceSession(str(self.folder / "model.onnx"), sess_options=opts,
                                                     providers=["CPUExecutionProvider"])
            return self._session

    def _features(self, encs: Sequence[Any]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        width = max(1, max(len(e.ids) for e in encs))
        ids = np.full((len(encs), width), self._pad, dtype=np.int64)
        mask = np.zeros((len(encs), width), dtype=np.int64)
        types = np.zeros((len(encs), width), dtype=np.int64)
        for row, enc in enumerate(encs):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = enc.attention_mask
            types[row, :n] = enc.type_ids
        available = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return {name: available[name] for name in self._inputs}, mask

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        session = self.session()
        # sentence-transformers strips (and, when the model asks, lower-cases) each text before tokenizing
        encs = self._tok.encode_batch([t.strip().lower() if self._lower else t.strip() for t in texts])
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for rows in length_batches([len(e.ids) for e in encs], self.batch_size):
            feeds, mask = self._features([encs[i] for i in rows])
            hidden = session.run(None, feeds)[0]
            out[rows] = _pool(hidden, mask, str(self.meta["pooling"]))
        return normalize_rows(out) if self.normalize else out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        return [len(e.ids) for e in self._counter.encode_batch(list(texts), add_special_tokens=False)]
