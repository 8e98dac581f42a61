"""The embedder registry keyed by ``[embedding] provider``; "auto" serves from an ONNX export when one exists."""

from __future__ import annotations

from collections.abc import Callable

from postqa.core.config import EmbeddingSettings
from postqa.core.errors import ConfigError
from postqa.index.embedding.base import Embedder
from postqa.index.embedding.hash import HashEmbedder

EmbedderFactory = Callable[[EmbeddingSettings], Embedder]


def _sentence_transformers(settings: EmbeddingSettings) -> Embedder:
    if settings.quantize != "none":
        raise ConfigError(
            f"embedding.quantize = {settings.quantize!r} needs the ONNX runtime, but embedding.provider = "
            "\"sentence-transformers\"; set provider = \"onnx\" (or \"auto\"), or quantize = \"none\"")
    from postqa.index.embedding.sbert import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(settings)


def _onnx(settings: EmbeddingSettings) -> Embedder:
    """The model's ONNX export, made first if it does not exist (that once needs torch)."""
    from postqa.index.embedding.onnx_runtime import OnnxEmbedder, find_export

    folder = find_export(settings)
    if folder is None:
        from postqa.index.embedding.export import export_model

        folder = export_model(settings)
    return OnnxEmbedder(settings, folder)


def _auto(settings: EmbeddingSettings) -> Embedder:
    """ONNX when the configured model has an export for its current weights (or int8 is asked for, which
    only ONNX can run), else sentence-transformers: same vectors, same index, 0.4 s of imports instead of 12."""
    from postqa.index.embedding.onnx_runtime import OnnxEmbedder, find_export

    folder = find_export(settings)
    if folder is not None:
        return OnnxEmbedder(settings, folder)
    if settings.quantize != "none":
        return _onnx(settings)
    return _sentence_transformers(settings)


EMBEDDERS: dict[str, EmbedderFactory] = {
    "auto": _auto,
    "sentence-transformers": _sentence_transformers,
    "onnx": _onnx,
    "hash": lambda s: HashEmbedder(dim=s.dim, normalize=s.normalize),
}


def register_embedder(provider: str, factory: EmbedderFactory) -> None:
    """Plug in another embedder under a provider name usable in ``[embedding] provider``."""
    EMBEDDERS[provider] = factory


def create_embedder(settings: EmbeddingSettings) -> Embedder:
    factory = EMBEDDERS.get(settings.provider)
    if factory is None:
        raise ConfigError(f"embedding.provider = {settings.provider!r} is unknown; "
                          f"choose one of: {', '.join(sorted(EMBEDDERS))}")
    return factory(settings)
