"""Embedders: the protocol, a registry keyed by provider name, and one implementation per module
(sentence-transformers, onnx, hash). Importing this package loads none of torch, onnxruntime or tokenizers."""

from postqa.index.embedding.base import Embedder, cosine, describe, normalize_rows, set_threads
from postqa.index.embedding.hash import HashEmbedder
from postqa.index.embedding.models import KNOWN_MODELS, resolve_model, weights_fingerprint
from postqa.index.embedding.registry import EMBEDDERS, EmbedderFactory, create_embedder, register_embedder
from postqa.index.embedding.sbert import SentenceTransformerEmbedder, set_torch_threads

__all__ = ["Embedder", "HashEmbedder", "SentenceTransformerEmbedder", "create_embedder", "register_embedder",
           "resolve_model", "describe", "cosine", "set_torch_threads", "set_threads", "KNOWN_MODELS", "EMBEDDERS",
           "EmbedderFactory", "normalize_rows", "weights_fingerprint"]
