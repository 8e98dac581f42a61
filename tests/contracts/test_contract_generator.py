"""The Generator contract, run against the fake generator and the OpenAI-compatible provider (a real local
HTTP server with a scripted model) and, when its optional runtime and a GGUF model are installed, llama-cpp:
a reply is text, the stream's pieces join to the reply, a failure is a ProviderError, the name is stable."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from postqa.answering.generate import FakeGenerator, Generator, OpenAICompatibleGenerator, Passage
from postqa.core.config import GeneratorSettings
from postqa.core.errors import ProviderError

PASSAGES = [Passage(1, "China Post and Xinhua", date(2020, 9, 11),
                    "Zhang Yongping presided over the meeting. Kang Ning addressed it."),
            Passage(2, "Parcels", None, "A parcel service was launched.")]
QUESTION = "Who presided over the meeting?"
REPLY = "Zhang Yongping presided over the meeting [1]."


class _Model(BaseHTTPRequestHandler):
    """/v1/chat/completions answering REPLY (SSE when asked to stream), or HTTP 500 when told to fail."""

    server: Any

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.server.fail:
            self.send_response(500)
            self.end_headers()
            return
        self.send_response(200)
        if body.get("stream"):
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for piece in re.findall(r"\S+\s*", REPLY):
                chunk = {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            return
        data = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY},
                                        "finish_reason": "stop"}]}).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def model_server() -> Iterator[Any]:
    srv: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Model)
    srv.daemon_threads = True
    srv.fail = False
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _openai(server: Any) -> OpenAICompatibleGenerator:
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    return OpenAICompatibleGenerator(GeneratorSettings(provider="openai-compatible", base_url=url, model="m",
                                                       timeout=10.0))


def _llama_cpp(_: Any) -> Generator:
    from postqa.answering.generate import LlamaCppGenerator, default_gguf

    pytest.importorskip("xllamacpp")
    path = default_gguf()
    if not path:
        pytest.skip("no GGUF model installed (bash scripts/install_gguf.sh)")
    return LlamaCppGenerator(GeneratorSettings(provider="llama-cpp", model_path=str(path), max_tokens=32), threads=1)


FACTORIES = {"fake": lambda _: FakeGenerator(replies=[REPLY]), "openai-compatible": _openai,
             "llama-cpp": _llama_cpp}


@pytest.fixture(params=["fake", "openai-compatible", pytest.param("llama-cpp", marks=pytest.mark.slow)])
def generator(request: pytest.FixtureRequest, model_server: Any) -> Generator:
    model_server.fail = False
    return FACTORIES[request.param](model_server)


def test_a_reply_is_text_and_the_stream_joins_to_a_reply(generator: Generator) -> None:
    reply = generator.generate(QUESTION, PASSAGES)
    assert isinstance(reply, str) and reply.strip()
    pieces = list(generator.stream(QUESTION, PASSAGES))
    assert pieces and all(isinstance(p, str) for p in pieces) and "".join(pieces).strip()
    if not isinstance(generator, FakeGenerator) and "llama" in type(generator).__name__.lower():
        return  # a real model may word two replies differently
    assert "".join(pieces).strip() == reply.strip()


def test_the_name_is_a_stable_non_empty_string(generator: Generator) -> None:
    assert isinstance(generator.name, str) and generator.name and generator.name == generator.name


@pytest.mark.parametrize("provider", ["fake", "openai-compatible"])
def test_a_failing_model_raises_provider_error(provider: str, model_server: Any) -> None:
    model_server.fail = True
    try:
        gen = FakeGenerator(replies=[ProviderError("model crashed")]) if provider == "fake" else _openai(model_server)
        with pytest.raises(ProviderError):
            gen.generate(QUESTION, PASSAGES)
        with pytest.raises(ProviderError):
            list(gen.stream(QUESTION, PASSAGES))
    finally:
        model_server.fail = False
