"""The sentence-transformers embedder: the reference implementation (torch); ingest and export use it."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import numpy as np

from postqa.core.config import EmbeddingSettings
from postqa.core.errors import ModelNotAvailableError
from postqa.index.embedding.models import resolve_model, weights_fingerprint


def set_torch_threads(threads: int) -> None:
    """Set torch's intra-op threads (0 = all cores). Serving uses 1: two busy processes on 2 cores with
    oversubscribed threads made single queries ~30x slower in a trial."""
    import torch

    n = threads or (os.cpu_count() or 1)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder (or the hub when offline is off)."""

    provider = "sentence-transformers"

    def __init__(self, settings: EmbeddingSettings) -> None:
        if settings.offline:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        target, canonical = resolve_model(settings.model, settings.offline)
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()

        set_torch_threads(settings.threads)
        try:
            self.model = SentenceTransformer(target, device=settings.device)
        except Exception as err:  # noqa: BLE001 - the library raises many kinds; all mean "cannot load"
            raise ModelNotAvailableError(
                f"cannot load embedding model {settings.model!r} from {target!r}: {err}. "
                "Point embedding.model at a sentence-transformers model folder.") from None
        self.name = canonical
        get_dim = getattr(self.model, "get_embedding_dimension", None) or \
            self.model.get_sentence_embedding_dimension
        dim = get_dim()
        self.dim = int(dim) if dim else int(self.model.encode(["x"]).shape[1])
        self.max_tokens = int(self.model.max_seq_length or 256) - 2  # [CLS] and [SEP]
        self.normalize = settings.normalize
        self.batch_size = settings.batch_size
        self._fingerprint = weights_fingerprint(target)
        self.source_path = target
        self._lock = threading.Lock()

    def set_threads(self, threads: int) -> None:
        set_torch_threads(threads)

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=self.normalize,
                                    convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        enc = self.model.tokenizer(list(texts), add_special_tokens=False, verbose=False)
        return [len(ids) for ids in enc["input_ids"]]
