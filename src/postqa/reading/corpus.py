"""Read a corpus (text pages, .md, .html, .jsonl) into Articles with parse reports, one file at a time.

Text pages are read in two passes: the first learns what each folder's pages repeat (boilerplate), the
second reads every file with that profile. A file that fails in any way becomes that file's Problem.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from postqa.core.types import Article
from postqa.reading.boilerplate import SiteProfile
from postqa.reading.dates import parse_date
from postqa.reading.files import MAX_FILE_BYTES, decode_bytes, walk_files
from postqa.reading.html import read_html
from postqa.reading.jsonl import iter_jsonl
from postqa.reading.markdown import read_markdown
from postqa.reading.report import build_report
from postqa.reading.result import CorpusReadResult, Problem
from postqa.reading.scraped import PageRead, is_one_line, read_text_page
from postqa.reading.text import clean_text, finish_title

__all__ = ["SUPPORTED_SUFFIXES", "clean_text", "parse_date", "parse_scraped_page", "read_corpus", "read_file"]

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".jsonl")
TEXT_SUFFIXES = (".txt",)
MAX_ARTICLE_CHARS = 2_000_000  # ~400k words: larger single articles are refused, not half-read
_CACHE_CHARS = 64_000_000  # decoded text pages kept between the two passes (beyond this they are re-read)


@dataclass
class _Site:
    """What the reader learned about one folder of pages: its profile and its files' shared name suffix."""

    profile: SiteProfile
    name_suffix: str = ""


def parse_scraped_page(text: str) -> tuple[str, date | None, str] | None:
    """Title, date and body of a scraped text page read on its own, or None if no headline and date head
    is found (the text is not such a page)."""
    page = read_text_page(text)
    if page.published is None or not page.title:
        return None
    return page.title, page.published, page.body


# ------------------------------------------------------------------------------------------ one file


def _load_text(path: Path, result: CorpusReadResult, display: str) -> str | None:
    """The file's text, or None with a Problem recorded (unreadable, empty, binary, too big)."""
    origin = str(path.resolve())
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
        return None
    except (ValueError, UnicodeDecodeError) as err:
        result.problems.append(Problem(str(path), str(err)))
        result.failed_origins.add(origin)
        return None
    if path.suffix.lower() != ".jsonl" and len(text) > 2 * MAX_ARTICLE_CHARS:
        # refuse early: cleaning 50 MB of text only to refuse it afterwards takes seconds
        result.problems.append(Problem(display, f"article text is {len(text):,} characters, over the limit of "
                                                f"{MAX_ARTICLE_CHARS:,}; split it into several articles"))
        result.failed_origins.add(origin)
        return None
    return text


def _title_from_name(path: Path, site: _Site | None) -> str:
    """The file name as a title: without its suffix, without the ending the site's files share."""
    stem = path.name.rsplit(".", 1)[0]
    if site and site.name_suffix and stem.endswith(site.name_suffix) and len(stem) > len(site.name_suffix):
        stem = stem[: -len(site.name_suffix)]
    if " " not in stem:
        stem = re.sub(r"[_-]+", " ", stem)
    return stem.strip(" -_|")


def _read_page(path: Path, text: str, site: _Site | None) -> PageRead:
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        page = read_html(text)
    elif suffix in (".md", ".markdown"):
        page = read_markdown(text)
    else:
        page = read_text_page(text, site.profile if site else None)
    page.title = finish_title(page.title, page.body)
    if not page.title:
        named = finish_title(_title_from_name(path, site), page.body)
        page.title, page.title_source = named, "file name" if named else ""
    return page


def _check_article(article: Article) -> str | None:
    """Why this article cannot be indexed, or None."""
    if not article.text.strip():
        return "no article text after cleaning (empty body)"
    if len(article.text) > MAX_ARTICLE_CHARS:
        return (f"article text is {len(article.text):,} characters, over the limit of {MAX_ARTICLE_CHARS:,}; "
                "split it into several articles")
    return None


def read_file(path: Path, article_id: str, result: CorpusReadResult, display: str | None = None,
              site: _Site | None = None, text: str | None = None) -> list[Article]:
    """Articles in one file; on failure a Problem is recorded and nothing is returned."""
    display = display or str(path)
    suffix = path.suffix.lower()
    origin = str(path.resolve())
    if suffix not in SUPPORTED_SUFFIXES:
        result.problems.append(Problem(str(path), f"unsupported file type {suffix or '(none)'!r}; "
                                                  f"supported: {', '.join(SUPPORTED_SUFFIXES)}"))
        return []
    text = text if text is not None else _load_text(path, result, display)
    if text is None:
        return []
    if suffix == ".jsonl":
        articles = list(iter_jsonl(path, text, result))
        if str(path) in result.failed_origins:
            result.failed_origins.discard(str(path))
            result.failed_origins.add(origin)
    else:
        page = _read_page(path, text, site)
        articles = [Article(id=article_id, title=page.title, published=page.published, source=display,
                            text=page.body, url=page.url, report=build_report(page, len(text)))]
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


# ------------------------------------------------------------------------------------------ the corpus


def _discover(paths: Iterable[str | Path], result: CorpusReadResult) -> list[tuple[Path, str, str]]:
    """(path, name relative to its scanned folder, source shown to users) of every file, once each."""
    files: list[tuple[Path, str, str]] = []
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
    return files


def _shared_name_suffix(stems: list[str]) -> str:
    """The ending all these file names share (" - Example News"), cut back to a separator; "" if none."""
    if len(stems) < 2:
        return ""
    common = os.path.commonprefix([s[::-1] for s in stems])[::-1]
    cut = next((i for i, ch in enumerate(common) if ch in " -_|–—"), -1)
    common = common[cut:] if cut >= 0 else ""
    return common if len(common.strip(" -_|–—")) >= 3 and all(len(s) > len(common) for s in stems) else ""


def _learn_sites(files: list[tuple[Path, str, str]], result: CorpusReadResult) -> tuple[dict[str, _Site],
                                                                                         dict[Path, str]]:
    """First pass: each folder's profile of repeated lines and word runs over its text pages (and the
    decoded texts, kept for the second pass while they fit)."""
    sites: dict[str, _Site] = {}
    stems: dict[str, list[str]] = {}
    cache: dict[Path, str] = {}
    kept = 0
    for path, _, display in files:
        folder = str(path.parent.resolve())
        stems.setdefault(folder, []).append(path.name.rsplit(".", 1)[0])
        if path.suffix.lower() not in TEXT_SUFFIXES:
            continue
        try:
            text = _load_text(path, CorpusReadResult(), display)  # problems are reported in the second pass
            if text is None:
                continue
            text = clean_text(text)
            sites.setdefault(folder, _Site(SiteProfile())).profile.learn(text, is_one_line(text))
        except Exception:  # noqa: BLE001 - the second pass reports this file's problem
            continue
        if kept + len(text) <= _CACHE_CHARS:
            cache[path] = text
            kept += len(text)
    for folder, names in stems.items():
        sites.setdefault(folder, _Site(SiteProfile())).name_suffix = _shared_name_suffix(names)
    return sites, cache


def read_corpus(paths: Iterable[str | Path]) -> CorpusReadResult:
    """Read every supported file under the given files and folders.

    A file's article id is its path relative to the folder it was found in, without the suffix
    (``corpus/000_7c54.txt`` -> ``000_7c54``); JSONL lines carry their own ids. Files that cannot be
    read are reported in ``problems`` and skipped (whatever went wrong, the other files are still read);
    ids seen twice keep the first article.
    """
    result = CorpusReadResult()
    files = _discover(paths, result)
    sites, cache = _learn_sites(files, result)
    stems: dict[str, int] = {}
    for _, rel, _ in files:
        stem = rel.rsplit(".", 1)[0]
        stems[stem] = stems.get(stem, 0) + 1
    for path, rel, display in files:
        stem = rel.rsplit(".", 1)[0]
        article_id = stem if stems[stem] == 1 else rel
        site = sites.get(str(path.parent.resolve()))
        try:
            articles = read_file(path, article_id, result, display, site, cache.pop(path, None))
        except Exception as err:  # noqa: BLE001 - one bad file must not stop the corpus
            result.problems.append(Problem(display, f"could not be read ({type(err).__name__}: {err}); "
                                                    "skipped, the other files were read"))
            result.failed_origins.add(str(path.resolve()))
            continue
        for article in articles:
            if article.id in result.origins:
                result.problems.append(Problem(article.source, f"duplicate article id {article.id!r} "
                                                               f"(also in {result.origins[article.id]}); skipped"))
                continue
            result.origins[article.id] = str(path.resolve())
            result.articles.append(article)
    return result

