"""The reader on every page layout of issue 11 (self-written fixtures under tests/fixtures/pages/): title, date,
first and last body sentence, the parse report; and boilerplate learned across a site's pages."""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postqa.reading.corpus import read_corpus
from postqa.reading.text import line_key

PAGES = Path(__file__).parent / "fixtures" / "pages"

# file -> (title, date, first body sentence, last body sentence)
EXPECTED = {
    "chinapost/cp_iso_spaced.txt": (
        "Rural post offices add parcel lockers in Yunnan", date(2019, 7, 2),
        "On June 28, the Yunnan branch finished installing 320 parcel lockers in township post offices.",
        "The lockers will be extended to another 150 townships by the end of the year."),
    "chinapost/cp_news_spaced.txt": (
        "Postman Story: a carrier on the Pamir plateau", date(2021, 9, 3),
        "For eleven years, Rahman Tursun has carried mail over a pass 4,200 metres above sea level.",
        "His route links four herding villages that have no other regular delivery service."),
    "chinapost/cp_news_tight.txt": (
        "Green packaging pilot cuts tape use by a third", date(2022, 10, 21),
        "A green packaging pilot in Zhejiang has cut the use of sealing tape by about a third since March.",
        "The branch plans to bring the reusable bags to all of its 11 prefecture-level cities next year."),
    "chinapost/cp_glued.txt": (
        "Cherry-themed Post Office opens in Wuhan", date(2016, 3, 30),
        "A post office decorated with cherry blossom themes opened on the campus of a Wuhan university on March 28.",
        "Staff expect the office to receive more than 5,000 visitors during the blossom season."),
    "chinapost/cp_glued_year.txt": (
        "Top 5 postal events in 2013", date(2014, 2, 8),
        "1. Rural delivery reached every administrative village in six more provinces.",
        "3. A new sorting hub opened at the Zhengzhou airport in October."),
    "daily/dump_ferry.txt": (
        "New ferry links two island towns in Fujian", date(2020, 11, 18),
        "A new passenger ferry began running between Pingtan and Dongshan on Wednesday morning.",
        "Local officials said tickets sold out for the first week within a day of going on sale."),
    "daily/dump_library.txt": (
        "City library lends out musical instruments", date(2020, 12, 2),
        "The public library in Xiamen now lends guitars, violins and drums to card holders.",
        "Librarian Chen Yu said many borrowers were parents who wanted children to try an instrument first."),
    "daily/dump_solar.txt": (
        "Solar farm on fish ponds starts supplying power", date(2021, 1, 11),
        "A solar farm built over fish ponds in Anhui started feeding power into the grid on Monday.",
        "The project is expected to generate about 120 million kilowatt-hours a year."),
    "daily/dump_snow.txt": (
        "Ski resorts prepare for an early season", date(2020, 11, 25),
        "Ski resorts in Hebei have begun making snow after temperatures fell below freezing last week.",
        "Safety inspectors will check every lift before the slopes open to the public next month."),
    "html/harbour_museum.html": (
        "Harbour museum reopens after two-year repair", date(2021, 6, 14),
        "The harbour museum in Qingdao reopened to visitors on Sunday after a repair that took two years.",
        "Entry remains free, and the museum will open until 8 pm on Fridays during the summer."),
    "undated/post_box.txt": (
        "Volunteers repaint the old post box on Hill Street", None,
        "A group of volunteers repainted the cast-iron post box on Hill Street over the weekend.",
        "Residents raised the money for the paint and a new plate at a street fair."),
}
JUNK = ("8610", "•", "Licence number", "Run by", "| China Post", "Web editor", "Related reading", "Most Read",
        "Share to", "Leave a comment", "Copyright", "中文", "Home>>", "Related stories", "comments", "Privacy")


@pytest.fixture(scope="module")
def read_all() -> dict[str, object]:
    result = read_corpus([PAGES])
    assert result.problems == []
    return {a.source.split("/", 1)[1]: a for a in result.articles}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_layout_reads_title_date_and_clean_body(name: str, read_all: dict[str, object]) -> None:
    article = read_all[name]
    title, published, first, last = EXPECTED[name]
    assert article.title == title  # type: ignore[attr-defined]
    assert article.published == published  # type: ignore[attr-defined]
    text = article.text  # type: ignore[attr-defined]
    assert text.startswith(first), text[:200]
    assert text.endswith(last), text[-200:]
    for junk in JUNK:
        assert junk not in text, junk
    assert article.title not in text  # type: ignore[attr-defined]


def test_parse_reports_say_how_each_page_was_read(read_all: dict[str, object]) -> None:
    reports = {name: a.report for name, a in read_all.items()}  # type: ignore[attr-defined]
    assert reports["chinapost/cp_glued.txt"].date_source == "glued to the repeated title"
    assert reports["chinapost/cp_news_tight.txt"].title_source == "repeated line"
    assert reports["daily/dump_ferry.txt"].layout == "text-one-line"
    assert reports["daily/dump_ferry.txt"].boilerplate_chars > 300
    assert reports["html/harbour_museum.html"].layout == "html"
    assert reports["undated/post_box.txt"].warnings == ("no publication date found near the title; indexed undated",)
    assert all(not r.warnings for name, r in reports.items() if not name.startswith("undated"))


def test_a_page_read_alone_still_reads_and_says_it_could_not_learn(tmp_path: Path) -> None:
    page = tmp_path / "cp_news_spaced.txt"
    page.write_bytes((PAGES / "chinapost" / "cp_news_spaced.txt").read_bytes())
    article = read_corpus([page]).articles[0]
    assert article.title == EXPECTED["chinapost/cp_news_spaced.txt"][0]
    assert article.published == date(2021, 9, 3)
    assert article.text.endswith("regular delivery service.")
    assert "no other page of this folder to learn boilerplate from" in article.report.warnings  # type: ignore[union-attr]


def test_titles_are_capped_never_the_body_and_fall_back_to_the_file_name(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "Harbour fog delays ferries - Example News.txt").write_text(
        "The morning fog kept ferries in port until ten o'clock, the harbour office said.\n", encoding="utf-8")
    (site / "Night buses added - Example News.txt").write_text("word " * 400, encoding="utf-8")
    by_id = {a.id: a for a in read_corpus([site]).articles}
    fog = by_id["Harbour fog delays ferries - Example News"]
    assert fog.title == "Harbour fog delays ferries"
    assert fog.text.startswith("The morning fog") and fog.report.title_source == "file name"  # type: ignore[union-attr]
    assert any("file name" in w for w in fog.report.warnings)  # type: ignore[union-attr]
    bus = by_id["Night buses added - Example News"]
    assert len(bus.title) <= 300 and bus.title != bus.text


def test_jsonl_accepts_the_field_names_of_news_datasets(tmp_path: Path) -> None:
    rows = [{"id": "a", "headline": "Head A", "content": "Body A.", "published": "2020-11-18T14:20:00Z"},
            {"id": "b", "title": "Head B", "text": "Body B.", "publish_date": "Nov 18, 2020"},
            {"id": "c", "title": "Head C", "body": "Body C.", "pub_date": "Wed, 18 Nov 2020 14:20:00 GMT"},
            {"id": "d", "title": "Head D", "text": "Body D."}]
    (tmp_path / "news.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    by_id = {a.id: a for a in read_corpus([tmp_path]).articles}
    assert [by_id[k].title for k in "abcd"] == ["Head A", "Head B", "Head C", "Head D"]
    assert {by_id[k].published for k in "abc"} == {date(2020, 11, 18)} and by_id["d"].published is None
    assert by_id["a"].text == "Body A." and by_id["a"].report.date_source == "field published"  # type: ignore[union-attr]
    assert any("no date field" in w for w in by_id["d"].report.warnings)  # type: ignore[union-attr]


def test_one_broken_file_does_not_stop_the_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import postqa.reading.corpus as corpus

    (tmp_path / "a.txt").write_text("Good one\n\nA body sentence here.", encoding="utf-8")
    (tmp_path / "b.txt").write_text("Bad one\n\nAnother body sentence.", encoding="utf-8")
    real = corpus.read_text_page

    def flaky(text: str, profile: object = None) -> object:
        if "Bad one" in text:
            raise RuntimeError("reader bug")
        return real(text, profile)  # type: ignore[arg-type]

    monkeypatch.setattr(corpus, "read_text_page", flaky)
    result = read_corpus([tmp_path])
    assert [a.id for a in result.articles] == ["a"]
    assert len(result.problems) == 1 and "RuntimeError: reader bug" in result.problems[0].reason


# ------------------------------------------------------------------- property: 20 pages of one site

NAV = [f"• Section {i}" for i in range(8)] + ["Phone desk: 8610 1111", "Mail desk: 8610 2222"]
FOOTER = ["Register: 00-000", "Powered by the site | About | Contact |",
          "All pages of this site are written by its newsroom and may be shared with credit."]
WORDS = ("parcel river station council market harbour school bridge village winter train library "
         "farmers museum rail port tea festival road clinic").split()


def _page(rng: random.Random, n: int, shared_prose: list[str]) -> str:
    head = rng.sample(NAV, rng.randint(4, len(NAV)))
    title = f"{rng.choice(WORDS).title()} story number {n} about the {rng.choice(WORDS)}"
    body = [f"Sentence {n}.{j}: the {rng.choice(WORDS)} near the {rng.choice(WORDS)} opened on day {j}."
            for j in range(rng.randint(2, 6))]
    for line in rng.sample(shared_prose, rng.randint(0, len(shared_prose))):
        body.insert(rng.randint(0, len(body)), line)
    return "\n".join([*head, title, title, f"| The Site |2020-{n % 12 + 1:02d}-{n % 27 + 1:02d}", "", *body, "",
                      *rng.sample(FOOTER, rng.randint(1, len(FOOTER)))])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000))
def test_no_body_line_recurs_on_three_or_more_other_pages(tmp_path_factory: pytest.TempPathFactory,
                                                          seed: int) -> None:
    rng = random.Random(seed)
    shared = [f"Readers may write to the {w} desk of the newsroom with their questions." for w in WORDS[:4]]
    folder = tmp_path_factory.mktemp("site")
    pages = {f"p{n:02d}.txt": _page(rng, n, shared) for n in range(20)}
    for name, text in pages.items():
        (folder / name).write_text(text, encoding="utf-8")
    keys = {name: {line_key(x) for x in text.split("\n") if x.strip()} for name, text in pages.items()}
    result = read_corpus([folder])
    assert len(result.articles) == 20
    for article in result.articles:
        me = f"{article.id}.txt"
        n = int(article.id[1:])
        assert f"story number {n} about the " in article.title
        assert article.published == date(2020, n % 12 + 1, n % 27 + 1)
        for line in (x for x in article.text.split("\n") if x.strip()):
            others = sum(1 for name, k in keys.items() if name != me and line_key(line) in k)
            assert others < 3, (line, others)


def test_a_page_read_alone_ends_its_story_where_the_page_furniture_starts(tmp_path: Path) -> None:
    page = "\n".join([
        "Menu", "Ferry timetable changes for the winter", "(Harbour Desk) 09:30, December 02, 2021", "Video",
        "The harbour office has published the winter timetable for the island ferries, which starts next week.",
        "Boats will leave at these times:", "7:00 from the north pier", "9:30 from the north pier",
        "12:00 from the south pier",
        "The last boat of the day will leave the south pier at 18:00, an hour earlier than in summer.",
        "(Web editor: A. Writer)", "Photos", "Related Stories", "- Pier repairs finish early",
        "- Island school reopens", "Copyright 2021 Harbour Desk. All rights reserved.",
        "Copyright 2021 Harbour Desk. All rights reserved."])
    (tmp_path / "timetable.txt").write_text(page, encoding="utf-8")
    article = read_corpus([tmp_path]).articles[0]
    assert article.title == "Ferry timetable changes for the winter" and article.published == date(2021, 12, 2)
    assert article.text.startswith("The harbour office has published")  # the widget label before it is gone
    assert "12:00 from the south pier" in article.text  # a short list inside the story stays
    assert article.text.endswith("an hour earlier than in summer.")
