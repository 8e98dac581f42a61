"""The OpenAI-compatible provider: any /v1/chat/completions server (Ollama, vLLM, llama.cpp server)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlparse

from postqa.answering.generate.prompt import Passage, build_messages
from postqa.core.config import GeneratorSettings
from postqa.core.errors import ProviderError


def _is_loopback(url: str) -> bool:
    return (urlparse(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


class OpenAICompatibleGenerator:
    """Any server that speaks the OpenAI chat API (Ollama, vLLM, llama.cpp server) over plain HTTP."""

    def __init__(self, settings: GeneratorSettings) -> None:
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self.model = settings.model or "default"
        self.name = settings.model or self.base_url

    def _request(self, question: str, passages: Sequence[Passage], stream: bool) -> tuple[dict[str, Any],
                                                                                           dict[str, str]]:
        body = {"model": self.model, "messages": build_messages(question, passages),
                "max_tokens": self.settings.max_tokens, "temperature": self.settings.temperature,
                "stream": stream}
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.settings.api_key_env, "") if self.settings.api_key_env else ""
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return body, headers

    def _client(self) -> Any:
        import httpx

        # a proxy from the environment must not capture a server on this machine
        return httpx.Client(timeout=httpx.Timeout(self.settings.timeout),
                            trust_env=not _is_loopback(self.base_url))

    def _fail(self, err: Exception) -> ProviderError:
        import httpx

        url = f"{self.base_url}/chat/completions"
        if isinstance(err, httpx.TimeoutException):
            return ProviderError(f"the generator at {url} timed out after {self.settings.timeout:g} s")
        if isinstance(err, httpx.HTTPStatusError):
            try:
                text = err.response.text[:200]
            except Exception:  # noqa: BLE001 - a streamed body may be unreadable
                text = ""
            return ProviderError(f"the generator at {url} returned HTTP {err.response.status_code}: "
                                 f"{text.strip() or err.response.reason_phrase}")
        if isinstance(err, httpx.HTTPError):
            return ProviderError(f"cannot reach the generator at {url}: {err or type(err).__name__}")
        return ProviderError(f"the generator at {url} sent an unreadable reply: {err}")

    def generate(self, question: str, passages: Sequence[Passage]) -> str:
        import httpx

        body, headers = self._request(question, passages, stream=False)
        try:
            with self._client() as client:
                resp = client.post(f"{self.base_url}/chat/completions", json=body, headers=headers)
                resp.raise_for_status()
                data = resp.json()
            return str(data["choices"][0]["message"]["content"] or "")
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as err:
            raise self._fail(err) from None

    def stream(self, question: str, passages: Sequence[Passage]) -> Iterator[str]:
        import httpx

        body, headers = self._request(question, passages, stream=True)
        deadline = time.monotonic() + self.settings.timeout
        try:
            with self._client() as client, client.stream(
                    "POST", f"{self.base_url}/chat/completions", json=body, headers=headers) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    resp.raise_for_status()
                for line in resp.iter_lines():
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("overall deadline passed")
                    if not line.startswith("data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        return
                    chunk = json.loads(payload)
                    choices = chunk.get("choices") or []
                    if choices:
                        delta = choices[0].get("delta") or {}
                        text = delta.get("content") or choices[0].get("text") or ""
                        if text:
                            yield str(text)
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as err:
            raise self._fail(err) from None
