"""Optional generative answers: the Generator protocol, one provider per module (fake, OpenAI-compatible,
llama-cpp), the registry, and the citation checker that keeps every generated sentence grounded in a
retrieved passage.

prompt -> base (protocol) -> fake | openai_compatible | llama_cpp -> checker -> grounded -> registry."""

from __future__ import annotations

from postqa.answering.generate.base import Generator
from postqa.answering.generate.checker import Checker, CheckReport, split_reply
from postqa.answering.generate.fake import FakeGenerator
from postqa.answering.generate.grounded import GroundedGenerator, answer_pieces
from postqa.answering.generate.llama_cpp import LLAMA_CPP_HINT, LlamaCppGenerator, default_gguf
from postqa.answering.generate.openai_compatible import OpenAICompatibleGenerator
from postqa.answering.generate.prompt import (
    COMPLETION_STOPS,
    SYSTEM_PROMPT,
    Passage,
    build_messages,
    format_passages,
    render_completion_prompt,
)
from postqa.answering.generate.registry import GENERATORS, GeneratorFactory, create_generator, register_generator

__all__ = ["Generator", "Passage", "FakeGenerator", "OpenAICompatibleGenerator", "LlamaCppGenerator",
           "GroundedGenerator", "Checker", "CheckReport", "GENERATORS", "GeneratorFactory", "register_generator",
           "create_generator", "build_messages", "format_passages", "render_completion_prompt", "split_reply",
           "answer_pieces", "default_gguf", "SYSTEM_PROMPT", "LLAMA_CPP_HINT", "COMPLETION_STOPS"]
