"""The web chat in a real browser: Debian's headless chromium driven by Playwright (never a downloaded one).

Screenshots go to artifacts/browser/; POSTQA_UPDATE_SCREENSHOT=1 also refreshes docs/screenshot.png.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, XINHUA
from test_web import XINHUA_Q, ZHANG, RunningApp, make_settings, running_app, write_config

from postqa.core.config import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "artifacts" / "browser"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed; run scripts/install_browser.sh")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed; run scripts/install_browser.sh")
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Watched:
    """A page that records every request's host, every dialog and every page error."""

    def __init__(self, browser: Any) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.hosts: set[str] = set()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.hosts.add(r.url.split("/")[2]) if "://" in r.url else None)
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def ask(self, question: str, wait_for: str, timeout: float = 60_000) -> None:
        box = self.page.locator("#pq-question textarea")
        box.fill(question)
        box.press("Enter")
        self.page.locator("#pq-chat").get_by_text(wait_for, exact=False).last.wait_for(timeout=timeout)
        self.page.wait_for_function(  # the sources panel has left its "Searching…" state
            "() => !document.querySelector('#pq-sources').innerText.includes('Searching')", timeout=timeout)

    def close(self) -> None:
        self.page.close()


def _save(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="module")
def real_app(real_assistant: Any, real_settings: Settings,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The app over the real model's index of the bundled corpus (built by the real_assistant fixture)."""
    tmp = tmp_path_factory.mktemp("browser-real")
    with running_app(write_config(tmp / "postqa.toml", real_settings), tmp / "app.log") as app:
        yield app


@pytest.mark.slow
def test_xinhua_question_and_follow_up_in_the_browser(browser: Any, real_app: RunningApp) -> None:
    w = Watched(browser)
    try:
        w.page.goto(real_app.url)
        w.page.locator("#pq-status").get_by_text("articles").wait_for(timeout=30_000)
        w.ask(XINHUA_Q, "Zhang Yongping")
        chat = w.page.locator("#pq-chat").inner_text()
        assert ZHANG in chat and "[1]" in chat
        marks = w.page.locator("#pq-sources mark").all_inner_texts()
        assert marks and marks[0] == ZHANG
        panel = w.page.locator("#pq-sources").inner_text()
        assert "China Post and Xinhua News Agency start strategic cooperation V2.0" in panel
        assert "2020-09-11" in panel and f"{XINHUA}.txt" in panel
        shot = _save(w.page, "xinhua.png")
        if os.environ.get("POSTQA_UPDATE_SCREENSHOT") == "1":
            shutil.copyfile(shot, ROOT / "docs" / "screenshot.png")

        w.ask("And who addressed it?", "Gong Xixiang")  # a follow-up about the same meeting
        last = w.page.locator("#pq-chat .message-row").last.inner_text()
        assert "Gong Xixiang" in last and "Kang Ning" in last
        assert "Gong Xixiang" in " ".join(w.page.locator("#pq-sources mark").all_inner_texts())
        _save(w.page, "follow-up.png")

        w.page.locator("#pq-clear").click()
        w.page.wait_for_function("() => !document.querySelector('#pq-chat').innerText.includes('Gong')")
        assert w.hosts == {f"127.0.0.1:{real_app.port}"}, w.hosts  # nothing leaves the machine
        assert not w.dialogs and not w.errors
    finally:
        w.close()


XSS_TITLE = '<script>window.__pqxss=1</script>Harbin hub <img src=x onerror="window.__pqxss=2"> opens'
XSS_BODY = ('Li Wenbo opened the Harbin parcel sorting hub on Monday '
            '<script>window.__pqxss=3;alert(3)</script> with a ribbon. '
            '<img src=x onerror="window.__pqxss=4;alert(4)"> The hub sorts 80,000 parcels a day. '
            '[click](javascript:window.__pqxss=5) <svg onload="window.__pqxss=6"></svg>')


@pytest.fixture(scope="module")
def xss_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    from postqa.service.pipeline import ingest

    tmp = tmp_path_factory.mktemp("browser-xss")
    corpus = tmp / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    line = {"id": "xss-1", "title": XSS_TITLE, "date": "2021-03-01", "text": XSS_BODY}
    (corpus / "xss.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")
    settings = make_settings(tmp, corpus)
    ingest(settings)
    with running_app(write_config(tmp / "postqa.toml", settings), tmp / "app.log") as app:
        yield app


def test_xss_payloads_in_articles_and_questions_show_as_text(browser: Any, xss_app: RunningApp) -> None:
    w = Watched(browser)
    try:
        w.page.goto(xss_app.url)
        w.page.locator("#pq-status").get_by_text("articles").wait_for(timeout=30_000)
        question = '<img src=x onerror="window.__pqxss=7"> Who opened the Harbin parcel sorting hub?'
        w.ask(question, "Li Wenbo")
        panel = w.page.locator("#pq-sources").inner_text()
        assert "<script>window.__pqxss=1</script>Harbin hub" in panel  # the title, as text
        assert 'onerror="window.__pqxss=2"' in panel
        chat = w.page.locator("#pq-chat").inner_text()
        assert '<img src=x onerror="window.__pqxss=7">' in chat  # the question, as text
        w.ask("What happened at the Harbin hub with the svg and the click link?", "Harbin")
        w.page.locator("text=Filters").click()  # the article filter lists the hostile title as text
        w.page.locator("#pq-articles input").click()
        w.page.get_by_text("window.__pqxss=1", exact=False).first.wait_for(timeout=10_000)
        _save(w.page, "xss.png")
        assert w.page.evaluate("() => window.__pqxss") is None  # no payload ran
        assert not w.dialogs
        for where in ("#pq-sources", "#pq-chat"):
            assert w.page.locator(f"{where} img, {where} script, {where} svg[onload]").count() == 0
        assert w.page.locator("a[href^='javascript']").count() == 0
        assert w.hosts == {f"127.0.0.1:{xss_app.port}"}, w.hosts
    finally:
        w.close()
