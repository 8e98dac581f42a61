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
from postqa.reading.files import (
    MAX_FILE_BYTES,
    decode_file,
    file_origin,
    safe_str,
    special_kind,
    special_problem,
    walk_files,
)
from postqa.reading.html import read_html
from postqa.reading.jsonl import iter_jsonl
from postqa.reading.markdown import read_markdown
from postqa.reading.report import build_report
from postqa.reading.result import CorpusReadResult, Problem
from postqa.reading.scraped import PageRead, is_one_line, read_text_page
from postqa.reading.text import clean_text, finish_title
from postqa.reading.unwrap import unwrap

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
    """The file's text, or None with a Problem recorded (unreadable, empty, binary, too big, not a regular
    file); bytes replaced or an encoding guessed are recorded as a warning."""
    origin = safe_str(path.resolve())
    try:
        st = path.stat()
        kind = special_kind(st.st_mode)
        if kind is not None:  # never open a FIFO or a device: reading one blocks or never ends
            raise ValueError(f"{kind}, not a regular file; skipped")
        if st.st_size > MAX_FILE_BYTES:
            raise ValueError(f"file is {st.st_size / 2**20:.0f} MiB, over the {MAX_FILE_BYTES // 2**20} MiB limit")
        if st.st_size == 0:
            raise ValueError("empty file")
        decoded = decode_file(path.read_bytes())
    except OSError as err:
        result.problems.append(Problem(safe_str(path), f"cannot read: {err.strerror or err}"))
        result.failed_origins.update({origin, file_origin(path)})
        return None
    except (ValueError, UnicodeDecodeError) as err:
        result.problems.append(Problem(safe_str(path), str(err)))
        result.failed_origins.update({origin, file_origin(path)})
        return None
    text = decoded.text
    if decoded.warning:
        result.warnings.append(Problem(display, decoded.warning))
    if path.suffix.lower() != ".jsonl" and len(text) > 2 * MAX_ARTICLE_CHARS:
        # refuse early: cleaning 50 MB of text only to refuse it afterwards takes seconds
        result.problems.append(Problem(display, f"article text is {len(text):,} characters, over the limit of "
                                                f"{MAX_ARTICLE_CHARS:,}; split it into several articles"))
        result.failed_origins.add(origin)
        return None
    return text


def _title_from_name(path: Path, site: _Site | None) -> str:
    """The file name as a title: without its suffix, without the ending the site's files share."""
    stem = safe_str(path.name).rsplit(".", 1)[0]
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
    display = display or safe_str(path)
    suffix = path.suffix.lower()
    origin = safe_str(path.resolve())
    if suffix not in SUPPORTED_SUFFIXES:
        shown = safe_str(suffix) or "(none)"
        result.problems.append(Problem(safe_str(path), f"unsupported file type {shown!r}; "
                                                       f"supported: {', '.join(SUPPORTED_SUFFIXES)}"))
        return []
    text = text if text is not None else _load_text(path, result, display)
    if text is None:
        return []
    if suffix == ".jsonl":
        before = len(result.problems)
        articles = list(iter_jsonl(path, text, result))
        if not articles and len(result.problems) == before:  # only blank lines: say so, keep what it had
            result.problems.append(Problem(safe_str(path), "no JSON lines (the file holds only blank lines)"))
            result.failed_origins.add(safe_str(path))
        if safe_str(path) in result.failed_origins:
            result.failed_origins.discard(safe_str(path))
            result.failed_origins.add(origin)
    else:
        page = _read_page(path, text, site)
        articles = [Article(id=article_id, title=page.title, published=page.published, source=display,
                            text=page.body, url=page.url, report=build_report(page, len(text)))]
    good = []
    for article in articles:
        reason = _check_article(article)
        if reason:
            where = article.source if suffix == ".jsonl" else safe_str(path)
            result.problems.append(Problem(where, reason))
            result.failed_origins.add(origin)
            continue
        good.append(article)
    return good


# ------------------------------------------------------------------------------------------ the corpus


def _candidates(root: Path, result: CorpusReadResult, follow_symlinks: bool) -> list[Path]:
    """The files to read for one given path (a file or a folder); what cannot be read is reported."""
    if not root.exists():
        if root.is_symlink():
            result.problems.append(Problem(safe_str(root), "cannot read: No such file or directory (dangling "
                                                           "symlink)"))
        else:
            result.problems.append(Problem(safe_str(root), "no such file or folder"))
        return []
    result.roots.append(safe_str(root.resolve()))
    if root.is_dir():
        return list(walk_files(root, result.problems, follow_symlinks, result.failed_origins))
    kind = special_kind(root.stat().st_mode)
    if kind is not None:
        result.problems.append(special_problem(root, kind))
        return []
    return [root]


def _discover(paths: Iterable[str | Path], result: CorpusReadResult,
              follow_symlinks: bool = False) -> list[tuple[Path, str, str]]:
    """(path, name relative to its scanned folder, source shown to users) of every file, once each. Names
    that are not UTF-8 are kept as ``\\xNN`` escapes (safe_str); every file found is recorded in
    ``result.scanned``."""
    files: list[tuple[Path, str, str]] = []
    for raw in paths:
        root = Path(raw)
        for path in _candidates(root, result, follow_symlinks):
            resolved = safe_str(path.resolve())
            if resolved in result.scanned:
                continue
            result.scanned.update({resolved, file_origin(path)})
            rel = safe_str(path.name if path == root else path.relative_to(root).as_posix())
            # shown as "corpus/000_x.txt": relative to the scanned folder's parent, the same from any cwd
            display = rel if path == root else f"{safe_str(root.resolve().name)}/{rel}"
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
            scratch = CorpusReadResult()
            text = _load_text(path, scratch, display)  # problems are reported in the second pass
            if text is None:
                continue
            learned = clean_text(unwrap(text).text)  # the lines the second pass reads (hard wraps joined)
            sites.setdefault(folder, _Site(SiteProfile())).profile.learn(learned, is_one_line(learned))
        except Exception:  # noqa: BLE001 - the second pass reports this file's problem
            continue
        if kept + len(text) <= _CACHE_CHARS:
            cache[path] = text
            kept += len(text)
            result.warnings.extend(scratch.warnings)  # not read again: its warnings are reported from here
    for folder, names in stems.items():
        sites.setdefault(folder, _Site(SiteProfile())).name_suffix = _shared_name_suffix(names)
    return sites, cache


def read_corpus(paths: Iterable[str | Path], follow_symlinks: bool = False) -> CorpusReadResult:
    """Read every supported file under the given files and folders.

    A file's article id is its path relative to the folder it was found in, without the suffix
    (``corpus/000_7c54.txt`` -> ``000_7c54``); JSONL lines carry their own ids. Files that cannot be
    read are reported in ``problems`` and skipped (whatever went wrong, the other files are still read);
    ids seen twice keep the first article. Symlinks leading outside a folder are skipped unless
    ``follow_symlinks``.
    """
    result = CorpusReadResult()
    files = _discover(paths, result, follow_symlinks)
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
            result.failed_origins.update({safe_str(path.resolve()), file_origin(path)})
            continue
        for article in articles:
            if article.id in result.origins:
                result.problems.append(Problem(article.source, f"duplicate article id {article.id!r} "
                                                               f"(also in {result.origins[article.id]}); skipped"))
                continue
            result.origins[article.id] = safe_str(path.resolve())
            result.articles.append(article)
    return result

