"""Hard-wrapped bodies joined back into paragraphs (reading.unwrap), through every reader that meets them, on
self-written fixtures (tests/fixtures/wrapped/) and generated text; text that is not wrapped stays as it was."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from postqa.nlp.sentences import shared_splitter
from postqa.reading.corpus import read_corpus
from postqa.reading.unwrap import unwrap

WRAPPED = Path(__file__).parent / "fixtures" / "wrapped"
PAGES = Path(__file__).parent / "fixtures" / "pages"

_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=11)
_PARAGRAPH = st.lists(_WORD, min_size=25, max_size=80).map(lambda words: " ".join(words) + ".")
_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _articles(folder: Path) -> dict[str, object]:
    return {a.id: a for a in read_corpus([folder]).articles}


def test_wire_story_page_is_read_as_paragraphs() -> None:
    article = _articles(WRAPPED)["harbour_cranes"]
    assert article.title == "Port of Lindholm orders six electric cranes"
    assert str(article.published) == "2021-03-03"
    paragraphs = article.text.split("\n\n")
    assert paragraphs[0] == ("The Port of Lindholm has ordered six electric gantry cranes from a Finnish supplier, "
                             "the port authority said on Tuesday, in a deal worth about 48 million euros.")
    assert "Harbour master Elin Sandvik said the new cranes would cut the terminal's fuel use" in article.text
    assert "- three cranes in the spring of 2022," in article.text.split("\n")  # list items stay lines of their own
    assert article.report is not None and article.report.unwrapped_lines == 7


def test_wrapped_jsonl_body_is_unwrapped_and_reported() -> None:
    articles = _articles(WRAPPED)
    wire = articles["wire-1"]
    a, b = shared_splitter().split(wire.text)[0]
    first = wire.text[a:b]
    assert first == ("The Valley Grain Cooperative said it would raise its payout to members by 12 pct this year "
                     "after a record harvest of winter wheat in the northern counties.")
    assert "Shr 1.12 dlrs vs 98 cts" in wire.text.split("\n")  # a table row is never run into the prose
    assert "Net 4.1 mln vs 3.6 mln" in wire.text.split("\n")
    assert wire.report is not None and wire.report.unwrapped_lines == 5


def test_paragraph_a_line_body_is_left_exactly_as_it_was() -> None:
    raw = next(json.loads(line) for line in (WRAPPED / "wire.jsonl").read_text().splitlines()
               if json.loads(line)["id"] == "cnn-1")["text"]
    assert unwrap(raw).text == raw and unwrap(raw, headless=True).joined == 0
    cnn = _articles(WRAPPED)["cnn-1"]
    assert cnn.report is not None and cnn.report.unwrapped_lines == 0
    assert cnn.text.split("\n\n")[2] == "Volunteers repainted the tower and rebuilt the spiral stair."


def test_wrapped_markdown_keeps_headings_lists_tables_and_code() -> None:
    raw = (WRAPPED / "field_notes.md").read_text()
    out = unwrap(raw)
    assert out.joined == 4
    assert ("The city council approved the eastern tram extension on Monday after a debate that lasted almost "
            "five hours.") in out.text
    assert "- Buses on route 14 will stop at the hospital terminus instead of running through the old town." \
        in out.text.split("\n")
    for kept in ("## What changes", "| stop | opens |", "|---|---|", "route 14: station - old town - hospital",
                 "title: Field notes on the tram extension", "date: 2023-05-14"):
        assert kept in out.text.split("\n")
    article = _articles(WRAPPED)["field_notes"]
    assert article.report is not None and article.report.unwrapped_lines == 4
    assert str(article.published) == "2023-05-14"


def test_news_site_pages_are_not_unwrapped() -> None:
    """The text pages of the reader's fixtures (menus, one paragraph a line) have no wrap width."""
    pages = sorted(p for p in PAGES.rglob("*") if p.is_file())
    assert pages
    for page in pages:
        raw = page.read_text(encoding="utf-8", errors="replace")
        assert unwrap(raw).text == raw, page.name
    assert all(a.report is None or a.report.unwrapped_lines == 0 for a in read_corpus([PAGES]).articles)


def test_short_line_tables_are_not_a_wrap_width() -> None:
    table = "\n".join(f"    Item {n} sold {n * 3} units vs {n * 2} units" for n in range(1, 9))
    assert unwrap(table).text == table
    verse = "\n".join(["The tide comes in along the quay", "and gulls go round the tower",
                       "the ferry waits for half past three", "and rain begins to shower"] * 3)
    assert unwrap(verse).text == verse


@_SETTINGS
@given(paragraphs=st.lists(_PARAGRAPH, min_size=1, max_size=5), width=st.integers(50, 110),
       indent=st.booleans())
def test_wrapped_paragraphs_come_back_whole(paragraphs: list[str], width: int, indent: bool) -> None:
    first = "    " if indent else ""
    wrapped = [textwrap.fill(p, width=width, initial_indent=first, break_long_words=False) for p in paragraphs]
    assume(sum(w.count("\n") for w in wrapped) >= 3)  # enough wrapped lines to see a width in
    text = ("\n" if indent else "\n\n").join(wrapped)
    out = unwrap(text, headless=True)
    got = [part.strip() for part in out.text.split("\n\n")]
    assert got == paragraphs
    assert unwrap(out.text, headless=True).text == out.text  # unwrapping twice changes nothing more


@_SETTINGS
@given(paragraphs=st.lists(_PARAGRAPH, min_size=1, max_size=8), sep=st.sampled_from(["\n", "\n\n"]))
def test_paragraph_a_line_text_is_never_touched(paragraphs: list[str], sep: str) -> None:
    text = sep.join(paragraphs)
    assert unwrap(text).text == text
    assert unwrap(text, headless=True).joined == 0


@_SETTINGS
@given(text=st.text(alphabet=st.sampled_from(list("ab c.-\n\t|#>*1)")), max_size=400))
def test_unwrapping_never_loses_or_adds_a_character(text: str) -> None:
    out = unwrap(text, headless=True)
    assert "".join(out.text.split()) == "".join(text.split())
    assert (out.joined == 0) == (out.text == text)
