"""Who can reach what, probed through the HTTP API of a real server (not the page): signed out, nothing but
the login page; signed in without editor rights, the upload event itself refuses (the hidden tab is not
the guard); with no login configured there is no upload event at all. Hash embedder."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS
from test_web import RunningApp, make_settings, running_app, write_config

SIGNED_OUT_GETS = ["config", "gradio_api/info", "gradio_api/queue/status", "gradio_api/file=/etc/passwd",
                   "gradio_api/queue/data?session_hash=x", "gradio_api/upload_progress?upload_id=1"]
SIGNED_OUT_POSTS = ["gradio_api/upload", "gradio_api/queue/join", "gradio_api/call/ask", "gradio_api/run/ask",
                    "gradio_api/api/ask"]


@pytest.fixture(scope="module")
def editor_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningApp, Path]]:
    from postqa.service.pipeline import ingest

    tmp = tmp_path_factory.mktemp("access")
    corpus = tmp / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = make_settings(tmp, corpus)
    ingest(settings)
    config = write_config(tmp / "postqa.toml", settings, auth=["alice:alice-pw", "bob:bob-pw"])
    with config.open("a", encoding="utf-8") as fh:
        fh.write('editors = ["alice"]\nupload_max_mb = 1\n')
    with running_app(config, tmp / "app.log") as app:
        yield app, corpus


def _client(url: str, user: str = "", password: str = "") -> Any:
    import httpx

    client = httpx.Client(base_url=url, timeout=30)
    if user:
        r = client.post("login", data={"username": user, "password": password})
        assert r.status_code == 200, r.text
    return client


def _upload_fn(config: dict[str, Any]) -> int:
    """The fn_index of the event that writes into the upload result panel."""
    ids = {c["id"] for c in config["components"] if (c.get("props") or {}).get("elem_id") == "pq-upload-result"}
    fns = [d["id"] for d in config["dependencies"] if ids & set(d.get("outputs") or [])]
    assert len(fns) == 1, fns
    return int(fns[0])


def _call(client: Any, fn: int, data: list[Any], session: str) -> list[Any]:
    """Join the queue as the page does and read the event stream to the final output."""
    r = client.post("gradio_api/queue/join", json={"data": data, "fn_index": fn, "session_hash": session,
                                                   "event_data": None, "trigger_id": None})
    assert r.status_code == 200, r.text
    last: list[Any] = []
    with client.stream("GET", f"gradio_api/queue/data?session_hash={session}") as stream:
        for line in stream.iter_lines():
            if not line.startswith("data:"):
                continue
            msg = json.loads(line[5:])
            if msg.get("msg") in ("process_generating", "process_completed") and msg.get("output"):
                last = msg["output"].get("data") or last
            if msg.get("msg") == "process_completed":
                return last
    return last


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def test_signed_out_reaches_only_the_login_page(editor_app: tuple[RunningApp, Path]) -> None:
    app, _ = editor_app
    client = _client(app.url)
    home = client.get("")
    assert home.status_code == 200 and b"Zhang" not in home.content and b"pq-upload" not in home.content
    for path in SIGNED_OUT_GETS:
        assert client.get(path).status_code in (401, 403), path
    for path in SIGNED_OUT_POSTS:
        r = client.post(path, json={"data": ["Who presided over the Xinhua meeting?"], "fn_index": 0,
                                    "session_hash": "x"})
        assert r.status_code in (401, 403), (path, r.status_code)
        assert b"Zhang" not in r.content


def test_only_an_editor_can_upload_even_through_the_api(editor_app: tuple[RunningApp, Path],
                                                        tmp_path: Path) -> None:
    app, corpus = editor_app
    page = b"<html><body><h1>Probe</h1><p>Li Wenbo opened the Qiqihar hub on Monday.</p></body></html>"
    before = _files(corpus)
    bob = _client(app.url, "bob", "bob-pw")
    config = bob.get("config").json()
    fn = _upload_fn(config)
    tab = [c for c in config["components"] if (c.get("props") or {}).get("label") == "Add articles"]
    assert tab and tab[0]["props"].get("visible") is False  # hidden until the page learns who signed in
    uploaded = bob.post("gradio_api/upload", files={"files": ("probe.html", page, "text/html")})
    assert uploaded.status_code == 200, uploaded.text
    path = uploaded.json()[0]
    filedata = {"path": path, "orig_name": "probe.html", "meta": {"_type": "gradio.FileData"}}
    out = _call(bob, fn, [[filedata]], "bob-probe")
    assert "needs an editor login" in out[0] and "bob" in out[0], out
    assert _files(corpus) == before  # nothing written
    alice = _client(app.url, "alice", "alice-pw")
    uploaded = alice.post("gradio_api/upload", files={"files": ("probe.html", page, "text/html")})
    filedata["path"] = uploaded.json()[0]
    out = _call(alice, fn, [[filedata]], "alice-probe")
    assert "1 added" in out[0], out
    assert any(f.startswith("uploads/") and f.endswith("/probe.html") for f in _files(corpus))


def test_without_logins_there_is_no_upload_event(tmp_path: Path) -> None:
    from postqa.interfaces.web import build_app

    settings = make_settings(tmp_path, CORPUS, **{"server.editors": ["alice"]})  # editors, but no auth
    demo = build_app(settings)
    config = demo.get_config_file()
    assert not [c for c in config["components"] if (c.get("props") or {}).get("elem_id") == "pq-upload-result"]
    assert [fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"] == ["ask"]
