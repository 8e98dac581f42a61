"""Issue 14: nothing hangs when Chroma does. A socket on 127.0.0.1 that accepts connections and never answers
stands in for a hung server; `status`, `ask`, `ingest` and the web chat's answer must each come back with a
clear "cannot reach" error bounded by ``store.timeout``. Also: refused ports, HTML error pages, retries, and
`status` after a crash. Only loopback addresses; every wait is bounded."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import CORPUS, make_settings

from postqa.core.config import Settings
from postqa.core.errors import StoreUnavailableError
from postqa.index import store as store_mod
from postqa.index.store import ChromaStore, error_text, probe_server, retry_transient, run_with_deadline

TIMEOUT = 1.0  # store.timeout in these tests
BOUND = 90.0  # what "bounded" means here: far above TIMEOUT, far below "forever"


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte (optionally: a fixed HTTP reply)."""

    def __init__(self, reply: bytes | None = None) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.reply = reply
        self.conns: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.conns.append(conn)
            if self.reply is not None:
                try:
                    conn.settimeout(2)
                    conn.recv(65536)
                    conn.sendall(self.reply)
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


HTML_502 = (b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nConnection: close\r\nContent-Length: 600\r\n\r\n"
            + (b"<html><head><style>body{color:red}</style><title>502</title></head><body><h1>Bad Gateway</h1>"
               b"<p>The proxy got no answer.</p>" + b"<!-- padding -->" * 40 + b"</body></html>").ljust(600))


@pytest.fixture
def html_proxy() -> Iterator[SilentServer]:
    server = SilentServer(reply=HTML_502)
    yield server
    server.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_settings(tmp_path: Path, port: int) -> Settings:
    return make_settings(tmp_path, CORPUS, **{"store.mode": "server", "store.port": port, "store.timeout": TIMEOUT})


def bounded(fn: Callable[[], Any]) -> Any:
    """fn() in a thread; fails the test if it has not returned within BOUND seconds (it would hang)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as err:  # noqa: BLE001
            box["error"] = err

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(BOUND)
    assert not t.is_alive(), f"still waiting after {BOUND:.0f} s: the call hangs"
    if "error" in box:
        raise box["error"]
    return box.get("value")


def cli(tmp_path: Path, port: int, *args: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTQA_")}
    env.update({"POSTQA_EMBEDDING__PROVIDER": "hash", "POSTQA_EMBEDDING__DIM": "256",
                "POSTQA_PATHS__CORPUS": str(CORPUS), "POSTQA_PATHS__VECTORSTORE": str(tmp_path / "vs"),
                "POSTQA_STORE__MODE": "server", "POSTQA_STORE__PORT": str(port),
                "POSTQA_STORE__TIMEOUT": str(TIMEOUT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
                **(extra or {})})
    return subprocess.run([sys.executable, "-m", "postqa.interfaces.cli", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=BOUND)


def assert_clear(stderr: str, port: int, reason: str) -> None:
    assert stderr.startswith(f"postqa: error: cannot reach the chroma server http://127.0.0.1:{port}: "), stderr
    assert reason in stderr and "chroma run" in stderr, stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr


# ------------------------------------------------------------------ a server that accepts and never replies


@pytest.mark.parametrize("command", [("status",), ("ask", "Who presided over the Xinhua meeting?"), ("ingest",),
                                     ("indexes",)], ids=["status", "ask", "ingest", "indexes"])
def test_cli_against_a_hanging_server_stops_within_the_timeout(tmp_path: Path, silent: SilentServer,
                                                               command: tuple[str, ...]) -> None:
    proc = cli(tmp_path, silent.port, *command)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert_clear(proc.stderr, silent.port, f"no reply within {TIMEOUT:g} s (store.timeout)")


def test_store_client_against_a_hanging_server_raises_store_unavailable(tmp_path: Path,
                                                                        silent: SilentServer) -> None:
    settings = server_settings(tmp_path, silent.port)
    with pytest.raises(StoreUnavailableError, match="no reply within 1 s"):
        bounded(lambda: ChromaStore(settings.store, settings.paths.vectorstore).client)


def test_web_chat_answer_against_a_hanging_server_is_a_message(tmp_path: Path, silent: SilentServer) -> None:
    from postqa.interfaces.web import AssistantHolder, ChatService, assistant_factory

    service = ChatService(AssistantHolder(assistant_factory(server_settings(tmp_path, silent.port))))
    reply = bounded(lambda: service.reply("Who presided over the Xinhua meeting?"))
    assert reply.answer is None and "cannot reach the chroma server" in reply.error
    assert "no reply within 1 s" in reply.error and "Cannot answer" in reply.markdown
    assert "cannot reach" in bounded(service.status)  # the status line says so too, also bounded


def test_the_constructor_runs_under_the_deadline_even_if_the_probe_passes(tmp_path: Path, silent: SilentServer,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """If the server stops replying between the probe and chromadb's constructor, the deadline still holds."""
    monkeypatch.setattr(store_mod, "probe_server", lambda host, port, timeout: None)
    settings = server_settings(tmp_path, silent.port)
    with pytest.raises(StoreUnavailableError, match="no reply while connecting within 1 s"):
        bounded(lambda: ChromaStore(settings.store, settings.paths.vectorstore).client)


# ------------------------------------------------------------------------- refused, HTML, retries


def test_refused_port_is_a_clear_error_after_retries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    calls = []
    original = httpx.get

    def counting_get(*args: Any, **kwargs: Any) -> httpx.Response:
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(httpx, "get", counting_get)
    settings = server_settings(tmp_path, port)
    with pytest.raises(StoreUnavailableError) as err:
        bounded(lambda: ChromaStore(settings.store, settings.paths.vectorstore).client)
    assert "Connection refused" in str(err.value) and f"127.0.0.1:{port}" in str(err.value)
    assert len(calls) == 3  # a refused connection is retried (a restarting server), with backoff


def test_cli_against_a_refused_port(tmp_path: Path) -> None:
    port = free_port()
    proc = cli(tmp_path, port, "status")
    assert proc.returncode == 2, proc.stderr
    assert_clear(proc.stderr, port, "Connection refused")


def test_an_html_error_page_is_not_shown_raw(tmp_path: Path, html_proxy: SilentServer) -> None:
    settings = server_settings(tmp_path, html_proxy.port)
    with pytest.raises(StoreUnavailableError) as err:
        bounded(lambda: ChromaStore(settings.store, settings.paths.vectorstore).client)
    msg = str(err.value)
    assert "not a Chroma server: HTTP error 502" in msg and "Bad Gateway" in msg
    assert "<" not in msg and "color:red" not in msg and len(msg) < 400, msg


def test_cli_html_error_page(tmp_path: Path, html_proxy: SilentServer) -> None:
    proc = cli(tmp_path, html_proxy.port, "status")
    assert proc.returncode == 2 and "<html" not in proc.stderr and "HTTP error 502" in proc.stderr, proc.stderr


def test_error_text_strips_markup_and_cuts() -> None:
    page = "<html><head><script>var x = 1;</script></head><body><h1>Oops</h1>" + "<p>x</p>" * 200 + "</body></html>"
    text = error_text(page)
    assert text.startswith("Oops x x") and "<" not in text and "var x" not in text and len(text) <= 200
    assert error_text(ValueError("a\n  b")) == "a b" and error_text(ValueError()) == "ValueError"


def test_retry_transient_retries_connect_errors_then_succeeds() -> None:
    attempts = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise httpx.ConnectError("refused")
        return "ok"

    assert retry_transient(flaky, 10.0) == "ok" and len(attempts) == 3


def test_retry_transient_does_not_retry_read_timeouts() -> None:
    attempts = []

    def hung() -> None:
        attempts.append(1)
        raise httpx.ReadTimeout("timed out")

    with pytest.raises(httpx.ReadTimeout):
        retry_transient(hung, 10.0)
    assert len(attempts) == 1  # a hung server costs one timeout, not three


def test_retry_transient_gives_up_after_three_attempts() -> None:
    attempts = []

    def down() -> None:
        attempts.append(1)
        raise httpx.ConnectError("refused")

    with pytest.raises(httpx.ConnectError):
        retry_transient(down, 10.0)
    assert len(attempts) == 3


def test_run_with_deadline_returns_raises_and_times_out() -> None:
    assert run_with_deadline(lambda: 42, 5, "adding") == 42
    with pytest.raises(KeyError):
        run_with_deadline(lambda: {}["x"], 5, "looking up")
    never = threading.Event()
    with pytest.raises(TimeoutError, match="no reply while waiting within 0.2 s"):
        run_with_deadline(lambda: never.wait(60), 0.2, "waiting")
    never.set()


def test_probe_against_the_hanging_server(silent: SilentServer) -> None:
    with pytest.raises(ConnectionError, match="no reply within 1 s"):
        bounded(lambda: probe_server("127.0.0.1", silent.port, TIMEOUT))


# ------------------------------------------------------------------------ status after a crash


def test_status_after_an_interrupted_ingest_counts_from_the_store(tmp_path: Path) -> None:
    from postqa.index.embedding import HashEmbedder
    from postqa.service.pipeline import build_assistant, index_spec, ingest, open_store

    settings = make_settings(tmp_path, CORPUS)
    ingest(settings)
    index = open_store(settings).open_index(index_spec(settings, HashEmbedder(dim=256)), create=False)
    good = index.state()
    index.set_state({"dirty": True, "started": "2026-01-02T03:04:05+00:00"})  # as a killed first ingest leaves it
    status = build_assistant(settings).status()
    assert status["articles"] == 2 and status["chunks"] == good["chunks"] and status["dirty"]
    assert status["interrupted_at"] == "2026-01-02T03:04:05+00:00"


def test_status_cli_after_kill_9_tells_the_truth(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(6):
        body = f"Sentence {i} about parcels. " * 60
        (corpus / f"a{i}.txt").write_text(f"News {i}\nDate: 2021-01-0{i + 1}\n\n{body}", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTQA_")}
    env.update({"POSTQA_EMBEDDING__PROVIDER": "hash", "POSTQA_EMBEDDING__DIM": "256",
                "POSTQA_PATHS__CORPUS": str(corpus), "POSTQA_PATHS__VECTORSTORE": str(tmp_path / "vs"),
                "POSTQA_EMBEDDING__WRITE_BATCH": "4", "OMP_NUM_THREADS": "1"})
    run = [sys.executable, "-m", "postqa.interfaces.cli"]
    killed = subprocess.run([*run, "ingest"], env={**env, "POSTQA_CRASH_AT": "embedding"}, cwd=tmp_path,
                            capture_output=True, text=True, timeout=BOUND)
    assert killed.returncode == -9, killed.stderr[-2000:]
    status = subprocess.run([*run, "status"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=BOUND)
    out = status.stdout
    assert status.returncode == 0, status.stderr
    assert "articles:    0" not in out and "last ingest: interrupted at 20" in out, out
    assert "(the last complete one: never)" in out and "did not finish" in out, out


def test_status_while_another_ingest_runs_says_so(tmp_path: Path) -> None:
    from postqa.service.assistant import ingest_running

    (tmp_path / ".ingest.owner").write_text(f"pid {os.getpid()} since 2026-01-02T03:04:05+00:00")
    assert ingest_running(tmp_path) == "2026-01-02T03:04:05+00:00"
    (tmp_path / ".ingest.owner").write_text("pid 999999999 since 2026-01-02T03:04:05+00:00")  # a killed one
    assert ingest_running(tmp_path) is None
