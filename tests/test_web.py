"""The web chat: formatting and escaping, the chat service's error handling, and the app as a real server
(gradio_client round trip, login, Gradio's file routes, 20 concurrent requests). Hash embedder throughout."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from conftest import CORPUS, ROOT, XINHUA, make_settings

from postqa.core.config import Settings
from postqa.core.errors import ConfigError, PostqaError, StoreUnavailableError
from postqa.core.types import Answer, Citation, SearchFilter
from postqa.interfaces.web import (
    NOT_COVERED_TEXT,
    AssistantHolder,
    ChatService,
    answer_markdown,
    auth_pairs,
    escape_markdown,
    highlight,
    parse_filter,
    shown_question,
    source_label,
    sources_html,
    status_html,
)
from postqa.nlp.pipeline import Analyser

XINHUA_Q = "Who presided over the Xinhua meeting?"
ZHANG = "Zhang Yongping, Head of the General Manager’s Office of Xinhua News Agency"
XSS_TITLE = '<script>window.__pqxss=1</script>Harbin <img src=x onerror="window.__pqxss=2"> hub opens'


# --- helpers shared with test_browser.py ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(path: Path, settings: Settings, auth: list[str] | None = None) -> Path:
    """A postqa.toml that reproduces ``settings`` (paths, embedder) for a server subprocess."""
    e = settings.embedding
    lines = ["[paths]", f'corpus = "{settings.paths.corpus}"',
             f'vectorstore = "{settings.paths.vectorstore}"', "[embedding]", f'provider = "{e.provider}"',
             f'model = "{e.model}"', f"dim = {e.dim}", "threads = 1",
             "[server]", f"auth = {auth or []!r}".replace("'", '"'), "concurrency = 4"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class RunningApp:
    url: str
    port: int
    proc: subprocess.Popen[str]
    log: Path
    startup_s: float


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTQA_")}
    env.update(GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1",
               TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return env


@contextmanager
def running_app(config: Path, log: Path, timeout: float = 180.0) -> Iterator[RunningApp]:
    """`python app.py --config F --port N` as a real subprocess on a free loopback port; always killed."""
    port = free_port()
    started = time.monotonic()
    with log.open("w") as out:
        cmd = [sys.executable, str(ROOT / "app.py"), "--config", str(config), "--port", str(port)]
        proc = subprocess.Popen(cmd, cwd=str(config.parent), env=_env(), stdout=out, stderr=subprocess.STDOUT,
                                text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"app exited with {proc.returncode}:\n{log.read_text()}")
            if time.monotonic() - started > timeout:
                raise AssertionError(f"app not ready after {timeout:.0f} s:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        yield RunningApp(url, port, proc, log, time.monotonic() - started)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


# --- formatting and escaping (no server) --------------------------------------------------------------------


def _citation(n: int = 1, title: str = "Title", passage: str = "Zhang presided.",
              span: tuple[int, int] | None = (0, 5), source: str = "/srv/corpus/002.txt") -> Citation:
    return Citation(n=n, article_id="a", title=title, published=date(2020, 9, 11), source=source,
                    passage=passage, span=span, score=0.7)


def test_highlight_marks_the_span_and_escapes_every_piece() -> None:
    assert highlight("Zhang presided.", (0, 5)) == "<mark>Zhang</mark> presided."
    out = highlight("<b>x</b> said <script>alert(1)</script>", (9, 13))
    assert out == "&lt;b&gt;x&lt;/b&gt; <mark>said</mark> &lt;script&gt;alert(1)&lt;/script&gt;"
    assert highlight("abc", (2, 99)) == "abc"  # a bad span shows the passage without a mark
    assert highlight("a\x00b", None) == "a b"


def test_sources_panel_escapes_titles_passages_and_sources() -> None:
    c = _citation(title=XSS_TITLE, passage='<img src=x onerror="alert(1)"> Zhang presided.', span=(31, 36),
                  source="/srv/<script>.txt")
    out = sources_html(Answer("q", "Zhang", True, [c]))
    assert "<script" not in out and "<img" not in out and "onerror=\"" not in out
    assert "&lt;script&gt;window.__pqxss=1&lt;/script&gt;" in out
    assert "<mark>Zhang</mark>" in out and "2020-09-11" in out and "&lt;script&gt;.txt" in out
    assert "/srv/" not in out  # a file path shows as its name only


def test_answer_markdown_numbers_citations_and_neutralises_markup() -> None:
    a = Answer("q", ZHANG, True, [_citation(1), _citation(2, span=None)])
    assert answer_markdown(a) == f"**{escape_markdown(ZHANG)} \\[1\\]**"
    evil = Answer("q", '<img src=x onerror=alert(1)> [link](javascript:alert(1)) *x*', True, [_citation()])
    md = answer_markdown(evil)
    assert "<img" not in md and "](" not in md and " *x*" not in md
    assert "&lt;img src=x onerror=alert\\(1\\)&gt;" in md


def _cite(n: int, article: str, title: str, passage: str = "Zhang presided. He spoke.",
          sentences: tuple[tuple[int, int], ...] = ((0, 15), (16, 25))) -> Citation:
    return Citation(n=n, article_id=article, title=title, published=date(2020, 9, 11), source="x.txt",
                    passage=passage, span=None, score=0.5, sentences=sentences)


def test_a_refusal_shows_the_first_sentence_of_the_stored_analysis(analyser: Analyser) -> None:
    passage = 'Mr. Li said: "It is done." Dr. Wang of the U.S. office agreed. <b>Then</b> they left.'
    a = analyser.analyse(passage)
    sents = tuple(a.char_span(s) for s in a.sents)
    first = passage[sents[0][0]:sents[0][1]]
    assert first == 'Mr. Li said: "It is done."'
    md = answer_markdown(Answer("q", "", False, [_cite(1, "a", "A", passage, sents)]))
    assert md.endswith(f"\\[1\\]: {escape_markdown(first)}") and "Wang" not in md
    panel = sources_html(Answer("q", "", False, [_cite(1, "a", "A", passage, sents)]))
    assert "Mr. Li said: &quot;It is done.&quot;</blockquote>" in panel and "Wang" not in panel
    one = sources_html(Answer("q", "", False, [_cite(1, "a", "A", passage, ())]))
    assert "&lt;b&gt;Then&lt;/b&gt; they left." in one and "<b>" not in one  # one sentence: all of it, escaped


def test_not_covered_answer_lists_at_most_three_articles_with_one_sentence_each() -> None:
    long = "A very long title " * 12
    a = Answer("q", "The news in the index does not say.", False,
               [_cite(1, "a", "A"), _cite(2, "a", "A"), _cite(3, "b", "B <i>"), _cite(4, "c", long),
                _cite(5, "d", "D"), _cite(6, "e", "E")])
    md = answer_markdown(a)
    assert md.startswith(f"**{NOT_COVERED_TEXT}**")
    items = [line for line in md.splitlines() if line.startswith("- ")]
    assert len(items) == 3
    assert items[0] == "- **A** (2020-09-11) \\[1\\]: Zhang presided\\."  # one sentence, not the passage
    assert items[1].startswith("- **B &lt;i&gt;** (2020-09-11) \\[3\\]")
    assert "…" in items[2] and len(items[2]) < 160  # a long title is cut
    panel = sources_html(a)
    assert "Nearest articles" in panel and panel.count('class="pq-src"') == 3 and "He spoke" not in panel
    assert f'title="{long}"' in panel  # the full title on hover


def test_every_text_is_escaped_exactly_once() -> None:
    title = "People's Daily Online: UK's \"post\" & <b>parcels</b>"
    md = answer_markdown(Answer("q", "x", False, [_cite(1, "a", title)]))
    # entities stay whole (no backslash inside &#x27;), so the page shows the apostrophe, not "&#x27;"
    assert "People&#x27;s Daily Online: UK&#x27;s &quot;post&quot; &amp; &lt;b&gt;parcels&lt;/b&gt;" in md
    assert "&amp;#x27;" not in md and "&\\#" not in md
    panel = sources_html(Answer("q", "x", True, [_cite(1, "a", title)]))
    assert "People&#x27;s Daily Online" in panel and "&amp;#x27;" not in panel and "<b>" not in panel
    assert escape_markdown("a*b_[c](d)#e") == "a\\*b\\_\\[c\\]\\(d\\)\\#e"
    assert escape_markdown("It's") == "It&#x27;s"


def test_article_view_shows_the_whole_article_with_the_passage_highlighted() -> None:
    from postqa.core.types import Article
    from postqa.interfaces.web import article_html

    text = "First sentence. Zhang Yongping presided over the meeting. <script>x</script> Last one."
    art = Article("a1", "A <title>", date(2020, 9, 11), "https://example.org/news/1.html", text)
    start = text.index("Zhang")
    passage = "Zhang Yongping presided over the meeting."
    out = article_html(art, start, len(passage), (0, 14))
    assert '<span id="pq-hit" class="pq-hit"><mark>Zhang Yongping</mark> presided over the meeting.</span>' in out
    assert out.index("First sentence.") < out.index("pq-hit") < out.index("Last one.")
    assert "&lt;script&gt;" in out and "<script>" not in out and "A &lt;title&gt;" in out
    assert 'href="https://example.org/news/1.html"' in out and 'rel="noopener noreferrer nofollow"' in out
    local = article_html(Article("a2", "T", None, "corpus/javascript:alert(1).txt", "Body."), 99, 5)
    assert "href" not in local and "undated" in local and "pq-hit" not in local  # no URL, bad offsets: no mark
    assert 'href' not in article_html(Article("a3", "T", None, "javascript:alert(1)", "Body."))


def test_question_echo_is_cut_and_cleaned() -> None:
    shown = shown_question("x" * 20_000)
    assert len(shown) < 500 and "20,000 characters" in shown
    assert shown_question("a\x00\x1bb <script>") == "a b &lt;script&gt;"
    assert shown_question("   ") == "*(empty question)*"


def test_filters_parse_dates_and_articles_and_reject_bad_values() -> None:
    assert parse_filter("", " ", None) is None
    flt = parse_filter("2020-01-01", "2020-12-31", [XINHUA])
    assert flt == SearchFilter(date(2020, 1, 1), date(2020, 12, 31), frozenset({XINHUA}))
    with pytest.raises(PostqaError, match="YYYY-MM-DD"):
        parse_filter("last week", "", None)
    with pytest.raises(PostqaError, match="earlier date first"):
        parse_filter("2021-01-01", "2020-01-01", None)


def test_small_pieces() -> None:
    assert source_label("https://example.org/a?b=1") == "https://example.org/a?b=1"
    assert source_label("/work/main/corpus/002.txt") == "002.txt"
    assert "&lt;b&gt;" in status_html({"embedding": {"model": "<b>", "dim": 3}, "articles": 1, "chunks": 2})
    assert status_html(None, "no index; run `postqa ingest`").count("postqa ingest") == 1


def test_auth_entries_must_be_user_colon_password(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, CORPUS, **{"server.auth": ["alice:s3:cret", "bob:pw"]})
    assert auth_pairs(settings) == [("alice", "s3:cret"), ("bob", "pw")]
    with pytest.raises(ConfigError, match="user:password"):
        auth_pairs(make_settings(tmp_path, CORPUS, **{"server.auth": ["alice"]}))


# --- the chat service: every failure is a message ---------------------------------------------------------


def test_service_answers_follows_up_and_survives_bad_input(hash_settings: Settings) -> None:
    from postqa.interfaces.web import assistant_factory
    from postqa.service.pipeline import build_assistant, ingest

    holder = AssistantHolder(assistant_factory(hash_settings))
    service = ChatService(holder)
    missing = service.reply(XINHUA_Q)  # the index was never built
    assert missing.answer is None and "postqa ingest" in missing.error
    assert "postqa ingest" in service.status()
    ingest(hash_settings)  # built while the app runs: the next request picks it up
    first = service.reply(XINHUA_Q)
    assert first.answer is not None and ZHANG in first.markdown and first.history == [XINHUA_Q]
    steps = list(service.stream(XINHUA_Q))  # the answer comes in pieces, then the final Reply
    assert len(steps) > 2 and all(r is None for _, r in steps[:-1]) and steps[-1][1] is not None
    assert steps[-2][0] == escape_markdown(ZHANG)
    follow = service.reply("And who addressed it?", first.history)
    assert follow.answer is not None and "Gong Xixiang" in follow.answer.text
    for bad, expected in [("", "empty"), ("x" * 20_000, "20,000 characters"), ("\x00\x07\x1b", "empty")]:
        r = service.reply(bad)
        assert r.answer is None and expected in r.error and r.history == []
    assert "YYYY-MM-DD" in service.reply(XINHUA_Q, date_from="yesterday").error
    only = service.reply(XINHUA_Q, date_from="2019-01-01", date_to="2019-12-31")
    assert only.answer is not None
    assert all(c.published and c.published.year == 2019 for c in only.answer.citations)
    assert [a[1] for a in service.articles()] == [a["id"] for a in build_assistant(hash_settings).articles()]


class _Broken:
    def __init__(self, err: Exception) -> None:
        self.err = err

    def stream(self, *args: object, **kwargs: object) -> Iterator[tuple[str, Answer | None]]:
        yield "partial ", None
        raise self.err


def test_service_turns_store_outages_and_surprises_into_messages() -> None:
    builds: list[int] = []

    def factory() -> _Broken:
        builds.append(1)
        return _Broken(StoreUnavailableError("cannot reach the Chroma server at 127.0.0.1:9"))

    service = ChatService(AssistantHolder(factory))  # type: ignore[arg-type]
    assert "cannot reach the Chroma server" in service.reply(XINHUA_Q).error
    service.reply(XINHUA_Q)
    assert len(builds) == 2  # an outage drops the assistant so the next request reconnects
    surprise = ChatService(AssistantHolder(lambda: _Broken(KeyError("boom"))))  # type: ignore[arg-type, return-value]
    assert "something went wrong (KeyError)" in surprise.reply(XINHUA_Q).error


def test_chroma_server_that_is_not_there_gives_a_message(tmp_path: Path) -> None:
    from postqa.interfaces.web import assistant_factory

    settings = make_settings(tmp_path, CORPUS, **{"store.mode": "server", "store.port": free_port(),
                                                  "store.timeout": 2.0})
    reply = ChatService(AssistantHolder(assistant_factory(settings))).reply(XINHUA_Q)
    assert reply.answer is None and "chroma run" in reply.error


def test_app_runs_requests_concurrently_and_exposes_only_ask(hash_settings: Settings) -> None:
    from postqa.interfaces.web import build_app

    demo = build_app(hash_settings.with_overrides(**{"server.concurrency": 6}))
    public = [fn for fn in demo.fns.values() if fn.api_visibility == "public"]
    assert [fn.api_name for fn in public] == ["ask"]
    assert {fn.concurrency_limit for fn in demo.fns.values() if fn.queue} == {"default"}
    assert demo._queue.default_concurrency_limit == 6  # Gradio's own default is 1


def test_serve_command_is_registered() -> None:
    from postqa.interfaces.cli import build_parser

    args = build_parser().parse_args(["serve", "--port", "7999", "--host", "127.0.0.1", "--config", "x.toml"])
    assert (args.command, args.port, args.host, args.config) == ("serve", 7999, "127.0.0.1", "x.toml")
    code = "import sys, postqa.interfaces.cli; postqa.interfaces.cli.build_parser(); print('gradio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=True)
    assert out.stdout.strip() == "False"


# --- the app as a real server -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The app over a hash-embedder index of the bundled corpus, no login."""
    from postqa.service.pipeline import ingest

    tmp = tmp_path_factory.mktemp("served")
    settings = make_settings(tmp, CORPUS)
    ingest(settings)
    with running_app(write_config(tmp / "postqa.toml", settings), tmp / "app.log") as app:
        yield app


def test_gradio_client_round_trip(served: RunningApp) -> None:
    from gradio_client import Client

    client = Client(served.url, verbose=False)
    started = time.monotonic()
    answer = client.predict(XINHUA_Q, api_name="/ask")
    latency = time.monotonic() - started
    assert answer["answer"] == ZHANG and answer["answerable"] is True
    c = answer["citations"][0]
    assert c["article_id"] == XINHUA and c["passage"][c["span"][0]:c["span"][1]] == ZHANG
    follow = client.predict("And who addressed it?", [XINHUA_Q], api_name="/ask")
    assert "Gong Xixiang" in follow["answer"]
    assert "empty" in client.predict("", api_name="/ask")["error"]
    assert "20,000" in client.predict("y" * 20_000, api_name="/ask")["error"]
    assert "YYYY-MM-DD" in client.predict(XINHUA_Q, [], "soon", api_name="/ask")["error"]
    print(f"\nstartup {served.startup_s:.1f} s; /ask round trip {latency * 1000:.0f} ms")


def test_binds_to_loopback_only(served: RunningApp) -> None:
    out = subprocess.run(["ss", "-ltnH", f"sport = :{served.port}"], capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("ss is not available")
    listeners = {line.split()[3] for line in out.stdout.splitlines() if line.strip()}
    assert listeners == {f"127.0.0.1:{served.port}"}


PROBES = [
    "/file=/etc/passwd", "/gradio_api/file=/etc/passwd", "/gradio_api/file=../../../../etc/passwd",
    "/gradio_api/file=%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/gradio_api/file=..%2f..%2f..%2fetc%2fpasswd",
    "/gradio_api/file=//etc/passwd", "/gradio_api/file=/proc/self/environ", "/static/../../../../etc/passwd",
    "/static/..%2f..%2f..%2f..%2fetc%2fpasswd", "/assets/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/gradio_api/static/..%2f..%2f..%2fetc%2fpasswd", "/favicon.ico/..%2f..%2fetc%2fpasswd",
    f"/gradio_api/file={ROOT}/postqa.toml", f"/gradio_api/file={ROOT}/corpus/{XINHUA}.txt",
    f"/gradio_api/file={ROOT}/app.py", "/gradio_api/file=" + str(Path(sys.executable).resolve()),
]


def test_file_routes_serve_nothing_outside_the_app(served: RunningApp) -> None:
    passwd = Path("/etc/passwd").read_bytes()[:20]
    for probe in PROBES:
        status, body = http_get(served.url.rstrip("/") + probe)
        assert status in (400, 403, 404), (probe, status, body[:200])
        assert passwd not in body and b"[paths]" not in body and b"Zhang Yongping" not in body, probe


def test_twenty_concurrent_chat_requests_all_answered(served: RunningApp) -> None:
    from gradio_client import Client

    cases = json_cases(5)
    reference = {q: Client(served.url, verbose=False).predict(q, api_name="/ask") for q in cases}

    clients = [Client(served.url, verbose=False) for _ in range(20)]  # 20 sessions, as 20 staff

    def one(i: int) -> tuple[str, dict[str, object], float]:
        q = cases[i % len(cases)]
        t = time.monotonic()
        result = clients[i].predict(q, api_name="/ask")
        return q, result, time.monotonic() - t

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        futures = [pool.submit(one, i) for i in range(20)]
        results = [f.result(timeout=120) for f in futures]
    wall = time.monotonic() - started
    assert len(results) == 20
    for q, result, _ in results:
        assert "error" not in result, result
        assert result == reference[q]
    latencies = sorted(r[2] for r in results)
    print(f"\n20 concurrent /ask: all answered in {wall:.2f} s; latency p50 {latencies[9] * 1000:.0f} ms, "
          f"max {latencies[-1] * 1000:.0f} ms")


def json_cases(n: int) -> list[str]:
    import json

    lines = (ROOT / "evals" / "cases.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()][:n]


@pytest.fixture(scope="module")
def served_with_login(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The app with two logins over a store where no index was ever built."""
    tmp = tmp_path_factory.mktemp("login")
    settings = make_settings(tmp, CORPUS)
    config = write_config(tmp / "postqa.toml", settings, auth=["alice:correct-horse", "bob:battery"])
    with running_app(config, tmp / "app.log") as app:
        yield app


def _post_login(url: str, user: str, password: str) -> int:
    data = urllib.parse.urlencode({"username": user, "password": password}).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url + "login", data=data), timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as err:
        return err.code


def test_wrong_password_gets_nothing(served_with_login: RunningApp) -> None:
    from gradio_client import Client

    url = served_with_login.url
    assert _post_login(url, "alice", "wrong") in (400, 401)
    assert _post_login(url, "mallory", "correct-horse") in (400, 401)
    assert _post_login(url, "alice", "correct-horse") == 200
    for path in ["config", "gradio_api/info", "gradio_api/queue/status", "gradio_api/file=/etc/passwd"]:
        status, body = http_get(url + path)
        assert status in (401, 403), (path, status)
        assert b"Xinhua" not in body and b"root:" not in body
    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises a plain ValueError on a bad login
        Client(url, auth=("alice", "wrong"), verbose=False)
    client = Client(url, auth=("alice", "correct-horse"), verbose=False)
    result = client.predict(XINHUA_Q, api_name="/ask")  # logged in; the index was never built
    assert "postqa ingest" in result["error"]


class _FakeAssistant:
    """Rows as an index that keeps the reader's url and warnings would give them."""

    def articles(self) -> list[dict[str, object]]:
        return [{"id": "a1", "title": "Harbin hub opens", "date": "2021-03-01", "url": "https://example.org/a1",
                 "warnings": ["no publication date found near the title"]},
                {"id": "a2", "title": "Stamp <show>", "date": "2020-01-02", "warnings": []},
                {"id": "a3", "title": "Undated note", "date": ""}]

    def article(self, article_id: str) -> object:
        from postqa.core.types import Article

        return Article(article_id, "Harbin hub opens", date(2021, 3, 1), "corpus/a1.txt", "Li Wenbo opened it.") \
            if article_id == "a1" else None

    def status(self) -> dict[str, object]:
        return {"embedding": {"model": "m", "dim": 3}, "articles": 3, "articles_with_warnings": 1, "chunks": 3}


def test_browse_filters_and_the_article_view_uses_the_index_rows() -> None:
    service = ChatService(AssistantHolder(_FakeAssistant))  # type: ignore[arg-type]
    view = service.article("a1", 0, 8, (0, 8))
    assert 'href="https://example.org/a1"' in view and "no publication date found" in view
    assert "<mark>Li Wenbo</mark>" in view and "not in the index" in service.article("gone")
    everything = service.browse()
    assert everything.count('class="pq-row"') == 3 and "Stamp &lt;show&gt;" in everything
    assert "⚠ 1 warning" in everything
    assert service.browse("HUB harbin").count('class="pq-row"') == 1
    assert service.browse("", "2021-01-01", "").count('class="pq-row"') == 1  # undated ones drop out
    assert service.browse("", "", "2020-12-31").count('class="pq-row"') == 1
    assert "YYYY-MM-DD" in service.browse("", "soon")
    assert "No article matches" in service.browse("nothing like this")
    assert "3 articles, 1 with warnings" in service.status()
