"""Everything the web page shows, as strings: one escaping function for all untrusted text, no gradio."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from postqa.core.types import Answer, Article, Citation

NOT_COVERED_TEXT = "The news does not cover this."
MAX_SHOWN_QUESTION = 400  # characters of a question echoed into the chat
MAX_TITLE = 90  # characters of a title in lists; the full title is on hover and in the article view
MAX_SENTENCE = 220  # characters of the one sentence shown per nearest article
MAX_NEAREST = 3
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
_URL = re.compile(r"^https?://[^\s\"'<>]+$", re.IGNORECASE)


def escape_text(text: str) -> str:
    """THE escaping function: untrusted text made safe for HTML, exactly once. <, >, & and both quotes become
    entities; control characters become spaces. Everything that reaches the page passes through here."""
    return html.escape(_CONTROL.sub(" ", text or ""), quote=True)


def escape_markdown(text: str) -> str:
    """Untrusted text for the chat's Markdown: escaped once by ``escape_text``, then each Markdown character
    backslashed outside the entities (a backslash inside ``&#x27;`` would show the entity as text), so it
    shows exactly as typed: no links, images, emphasis or raw HTML."""
    escaped = escape_text(text).replace("\n", " ")
    parts = re.split(r"(&(?:[a-z]+|#x?[0-9a-f]+);)", escaped, flags=re.IGNORECASE)
    return "".join(p if i % 2 else _MD_SPECIAL.sub(r"\\\1", p) for i, p in enumerate(parts))


def clip(text: str, limit: int) -> str:
    """Whitespace collapsed and cut at a word boundary with an ellipsis when longer than ``limit``."""
    flat = re.sub(r"\s+", " ", _CONTROL.sub(" ", text or "")).strip()
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0] if " " in flat[: limit] else flat[:limit]
    return cut.rstrip(" ,;:-") + "…"


def shown_question(question: str) -> str:
    """The user's question as echoed in the chat: escaped and, when huge, cut."""
    q = re.sub(r"\s+", " ", _CONTROL.sub(" ", question or "")).strip()
    if len(q) > MAX_SHOWN_QUESTION:
        q = f"{q[:MAX_SHOWN_QUESTION]}… ({len(q):,} characters)"
    return escape_markdown(q) if q else "*(empty question)*"


def source_label(source: str) -> str:
    """A short, non-revealing name for an article's source: the file name of a path, a URL as it is."""
    if re.match(r"^https?://", source or ""):
        return source
    return Path(source).name if source else "unknown source"


def original_url(source: str) -> str:
    """The article's original web address when its source is one (http/https only), else ""."""
    return source if _URL.match(source or "") else ""


def highlight(passage: str, span: tuple[int, int] | None) -> str:
    """The passage as HTML with the answer span in <mark>; every piece escaped."""
    if not span or not (0 <= span[0] < span[1] <= len(passage)):
        return escape_text(passage)
    s, e = span
    return f"{escape_text(passage[:s])}<mark>{escape_text(passage[s:e])}</mark>{escape_text(passage[e:])}"


def date_text(d: date | None) -> str:
    return d.isoformat() if d else "undated"


def first_sentence(c: Citation) -> str:
    """The citation's first sentence (by its stored analysis: ``Citation.sentences``), clipped; no parse."""
    text = c.passage or ""
    if c.sentences:
        start, end = c.sentences[0]
        text = text[start:end]
    return clip(text, MAX_SENTENCE)


def citation_markers(answer: Answer) -> str:
    """Markers for the citations that hold the answer span (the first citation when none has a span)."""
    spans = [c.n for c in answer.citations if c.span]
    ns = spans or [c.n for c in answer.citations[:1]]
    return " ".join(f"[{n}]" for n in ns)


def nearest_articles(citations: Sequence[Citation], limit: int = MAX_NEAREST) -> list[Citation]:
    """The first citation of each distinct article, at most ``limit``."""
    out: list[Citation] = []
    for c in citations:
        if all(c.article_id != o.article_id for o in out):
            out.append(c)
        if len(out) == limit:
            break
    return out


def answer_markdown(answer: Answer) -> str:
    """The chat message: the short answer with numbered markers, or "not covered" + at most three nearest
    articles, each as its title, date and one sentence."""
    if answer.answerable:
        text = answer.text
        if not re.search(r"\[\d+\]", text):  # a generator's answer already carries its own markers
            text = f"{text} {citation_markers(answer)}".strip()
        out = f"**{escape_markdown(text)}**"
    else:
        out = f"**{NOT_COVERED_TEXT}**"
        items = [f"- **{escape_markdown(clip(c.title, MAX_TITLE) or '(untitled)')}** "
                 f"({date_text(c.published)}) \\[{c.n}\\]: {escape_markdown(first_sentence(c))}"
                 for c in nearest_articles(answer.citations)]
        if items:
            out += "\n\nNearest articles:\n" + "\n".join(items)
    if answer.note:
        out += f"\n\n*{escape_markdown(answer.note)}*"
    return out


def _open_attrs(article_id: str, start: int = -1, length: int = 0, span: tuple[int, int] | None = None) -> str:
    """data-* attributes that the page's click handler turns into an "open this article" event."""
    s, e = span or (0, 0)
    return (f'data-pq-open="1" data-article="{escape_text(article_id)}" data-start="{start}" '
            f'data-len="{length}" data-span="{s},{e}" role="button" tabindex="0"')


def citation_html(c: Citation, answerable: bool = True) -> str:
    title = escape_text(c.title) or "(untitled)"
    passage = highlight(c.passage, c.span) if answerable else escape_text(first_sentence(c))
    attrs = _open_attrs(c.article_id, c.passage_start, len(c.passage), c.span)
    return (f'<li class="pq-src" data-n="{c.n}"><div class="pq-title" title="{title}"><span class="pq-n">'
            f"[{c.n}]</span> {escape_text(clip(c.title, MAX_TITLE)) or '(untitled)'}</div>"
            f'<div class="pq-meta"><time>{date_text(c.published)}</time> · '
            f'<span class="pq-source">{escape_text(source_label(c.source))}</span> · '
            f'<a class="pq-open" {attrs}>Open article</a></div>'
            f'<blockquote class="pq-passage">{passage}</blockquote></li>')


def sources_html(answer: Answer | None, message: str = "") -> str:
    """The sources panel: per citation the title (cut; full on hover), date, source, the highlighted passage
    and an "Open article" link; for a refusal the nearest articles with one sentence each."""
    if answer is None:
        body = f'<p class="pq-empty">{escape_text(message or "Sources of the answer appear here.")}</p>'
        return f'<div class="pq-sources"><h3>Sources</h3>{body}</div>'
    head = "Sources" if answer.answerable else "Nearest articles"
    cites = answer.citations if answer.answerable else nearest_articles(answer.citations)
    if not cites:
        return f'<div class="pq-sources"><h3>{head}</h3><p class="pq-empty">No passages found.</p></div>'
    items = "".join(citation_html(c, answer.answerable) for c in cites)
    return f'<div class="pq-sources"><h3>{head}</h3><ol class="pq-list">{items}</ol></div>'


def article_html(article: Article | None, start: int = -1, length: int = 0,
                 span: tuple[int, int] | None = None, warnings: Sequence[str] = ()) -> str:
    """The whole article: title, date, source, a link to the original page when the source is a web address,
    and the body with the cited passage (``start``, ``length`` into the text) highlighted, the answer span
    inside it in <mark>. The passage carries id ``pq-hit`` so the page can scroll it into view."""
    if article is None:
        return ('<div class="pq-article"><p class="pq-empty">Click "Open article" on a source, or an article '
                'under Browse, to read it here.</p></div>')
    text = article.text
    url = original_url(article.url) or original_url(article.source)
    link = (f' · <a href="{escape_text(url)}" target="_blank" rel="noopener noreferrer nofollow">'
            f"original page</a>") if url else ""
    meta = (f'<div class="pq-meta"><time>{date_text(article.published)}</time> · <span class="pq-source">'
            f"{escape_text(source_label(article.source))}</span>{link}</div>")
    warn = "".join(f'<li>{escape_text(w)}</li>' for w in warnings)
    warn_html = f'<ul class="pq-warnings">{warn}</ul>' if warn else ""
    if 0 <= start < len(text) and length > 0:
        end = min(len(text), start + length)
        inner = highlight(text[start:end], span)
        body = (f'{escape_text(text[:start])}<span id="pq-hit" class="pq-hit">{inner}</span>'
                f"{escape_text(text[end:])}")
    else:
        body = escape_text(text)
    return (f'<article class="pq-article"><h2 class="pq-article-title">{escape_text(article.title) or "(untitled)"}'
            f'</h2>{meta}{warn_html}<div class="pq-body">{body}</div></article>')


def status_html(status: dict[str, Any] | None, error: str = "") -> str:
    """The status line: embedding model, articles (and how many carry reader warnings), chunks, last ingest."""
    if status is None:
        return f'<div class="pq-status pq-status-error">{escape_text(error)}</div>'
    emb = status.get("embedding") or {}
    articles = f"{status.get('articles', 0)} articles"
    if status.get("articles_with_warnings") is not None:  # recorded by ingests that keep the reader's warnings
        articles += f", {status['articles_with_warnings']} with warnings"
    parts = [f"model {emb.get('model', '?')} ({emb.get('dim', '?')}d)", articles,
             f"{status.get('chunks', 0)} chunks", f"last ingest {status.get('last_ingest') or 'never'}"]
    if status.get("dirty"):
        parts.append("last ingest unfinished: run `postqa ingest`")
    return f'<div class="pq-status">{escape_text(" · ".join(parts))}</div>'


def error_markdown(message: str) -> str:
    return f"**Cannot answer:** {escape_markdown(message)}"


def browse_html(rows: Sequence[dict[str, Any]], total: int, limit: int = 200, matching: int | None = None) -> str:
    """The Browse list: title (cut; full on hover), date and warnings per article, each opening the article.
    ``matching``: how many articles match when ``rows`` is only the first page of them (default: all given)."""
    count = len(rows) if matching is None else matching
    if not rows:
        return f'<div class="pq-browse"><p class="pq-empty">No article matches (of {total:,}).</p></div>'
    items = []
    for r in rows[:limit]:
        warns = list(r.get("warnings") or [])
        title = escape_text(r.get("title") or "") or "(untitled)"
        warn = (f' <span class="pq-warn" title="{escape_text("; ".join(warns))}">⚠ {len(warns)} '
                f"warning{'s' if len(warns) != 1 else ''}</span>") if warns else ""
        items.append(f'<li class="pq-row"><a class="pq-open" {_open_attrs(str(r["id"]))} title="{title}">'
                     f"{escape_text(clip(r.get('title') or '', MAX_TITLE)) or '(untitled)'}</a> "
                     f'<time>{escape_text(r.get("date") or "undated")}</time>{warn}</li>')
    more = f"<p class=\"pq-empty\">Showing {limit:,} of {count:,}; narrow the search.</p>" \
        if count > limit else ""
    return (f'<div class="pq-browse"><p class="pq-count">{count:,} of {total:,} articles</p>'
            f'<ol class="pq-rows">{"".join(items)}</ol>{more}</div>')
