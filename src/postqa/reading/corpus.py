"""Read article files (scraped China Post pages, .txt, .md, .html, .jsonl) into clean Articles."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path

from postqa.core.types import Article
from postqa.reading.files import MAX_FILE_BYTES, decode_bytes, walk_files
from postqa.reading.result import CorpusReadResult, Problem

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".jsonl")
MAX_ARTICLE_CHARS = 2_000_000  # ~400k words: larger single articles are refused, not half-read

# The scraped China Post page: "| China Post |2019-05-21" (spacing varies).
_SCRAPED_DATE = re.compile(r"^\s*\|\s*China Post\s*\|\s*(\d{4}-\d{2}-\d{2})\s*\|?\s*$", re.IGNORECASE)
_NAV_LINE = re.compile(r"^\s*[•·▪●◦\-*]\s+\S")
_PHONE_LINE = re.compile(r"^[A-Za-z][A-Za-z &/.'-]{1,60}:\s*[\d\s()+-]{6,}$")
_FOOTER = re.compile(r"^\s*(Register number|Powered by|Copyright|©)", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------- text


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")


def clean_text(text: str) -> str:
    """Normalise newlines and whitespace, drop control characters, keep paragraph breaks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    text = _CONTROL.sub("", text)
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n")]
    out = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", out).strip()


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d-%b-%Y", "%d %B %Y", "%B %d, %Y", "%b %d, %Y", "%Y%m%d")


def parse_date(value: object) -> date | None:
    """A publication date from the usual spellings; None when there is none to be had."""
    if value is None:
        return None
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    iso = re.match(r"^(\d{4})-(\d{2})-(\d{2})", text)
    if iso:
        try:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        except ValueError:
            return None
    head = text.split(" ")[0] if re.match(r"^\d{1,2}-[A-Za-z]{3}-\d{4}", text) else text
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(head.title() if "%b" in fmt else head, fmt).date()
        except ValueError:
            continue
    return None


# ------------------------------------------------------------------------------------------ formats


def parse_scraped_page(text: str) -> tuple[str, date | None, str] | None:
    """Title, date and body of a scraped China Post page, or None if the text is not one."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    date_idx = next((i for i, line in enumerate(lines) if _SCRAPED_DATE.match(line)), None)
    if date_idx is None:
        return None
    published = parse_date(_SCRAPED_DATE.match(lines[date_idx])[1])  # type: ignore[index]
    before = [line.strip() for line in lines[:date_idx] if line.strip()]
    # The title is the line the page repeats just above the date line; else the last plain line there.
    title = ""
    for a, b in zip(before[::-1][1:], before[::-1], strict=False):
        if a == b:
            title = a
            break
    if not title:
        plain = [ln for ln in before if not _NAV_LINE.match(ln) and not _PHONE_LINE.match(ln)]
        title = plain[-1] if plain else ""
    body_lines: list[str] = []
    for line in lines[date_idx + 1:]:
        if _FOOTER.match(line):
            break
        body_lines.append(line)
    return title, published, clean_text("\n".join(body_lines))


def parse_plain_text(text: str) -> tuple[str, date | None, str]:
    """A .txt article: a scraped page if it looks like one, else first line = title, the rest = body.

    Optional header lines right after the title (``Date: 2020-01-02``) set the date.
    """
    scraped = parse_scraped_page(text)
    if scraped is not None:
        return scraped
    lines = clean_text(text).split("\n")
    title = lines[0].lstrip("# ").strip() if lines else ""
    rest = lines[1:]
    if not "".join(rest).strip():
        return title, None, title  # a one-line article: the line is both its title and its text
    published = None
    while rest and (not rest[0].strip() or re.match(r"^(date|published)\s*:", rest[0], re.I)):
        m = re.match(r"^(?:date|published)\s*:\s*(.+)$", rest[0], re.I)
        if m:
            published = parse_date(m[1])
        rest = rest[1:]
    return title, published, clean_text("\n".join(rest))


_MD_FRONT = re.compile(r"^---\n(.*?)\n---\n", re.S)


def parse_markdown(text: str) -> tuple[str, date | None, str]:
    """A Markdown article: front matter (title, date) or the first heading as title; markup removed."""
    text = text.replace("\r\n", "\n").lstrip("\ufeff")
    title, published = "", None
    front = _MD_FRONT.match(text)
    if front:
        for line in front[1].split("\n"):
            key, _, value = line.partition(":")
            value = value.strip().strip("'\"")
            if key.strip().lower() == "title":
                title = value
            elif key.strip().lower() in ("date", "published"):
                published = parse_date(value)
        text = text[front.end():]
    body: list[str] = []
    in_code = False
    for line in text.split("\n"):
        if line.strip().startswith("```"):
            in_code = not in_code
            continue
        heading = re.match(r"^#{1,6}\s+(.*)$", line)
        if heading and not in_code:
            if not title:
                title = heading[1].strip()
                continue
            line = heading[1]
        if not in_code:
            line = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", line)  # images
            line = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", line)  # links
            line = re.sub(r"(\*\*|__|\*|_|`)(\S.*?\S|\S)\1", r"\2", line)  # emphasis, code
            line = re.sub(r"^\s*>\s?", "", line)
            line = re.sub(r"^\s*[-*+]\s+", "", line)
            line = re.sub(r"<[^>]+>", "", line)
        body.append(line)
    return title, published, clean_text("\n".join(body))


class _HTMLText(HTMLParser):
    """Text of an HTML page without scripts, styles, navigation, headers, footers and forms."""

    SKIP = {"script", "style", "nav", "header", "footer", "aside", "form", "noscript", "template",
            "svg", "iframe", "button", "select", "head"}
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article",
             "blockquote", "pre", "table", "ul", "ol", "dd", "dt"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0
        self.title = ""
        self.h1 = ""
        self.date_meta = ""
        self._in_title = False
        self._in_h1 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            name = (a.get("name") or a.get("property") or "").lower()
            if name in ("date", "pubdate", "article:published_time", "dc.date", "publish-date"):
                self.date_meta = self.date_meta or a.get("content", "")
        if tag == "time" and a.get("datetime") and not self.date_meta:
            self.date_meta = a["datetime"]
        if tag in self.SKIP and tag != "head":
            self.skip_depth += 1
            return
        if tag == "title":
            self._in_title = True
        if tag == "h1":
            self._in_h1 = True
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and tag != "head":
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if tag == "title":
            self._in_title = False
        if tag == "h1":
            self._in_h1 = False
            self.parts.append("\n")
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
            return
        if self.skip_depth:
            return
        if self._in_h1:
            self.h1 += data
        self.parts.append(data)


def parse_html(text: str) -> tuple[str, date | None, str]:
    """An HTML article: <h1> (else <title>) as title, a date from <meta>/<time>, the visible text."""
    parser = _HTMLText()
    parser.feed(text)
    parser.close()
    title = clean_text(parser.h1 or parser.title).replace("\n", " ")
    body = clean_text("".join(parser.parts))
    # A scraped page saved as HTML keeps its date line and footer: reuse the scraped-page parser.
    scraped = parse_scraped_page(body)
    if scraped is not None:
        return (title or scraped[0]), scraped[1], scraped[2]
    if title and body.startswith(title):
        body = body[len(title):].strip()
    return title, parse_date(parser.date_meta), body


# ----------------------------------------------------------------------------------------- the reader


def _stable_id(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


def _check_article(article: Article) -> str | None:
    """Why this article cannot be indexed, or None."""
    if not article.text.strip():
        return "no article text after cleaning (empty body)"
    if len(article.text) > MAX_ARTICLE_CHARS:
        return (f"article text is {len(article.text):,} characters, over the limit of {MAX_ARTICLE_CHARS:,}; "
                "split it into several articles")
    return None


def iter_jsonl(path: Path, text: str, result: CorpusReadResult) -> Iterator[Article]:
    """One article a line: id (or doc_id), title, date, text (or body), url. Bad lines are reported."""
    seen: set[str] = set()
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            result.problems.append(Problem(where, f"malformed JSON line ({err.msg}), skipped"))
            result.failed_origins.add(str(path))
            continue
        if not isinstance(obj, dict):
            result.problems.append(Problem(where, "JSON line is not an object, skipped"))
            result.failed_origins.add(str(path))
            continue
        body = obj.get("text") or obj.get("body") or obj.get("content") or ""
        title = str(obj.get("title") or "").strip()
        if not isinstance(body, str):
            result.problems.append(Problem(where, "'text'/'body' is not a string, skipped"))
            result.failed_origins.add(str(path))
            continue
        url = str(obj.get("url") or "")
        raw_id = obj.get("id") or obj.get("doc_id") or _stable_id(url or title, body[:2000])
        article_id = str(raw_id).strip()
        if article_id in seen:
            result.problems.append(Problem(where, f"duplicate id {article_id!r} in this file; the first one is kept"))
            continue
        seen.add(article_id)
        yield Article(
            id=article_id,
            title=clean_text(title).replace("\n", " "),
            published=parse_date(obj.get("date") or obj.get("published")),
            source=url or where,
            text=clean_text(body),
        )


def read_file(path: Path, article_id: str, result: CorpusReadResult, display: str | None = None) -> list[Article]:
    """Articles in one file; on failure a Problem is recorded and nothing is returned."""
    display = display or str(path)
    suffix = path.suffix.lower()
    origin = str(path.resolve())
    if suffix not in SUPPORTED_SUFFIXES:
        result.problems.append(Problem(str(path), f"unsupported file type {suffix or '(none)'!r}; "
                                                  f"supported: {', '.join(SUPPORTED_SUFFIXES)}"))
        return []
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ValueError(f"file is {size / 2**20:.0f} MiB, over the {MAX_FILE_BYTES // 2**20} MiB limit")
        if size == 0:
            raise ValueError("empty file")
        text = decode_bytes(path.read_bytes())
    except OSError as err:
        result.problems.append(Problem(str(path), f"cannot read: {err.strerror or err}"))
        result.failed_origins.add(origin)
        return []
    except (ValueError, UnicodeDecodeError) as err:
        result.problems.append(Problem(str(path), str(err)))
        result.failed_origins.add(origin)
        return []
    if suffix != ".jsonl" and len(text) > 2 * MAX_ARTICLE_CHARS:
        # refuse early: cleaning 50 MB of text only to refuse it afterwards takes seconds
        result.problems.append(Problem(display, f"article text is {len(text):,} characters, over the limit of "
                                                f"{MAX_ARTICLE_CHARS:,}; split it into several articles"))
        result.failed_origins.add(origin)
        return []
    if suffix == ".jsonl":
        articles = list(iter_jsonl(path, text, result))
        if str(path) in result.failed_origins:
            result.failed_origins.discard(str(path))
            result.failed_origins.add(origin)
    else:
        if suffix in (".html", ".htm"):
            title, published, body = parse_html(text)
        elif suffix in (".md", ".markdown"):
            title, published, body = parse_markdown(text)
        else:
            title, published, body = parse_plain_text(text)
        articles = [Article(id=article_id, title=title, published=published, source=display, text=body)]
    good = []
    for article in articles:
        reason = _check_article(article)
        if reason:
            where = article.source if suffix == ".jsonl" else str(path)
            result.problems.append(Problem(where, reason))
            result.failed_origins.add(origin)
            continue
        good.append(article)
    return good


def read_corpus(paths: Iterable[str | Path]) -> CorpusReadResult:
    """Read every supported file under the given files and folders.

    A file's article id is its path relative to the folder it was found in, without the suffix
    (``corpus/000_7c54.txt`` -> ``000_7c54``); JSONL lines carry their own ids. Files that cannot be
    read are reported in ``problems`` and skipped; ids seen twice keep the first article.
    """
    result = CorpusReadResult()
    files: list[tuple[Path, str, str]] = []  # (path, relative name, source shown to users)
    seen_files: set[str] = set()
    for raw in paths:
        root = Path(raw)
        if not root.exists():
            result.problems.append(Problem(str(root), "no such file or folder"))
            continue
        result.roots.append(str(root.resolve()))
        candidates = [root] if root.is_file() else list(walk_files(root, result.problems))
        for path in candidates:
            resolved = str(path.resolve())
            if resolved in seen_files:
                continue
            seen_files.add(resolved)
            rel = path.name if path == root else path.relative_to(root).as_posix()
            # shown as "corpus/000_x.txt": relative to the scanned folder's parent, the same from any cwd
            display = rel if path == root else f"{root.resolve().name}/{rel}"
            files.append((path, rel, display))
    stems: dict[str, int] = {}
    for _, rel, _ in files:
        stem = rel.rsplit(".", 1)[0]
        stems[stem] = stems.get(stem, 0) + 1
    for path, rel, display in files:
        stem = rel.rsplit(".", 1)[0]
        article_id = stem if stems[stem] == 1 else rel
        for article in read_file(path, article_id, result, display):
            if article.id in result.origins:
                result.problems.append(Problem(article.source, f"duplicate article id {article.id!r} "
                                                               f"(also in {result.origins[article.id]}); skipped"))
                continue
            result.origins[article.id] = str(path.resolve())
            result.articles.append(article)
    return result
