"""The generator registry keyed by ``[generator] provider``; an unknown name lists the registered ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from postqa.answering.generate.base import Generator
from postqa.answering.generate.fake import FakeGenerator
from postqa.answering.generate.grounded import GroundedGenerator
from postqa.answering.generate.llama_cpp import LlamaCppGenerator
from postqa.answering.generate.openai_compatible import OpenAICompatibleGenerator
from postqa.core.config import GeneratorSettings
from postqa.core.errors import ConfigError

GeneratorFactory = Callable[[GeneratorSettings], Generator]


GENERATORS: dict[str, GeneratorFactory] = {
    "openai-compatible": OpenAICompatibleGenerator,
    "llama-cpp": LlamaCppGenerator,
    "fake": lambda s: FakeGenerator(name=s.model or "fake"),
}


def register_generator(provider: str, factory: GeneratorFactory) -> None:
    """Plug in another generator under a provider name usable in ``[generator] provider``."""
    GENERATORS[provider] = factory


def create_generator(settings: GeneratorSettings, embedder: Any = None, analyses: Any = None,
                     split: Any = None) -> GroundedGenerator:
    """The configured generator wrapped in the citation checker (``embedder`` adds embedding support;
    ``analyses``: the stored chunk analyses, whose sentences the checker uses; ``split``: spaCy's sentence
    recogniser for the model's reply, see GroundedGenerator)."""
    factory = GENERATORS.get(settings.provider)
    if factory is None:
        raise ConfigError(f"generator.provider = {settings.provider!r} has no generator to create; choose "
                          f"one of: {', '.join(sorted(GENERATORS))} (or 'none' for extractive answers only)")
    embed = getattr(embedder, "embed_documents", None) if embedder is not None else None
    return GroundedGenerator(factory(settings), embed=embed, analyses=analyses, split=split)
