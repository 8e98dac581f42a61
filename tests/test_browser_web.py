"""Staff's daily tool in a real browser (Debian's headless chromium via Playwright; hash embedder): open the
article behind a citation, a refusal that reads well, thumbs down into `postqa feedback`, and an editor's
upload (and the uploads that must be refused). Screenshots go to artifacts/browser/;
POSTQA_UPDATE_SCREENSHOT=1 also refreshes docs/article-view.png and docs/upload-tab.png."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, XINHUA, zip_bytes
from test_browser import ARTIFACTS, Watched, browser  # noqa: F401 - the browser fixture
from test_web import XINHUA_Q, ZHANG, RunningApp, _env, make_settings, running_app, write_config

pytestmark = pytest.mark.browser

EXTRA = [  # more articles, so a refusal has several nearest ones (with CJK brackets in one title)
    {"id": f"extra-{i}", "title": title, "date": f"2021-0{i + 1}-15", "text": text}
    for i, (title, text) in enumerate([
        ("China Post opens 【Harbin】 logistics park", "The park opened in March. It has six warehouses."),
        ("People's Daily Online: UK's parcel volumes rise", "Volumes rose by a tenth. Couriers hired staff."),
        ("Rural delivery reaches " + "every remote mountain village in the western provinces " * 3,
         "Trucks and drones now reach the villages. Deliveries take two days."),
        ("Postal savings bank reports results", "Deposits grew. Loans to small firms grew faster."),
        ("Stamp exhibition in Beijing", "The exhibition shows 300 stamps. It runs for a month."),
    ])
]
HARBIN_PAGE = ("<html><head><title>Wenbo hub sorts parcels</title></head><body><nav>Home | News</nav>"
               "<article><h1>Wenbo hub sorts parcels</h1><p>Li Wenbo opened the Qiqihar parcel sorting hub on "
               "Monday. The hub sorts 80,000 parcels a day with twelve new machines.</p></article></body></html>")


def _config(tmp: Path) -> tuple[Path, Path]:
    from postqa.service.pipeline import ingest

    corpus = tmp / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    (corpus / "extra.jsonl").write_text("".join(json.dumps(e) + "\n" for e in EXTRA), encoding="utf-8")
    settings = make_settings(tmp, corpus)
    ingest(settings)
    config = write_config(tmp / "postqa.toml", settings, auth=["alice:alice-pw", "bob:bob-pw"])
    with config.open("a", encoding="utf-8") as fh:
        fh.write('editors = ["alice"]\nupload_max_mb = 1\n')
    return config, corpus


@pytest.fixture(scope="module")
def staff_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningApp, Path, Path]]:
    tmp = tmp_path_factory.mktemp("browser-staff")
    config, corpus = _config(tmp)
    with running_app(config, tmp / "app.log") as app:
        yield app, config, corpus


def sign_in(w: Watched, url: str, user: str, password: str) -> None:
    w.page.goto(url)
    w.page.get_by_role("button", name="Login").wait_for(timeout=30_000)
    w.page.locator("input").first.fill(user)
    w.page.locator("input[type=password]").fill(password)
    w.page.get_by_role("button", name="Login").click()
    w.page.locator("#pq-status").get_by_text("articles").wait_for(timeout=30_000)


def _save(page: Any, name: str, docs: str = "") -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=False)
    if docs and os.environ.get("POSTQA_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(ARTIFACTS / name, ROOT / "docs" / docs)


def _corpus_files(corpus: Path) -> list[str]:
    return sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*"))


def test_a_citation_opens_the_whole_article_with_the_passage_in_view(browser: Any, staff_app: Any) -> None:  # noqa: F811
    app, _config_file, _corpus = staff_app
    w = Watched(browser)
    try:
        sign_in(w, app.url, "bob", "bob-pw")
        assert w.page.get_by_role("tab", name="Add articles").count() == 0  # bob is not an editor
        w.ask(XINHUA_Q, "Zhang Yongping")
        w.page.locator("#pq-sources .pq-open").first.click()
        hit = w.page.locator("#pq-article #pq-hit")
        hit.wait_for(timeout=20_000)
        assert hit.locator("mark").inner_text() == ZHANG
        w.page.wait_for_function("""() => { const r = document.querySelector('#pq-article #pq-hit')
            .getBoundingClientRect(); const b = document.querySelector('#pq-article .pq-body')
            .getBoundingClientRect(); return r.top >= b.top - 1 && r.bottom <= b.bottom + 1; }""", timeout=10_000)
        article = w.page.locator("#pq-article").inner_text()
        assert "China Post and Xinhua News Agency start strategic cooperation V2.0" in article
        assert "2020-09-11" in article and f"{XINHUA}.txt" in article
        assert article.index("On the morning of September 10") < article.index(ZHANG)  # the whole text
        assert len(article) > 2000
        _save(w.page, "article-view.png", "article-view.png")
        w.page.locator("#pq-back").click()
        w.page.locator("#pq-question textarea").wait_for(timeout=10_000)
        w.page.get_by_role("tab", name="Browse").click()  # Browse: search, then open an article from the list
        w.page.locator("#pq-browse-search input, #pq-browse-search textarea").first.fill("Harbin")
        w.page.wait_for_function("() => document.querySelectorAll('#pq-browse .pq-row').length === 1",
                                 timeout=15_000)
        w.page.locator("#pq-browse .pq-open").first.click()
        w.page.locator("#pq-article h2").get_by_text("logistics park").wait_for(timeout=10_000)
        assert "【Harbin】" in w.page.locator("#pq-article h2").inner_text()
        w.page.get_by_role("tab", name="Browse").click()
        w.page.locator("#pq-browse-search input, #pq-browse-search textarea").first.fill("daily online")
        w.page.locator("#pq-browse .pq-row").get_by_text("Daily Online").wait_for(timeout=15_000)
        assert w.page.locator("#pq-browse .pq-row").count() == 1
        row = w.page.locator("#pq-browse .pq-row").first.inner_text()
        assert "People's Daily Online: UK's parcel volumes rise" in row and "&#x27;" not in row
        assert not w.errors and w.hosts == {f"127.0.0.1:{app.port}"}
    finally:
        w.close()


def test_a_refusal_lists_at_most_three_one_sentence_articles(browser: Any, staff_app: Any) -> None:  # noqa: F811
    app = staff_app[0]
    w = Watched(browser)
    try:
        sign_in(w, app.url, "bob", "bob-pw")
        w.ask("What did the volcano on Jupiter's moon do last winter?", "does not cover")
        last = w.page.locator("#pq-chat .message-row").last
        items = last.locator("li").all_inner_texts()
        assert 1 <= len(items) <= 3, items
        for item in items:
            sentence = item.split(": ", 1)[1]
            assert sentence.count(". ") == 0 and len(sentence) <= 230, item  # one sentence, not the text
        text = last.inner_text()
        assert "&#x27;" not in text and "&amp;" not in text
        chat = w.page.locator("#pq-chat").inner_text()
        assert "Jupiter's moon" in chat and "&#x27;" not in chat  # the question echoed, escaped exactly once
        panel = w.page.locator("#pq-sources .pq-src")
        assert 1 <= panel.count() <= 3
    finally:
        w.close()


def test_a_thumbs_down_is_stored_and_listed_by_postqa_feedback(browser: Any, staff_app: Any) -> None:  # noqa: F811
    app, config, _corpus = staff_app
    w = Watched(browser)
    try:
        sign_in(w, app.url, "bob", "bob-pw")
        w.ask(XINHUA_Q, "Zhang Yongping")
        w.page.locator("#pq-chat button[aria-label='Dislike']").last.click()
        w.page.locator("#pq-feedback").get_by_text("recorded as wrong").wait_for(timeout=10_000)
        w.page.locator("#pq-comment textarea, #pq-comment input").first.fill("the wrong meeting")
        w.page.locator("#pq-comment-send").click()
        w.page.locator("#pq-feedback").get_by_text("Comment saved").wait_for(timeout=10_000)
    finally:
        w.close()
    out = subprocess.run([sys.executable, "-m", "postqa.interfaces.cli", "feedback", "--json", "--config",
                          str(config)], capture_output=True, text=True, env=_env(), check=True)
    rows = json.loads(out.stdout)
    mine = [r for r in rows if r["question"] == XINHUA_Q and r["rating"] == "down"]
    assert mine and mine[-1]["comment"] == "the wrong meeting" and mine[-1]["user"] == "bob"
    assert mine[-1]["answer"]["citations"][0]["article_id"] == XINHUA and mine[-1]["model"]


def _upload(w: Watched, path: Path) -> str:
    w.page.get_by_role("tab", name="Add articles").click()
    w.page.locator("#pq-upload-add").wait_for(timeout=20_000)
    w.page.locator("#pq-upload-files input[type=file]").set_input_files(str(path))
    w.page.locator("#pq-upload-files").get_by_text(path.name).first.wait_for(timeout=120_000)  # a loaded box is slow
    final = "#pq-upload-result .pq-upload[data-state=finished], #pq-upload-result .pq-upload[data-state=refused]"
    before = w.page.evaluate(f"() => document.querySelector('{final}')?.innerText || ''")
    w.page.locator("#pq-upload-add").click()
    w.page.wait_for_function(f"""(before) => {{ const el = document.querySelector('{final}');
        return el && el.innerText !== before; }}""", arg=before, timeout=60_000)
    return str(w.page.locator(final).inner_text())


def test_an_editor_uploads_a_page_and_the_chat_cites_it(browser: Any, staff_app: Any,  # noqa: F811
                                                         tmp_path: Path) -> None:
    app, _config_file, corpus = staff_app
    w = Watched(browser)
    try:
        sign_in(w, app.url, "alice", "alice-pw")
        evil = tmp_path / "evil.zip"
        evil.write_bytes(zip_bytes({"fine.txt": b"A fine article.", "../../escape.txt": b"outside"}))
        big = tmp_path / "big.txt"
        big.write_bytes(b"Parcels. " * 150_000)  # 1.3 MB, over upload_max_mb = 1
        before = _corpus_files(corpus)
        for path, why in ((evil, "outside its folder"), (big, "over the limit")):
            result = _upload(w, path)
            assert "Refused" in result and why in result, result
            assert _corpus_files(corpus) == before  # nothing written
        assert not (corpus.parent / "escape.txt").exists() and not (corpus / "escape.txt").exists()
        page = tmp_path / "wenbo-hub.html"
        page.write_text(HARBIN_PAGE, encoding="utf-8")
        result = _upload(w, page)
        assert "1 added" in result and "0 skipped" in result, result
        _save(w.page, "upload-tab.png", "upload-tab.png")
        w.page.get_by_role("tab", name="Chat").click()
        w.ask("Who opened the Qiqihar parcel sorting hub?", "Li Wenbo")
        panel = w.page.locator("#pq-sources").inner_text()
        assert "Wenbo hub sorts parcels" in panel and "wenbo-hub.html" in panel
        assert [f for f in _corpus_files(corpus) if f not in before and f.endswith(".html")][0].startswith(
            "uploads/")
    finally:
        w.close()
