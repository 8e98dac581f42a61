"""Server mode against a real `chroma run` on 127.0.0.1: ingest, ask, outage, recovery without a rebuild."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CORPUS, XINHUA, make_settings

from postqa.core.config import Settings
from postqa.core.errors import StoreUnavailableError
from postqa.service.pipeline import build_assistant, ingest

pytestmark = pytest.mark.server

CHROMA = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
QUESTION = "Who presided over the Xinhua meeting?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ChromaServer:
    """A `chroma run` process on a fixed port and data folder that a test can stop and start again."""

    def __init__(self, data: Path, port: int, log: Path) -> None:
        self.data, self.port, self.log = data, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [CHROMA, "run", "--path", str(self.data), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log.read_text()[-2000:]
                raise RuntimeError(f"chroma run exited with {self.proc.returncode}: {tail}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"chroma run did not listen on port {self.port} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        self.proc = None


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[ChromaServer]:
    if not Path(CHROMA).exists():
        pytest.skip("the `chroma` CLI (from the chromadb package) is not installed")
    server = ChromaServer(tmp_path / "chroma-data", _free_port(), tmp_path / "chroma.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server_settings(tmp_path: Path, chroma_server: ChromaServer) -> Settings:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    return make_settings(tmp_path, corpus, **{"store.mode": "server", "store.port": chroma_server.port})


def _clear(err: BaseException, port: int) -> None:
    msg = str(err)
    assert f"127.0.0.1:{port}" in msg and "chroma run" in msg, msg
    assert "Traceback" not in msg and "httpx" not in msg and "ConnectError" not in msg, msg


def test_ingest_ask_outage_and_recovery_without_a_rebuild(server_settings: Settings,
                                                          chroma_server: ChromaServer) -> None:
    first = ingest(server_settings)
    assert sorted(first.added) and first.chunks_embedded == first.chunks_total > 5
    # nothing is written to the local embedded store in server mode
    assert not (server_settings.paths.vectorstore / "chroma").exists()
    again = ingest(server_settings)
    assert (again.added, again.updated, again.removed, again.chunks_embedded) == ([], [], [], 0)
    assistant = build_assistant(server_settings)
    answer = assistant.ask(QUESTION)
    assert answer.answerable and answer.citations[0].article_id == XINHUA
    assert assistant.status()["store"] == f"chroma server http://127.0.0.1:{chroma_server.port}"

    chroma_server.stop()
    with pytest.raises(StoreUnavailableError) as err:
        assistant.ask(QUESTION)
    _clear(err.value, chroma_server.port)
    with pytest.raises(StoreUnavailableError) as err:
        build_assistant(server_settings)
    _clear(err.value, chroma_server.port)
    with pytest.raises(StoreUnavailableError) as err:
        ingest(server_settings)
    _clear(err.value, chroma_server.port)

    chroma_server.start()  # same port, same data folder
    answer = assistant.ask(QUESTION)  # the SAME Assistant, not rebuilt
    assert answer.answerable and answer.citations[0].article_id == XINHUA
    assert assistant.status()["chunks"] == first.chunks_total
    assert ingest(server_settings).chunks_embedded == 0


def test_server_mode_reader_sees_another_process_ingest(server_settings: Settings,
                                                        chroma_server: ChromaServer, tmp_path: Path) -> None:
    """Unlike embedded mode (see "stale embedded reader" in docs/reliability.md), one server serves all."""
    ingest(server_settings)
    assistant = build_assistant(server_settings)
    assistant.keyword.ttl = 0.0
    assert assistant.ask(QUESTION).citations
    extra = server_settings.paths.corpus / "zz_new.txt"
    extra.write_text("Parcel lockers in Lhasa\nDate: 2021-06-01\n\nDrolma Tsering opened 40 parcel lockers "
                     "in Lhasa on June 1, 2021.\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTQA_")}
    env.update({"POSTQA_EMBEDDING__PROVIDER": "hash", "POSTQA_EMBEDDING__DIM": "256",
                "POSTQA_PATHS__CORPUS": str(server_settings.paths.corpus),
                "POSTQA_PATHS__VECTORSTORE": str(server_settings.paths.vectorstore),
                "POSTQA_STORE__MODE": "server", "POSTQA_STORE__PORT": str(chroma_server.port)})
    run = subprocess.run([sys.executable, "-m", "postqa.interfaces.cli", "ingest"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    answer = assistant.ask("Who opened parcel lockers in Lhasa?")
    assert answer.citations[0].article_id == "zz_new" and "Drolma Tsering" in answer.text


class HangingProxy:
    """A TCP proxy on 127.0.0.1 in front of the Chroma server that can stop answering: with ``hang`` set it
    keeps every connection open and forwards nothing, like a server that accepts but never replies."""

    def __init__(self, upstream: int) -> None:
        import threading

        self.upstream = upstream
        self.hang = threading.Event()
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        import threading

        while not self.stop.is_set():
            try:
                client, _ = self.sock.accept()
            except OSError:
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
            except OSError:
                client.close()
                continue
            for a, b in ((client, server), (server, client)):
                t = threading.Thread(target=self._pump, args=(a, b), daemon=True)
                t.start()
                self.threads.append(t)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        src.settimeout(0.2)
        while not self.stop.is_set():
            try:
                data = src.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            if self.hang.is_set():
                continue  # swallowed: the other side waits for a reply that never comes
            try:
                dst.sendall(data)
            except OSError:
                break
        for s in (src, dst):
            try:
                s.close()
            except OSError:
                pass

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(5)
        self.sock.close()


def test_web_chat_hang_then_recovery_through_a_proxy(tmp_path: Path, chroma_server: ChromaServer) -> None:
    """The chat answers, the server hangs (accepts, never replies): the answer function says the store is
    not reachable within store.timeout; when the server answers again, the same service answers again."""
    from postqa.interfaces.web import AssistantHolder, ChatService, assistant_factory

    proxy = HangingProxy(chroma_server.port)
    try:
        corpus = tmp_path / "corpus2"
        shutil.copytree(CORPUS, corpus)
        settings = make_settings(tmp_path, corpus, **{"store.mode": "server", "store.port": proxy.port,
                                                      "store.timeout": 2.0})
        ingest(settings)
        service = ChatService(AssistantHolder(assistant_factory(settings)))
        first = service.reply(QUESTION)
        assert first.answer is not None and first.answer.citations[0].article_id == XINHUA
        proxy.hang.set()
        down = service.reply(QUESTION)
        assert down.answer is None and "cannot reach the chroma server" in down.error, down.error
        assert "<" not in down.error
        proxy.hang.clear()
        again = service.reply(QUESTION)
        assert again.answer is not None and again.answer.citations[0].article_id == XINHUA
    finally:
        proxy.close()
