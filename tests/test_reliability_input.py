"""Issue 14: every bad input answered. Questions and flags from the CLI, `ask -` and the web API are checked for
type and encoding and answered with the documented error object; `ask -` emits exactly one line per input
line. Property-based tests (hypothesis) over questions, filters and the readers. See docs/reliability.md."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS, XINHUA, make_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postqa.core.errors import InputError, PostqaError
from postqa.reading.corpus import read_corpus
from postqa.reading.files import decode_file
from postqa.service.assistant import MAX_QUESTION_CHARS, QuestionError, clean_question
from postqa.service.pipeline import ingest
from postqa.service.validation import build_filter, decode_utf8, parse_date_flag, question_text, text_list

QUESTION = "Who presided over the Xinhua meeting?"


# ------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize("value,message", [
    ("notadate", "--since 'notadate' is not a date; use YYYY-MM-DD"),
    ("2005-13-45", "--since '2005-13-45' is not a real date (month must be in 1..12)"),
    ("2021-02-30", "--since '2021-02-30' is not a real date (day is out of range for month)"),
    ("2021-1-5", "--since '2021-1-5' is not a date"),
    ("20210105", "--since '20210105' is not a date"),
    ("last week", "--since 'last week' is not a date"),
    ("２０２１-０１-０１", "is not a date"),  # full-width digits
    ("2021-01-01T00:00", "is not a date"),
    (20210101, "--since must be a date written YYYY-MM-DD, got int 20210101"),
], ids=["word", "month-13", "feb-30", "no-padding", "no-dashes", "phrase", "fullwidth", "datetime", "int"])
def test_bad_dates_name_the_flag_and_value(value: object, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        parse_date_flag(value, "--since")


@pytest.mark.parametrize("value,expected", [(None, None), ("", None), ("  ", None),
                                            (" 2020-09-11 ", date(2020, 9, 11)), ("2024-02-29", date(2024, 2, 29))])
def test_good_dates(value: object, expected: date | None) -> None:
    assert parse_date_flag(value, "--since") == expected


def test_inverted_range_is_an_error_naming_both_flags() -> None:
    with pytest.raises(InputError, match="--since 2021-01-01 is after --until 2020-01-01"):
        build_filter("2021-01-01", "2020-01-01", None)
    assert build_filter("2020-01-01", "2020-01-01", None) is not None  # one day is a range


def test_filter_pieces() -> None:
    assert build_filter(None, None, None) is None and build_filter("", "", []) is None
    flt = build_filter("2020-01-01", None, ["a", "b"])
    assert flt is not None and flt.article_ids == frozenset({"a", "b"}) and flt.date_to is None


@pytest.mark.parametrize("value,message", [
    ("abc", "articles must be a list of strings, got the string 'abc'; pass \\['abc'\\]"),
    (5, "articles must be a list of strings, got int 5"),
    ({"a": 1}, "must be a list of strings, got dict"),
    (["ok", 3], r"articles\[1\] must be UTF-8 text, got int 3"),
    (["ok", None], r"articles\[1\] must be UTF-8 text, got NoneType"),
    (b"abc", "must be a list of strings, got bytes"),
    (["\udcff"], r"articles\[0\] must be UTF-8 text"),
], ids=["string", "int", "dict", "int-item", "none-item", "bytes", "surrogate-item"])
def test_lists_are_lists_of_strings(value: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        text_list(value, "articles")


@pytest.mark.parametrize("value,message", [
    (123, "the question must be text, got int 123; send a string"),
    (["Who?"], "the question must be text, got list"),
    ({"q": "Who?"}, "the question must be text, got dict"),
    (12.5, "got float"),
    (True, "got bool"),
    (b"caf\xe9?", r"the question is not valid UTF-8 text \(byte 0xE9 at position 3\)"),
    (os.fsdecode(b"caf\xe9?"), r"the question is not valid UTF-8 text \(byte 0xE9 at position 3\)"),
    ("a\ud800b", "not valid UTF-8 text"),
], ids=["int", "list", "dict", "float", "bool", "bytes-latin1", "argv-surrogateescape", "lone-surrogate"])
def test_questions_must_be_utf8_text(value: object, message: str) -> None:
    with pytest.raises(QuestionError, match=message):
        clean_question(value)  # type: ignore[arg-type]


def test_utf8_bytes_are_a_question() -> None:
    assert question_text("Café?".encode()) == "Café?"
    with pytest.raises(QuestionError, match="the question is empty"):
        clean_question(None)  # type: ignore[arg-type]


def test_decode_utf8_names_the_byte() -> None:
    with pytest.raises(QuestionError, match=r"byte 0xFF at position 4"):
        decode_utf8(b"Who \xff?")


# ---------------------------------------------------------------------------- property tests


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=1500))
def test_property_clean_question_returns_clean_text_or_a_question_error(text: str) -> None:
    try:
        q = clean_question(text)
    except QuestionError as err:
        assert str(err) and "Traceback" not in str(err)
        return
    assert 0 < len(q) <= MAX_QUESTION_CHARS and q == q.strip()
    assert not any(ord(ch) < 32 or ord(ch) == 0x7F for ch in q)
    q.encode("utf-8")  # always encodable: no lone surrogates get through


ANY_CHAR = st.characters(blacklist_categories=())  # lone surrogates included: argv bytes arrive as them


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ANY_CHAR, max_size=300))
def test_property_questions_with_surrogates_are_refused_not_crashed(text: str) -> None:
    try:
        q = clean_question(text)
    except QuestionError:
        return
    q.encode("utf-8")


JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) |
                          st.text(alphabet=ANY_CHAR, max_size=40),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3), max_leaves=8)
JSONL_OBJECT = st.fixed_dictionaries({}, optional={
    "id": JSON_VALUE, "title": JSON_VALUE, "text": JSON_VALUE, "body": JSON_VALUE, "date": JSON_VALUE,
    "url": JSON_VALUE, "headline": JSON_VALUE})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(objects=st.lists(JSONL_OBJECT | JSON_VALUE, min_size=1, max_size=4))
def test_property_jsonl_of_arbitrary_json_gives_articles_or_problems(tmp_path: Path, objects: list[object]) -> None:
    raw = "\n".join(json.dumps(o) for o in objects).encode()  # ensure_ascii: surrogates as \\udXXX escapes
    _check_read(tmp_path, raw, ".jsonl")


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.none(), st.integers(), st.floats(), st.booleans(), st.binary(max_size=200),
                 st.lists(st.text(max_size=5), max_size=3), st.dictionaries(st.text(max_size=3), st.integers()),
                 st.text(max_size=200)))
def test_property_any_value_is_a_question_or_a_question_error(value: object) -> None:
    try:
        q = clean_question(value)  # type: ignore[arg-type]
    except QuestionError:
        return
    assert isinstance(q, str) and q.encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=30), st.integers()), st.one_of(st.none(), st.text(max_size=30)),
       st.one_of(st.none(), st.text(max_size=10), st.lists(st.one_of(st.text(max_size=8), st.integers()),
                                                            max_size=4)))
def test_property_filters_are_built_or_refused_with_an_input_error(since: object, until: object,
                                                                   articles: object) -> None:
    try:
        flt = build_filter(since, until, articles)
    except InputError as err:
        assert str(err).startswith(("--since", "--until", "--article")), str(err)
        return
    if flt is not None and flt.date_from and flt.date_to:
        assert flt.date_from <= flt.date_to


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4000))
def test_property_decode_file_gives_text_or_a_value_error(raw: bytes) -> None:
    try:
        decoded = decode_file(raw)
    except ValueError as err:
        assert "binary file" in str(err)
        return
    assert isinstance(decoded.text, str)


SUFFIXES = [".txt", ".md", ".html", ".jsonl"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(raw=st.binary(max_size=3000), suffix=st.sampled_from(SUFFIXES))
def test_property_reader_on_arbitrary_bytes_gives_articles_or_problems(tmp_path: Path, raw: bytes,
                                                                       suffix: str) -> None:
    _check_read(tmp_path, raw, suffix)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(text=st.text(max_size=2000), suffix=st.sampled_from(SUFFIXES))
def test_property_reader_on_arbitrary_unicode_gives_articles_or_problems(tmp_path: Path, text: str,
                                                                         suffix: str) -> None:
    _check_read(tmp_path, text.encode("utf-8", "surrogatepass"), suffix)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(name=st.binary(min_size=1, max_size=40).filter(lambda b: b"/" not in b and b"\x00" not in b
                                                      and not b.startswith(b".")))  # hidden files are skipped
def test_property_any_file_name_is_read_or_reported(tmp_path: Path, name: bytes) -> None:
    folder = os.path.join(os.fsencode(tmp_path), b"names")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name + b".txt")
    with open(path, "wb") as f:
        f.write(b"A title\n\nKang Ning opened a depot in Xiamen.")
    try:
        result = read_corpus([os.fsdecode(folder)])
        for a in result.articles:
            (a.id + a.source + a.title + a.text).encode("utf-8")
        for origin in result.origins.values():
            origin.encode("utf-8")
        assert result.articles or result.problems
    finally:
        os.unlink(path)


def _check_read(tmp_path: Path, raw: bytes, suffix: str) -> None:
    path = tmp_path / f"case{suffix}"
    path.write_bytes(raw)
    try:
        result = read_corpus([path])  # never raises
    finally:
        path.unlink()
    assert result.articles or result.problems or not raw.strip()
    for a in result.articles:
        assert a.text.strip()
        (a.id + a.title + a.text + a.source).encode("utf-8")  # storable: no lone surrogates
    for p in result.problems:
        assert p.reason and "Traceback" not in p.reason


# ------------------------------------------------------------------------------------ the CLI


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("input")
    settings_ = make_settings(tmp, CORPUS)
    ingest(settings_)
    return settings_.paths.vectorstore


def run_cli(store: Path, args: list[bytes | str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTQA_")}
    env.update({"POSTQA_EMBEDDING__PROVIDER": "hash", "POSTQA_EMBEDDING__DIM": "256",
                "POSTQA_PATHS__CORPUS": str(CORPUS), "POSTQA_PATHS__VECTORSTORE": str(store),
                "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"})
    return subprocess.run([sys.executable, "-m", "postqa.interfaces.cli", *args], env=env, cwd=store.parent,
                          input=stdin, capture_output=True, timeout=180)


def test_ask_dash_emits_one_line_per_input_line(store: Path) -> None:
    lines = [QUESTION.encode(), b"", b"   ", b"Who \xff\xfe is this?", b"why?" * 300, b"\x07\x1b",
             "Кто?".encode(), b"\r", QUESTION.encode() + b"\r"]
    proc = run_cli(store, ["ask", "-"], stdin=b"\n".join(lines) + b"\n")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert len(out) == len(lines)
    assert out[0]["citations"][0]["article_id"] == XINHUA and out[-1]["citations"][0]["article_id"] == XINHUA
    assert out[1] == {"question": "", "error": "the question is empty; type a question about the news"}
    assert out[2]["error"].startswith("the question is empty")
    assert out[3]["error"] == ("the question is not valid UTF-8 text (byte 0xFF at position 4); send it as UTF-8")
    assert out[3]["question"].startswith("Who \ufffd")
    assert "1,200 characters long" in out[4]["error"]
    assert out[5]["error"].startswith("the question is empty") and "answer" in out[6]
    assert out[7]["error"].startswith("the question is empty")
    assert b"Traceback" not in proc.stderr


def test_ask_dash_with_no_input_prints_nothing(store: Path) -> None:
    proc = run_cli(store, ["ask", "-"], stdin=b"")
    assert proc.returncode == 0 and proc.stdout == b""


def test_ask_dash_last_line_without_newline(store: Path) -> None:
    proc = run_cli(store, ["ask", "-"], stdin=QUESTION.encode() + b"\n" + QUESTION.encode())
    assert len(proc.stdout.decode().splitlines()) == 2


@pytest.mark.parametrize("args,message", [
    (["ask", b"Who is caf\xe9?"], "the question is not valid UTF-8 text (byte 0xE9 at position 10)"),
    (["ask", "--since", "notadate", QUESTION], "--since 'notadate' is not a date; use YYYY-MM-DD"),
    (["ask", "--since", "2005-13-45", QUESTION], "--since '2005-13-45' is not a real date"),
    (["ask", "--until", "2021-02-30", QUESTION], "--until '2021-02-30' is not a real date"),
    (["ask", "--since", "2021-01-01", "--until", "2020-01-01", QUESTION],
     "--since 2021-01-01 is after --until 2020-01-01"),
    (["ask", "--since", "notadate", "-"], "--since 'notadate' is not a date"),
    (["ask", "--article", b"\xff", QUESTION], "--article[0] must be UTF-8 text"),
], ids=["argv-not-utf8", "since-word", "since-month-13", "until-feb-30", "inverted", "dash-bad-since",
        "article-not-utf8"])
def test_cli_bad_questions_and_flags_exit_2_with_one_line(store: Path, args: list[Any], message: str) -> None:
    proc = run_cli(store, args, stdin=b"")
    err = proc.stderr.decode("utf-8")
    assert proc.returncode == 2, err
    assert err.startswith("postqa: error: ") and message in err and len(err.strip().splitlines()) == 1, err
    assert proc.stdout == b""


def test_cli_good_date_range_answers(store: Path) -> None:
    proc = run_cli(store, ["ask", "--json", "--since", "2020-01-01", "--until", "2020-12-31", QUESTION])
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["citations"][0]["article_id"] == XINHUA


# -------------------------------------------------------------------------------- the web API


@pytest.fixture(scope="module")
def endpoint(store: Path) -> Any:
    from postqa.interfaces.web import AssistantHolder, ChatService, assistant_factory
    from postqa.interfaces.web.ui import _ask_endpoint

    settings_ = make_settings(store.parent, CORPUS, **{"paths.vectorstore": store})
    return _ask_endpoint(ChatService(AssistantHolder(assistant_factory(settings_))))


@pytest.mark.parametrize("kwargs,message", [
    ({"question": 123}, "the question must be text, got int 123"),
    ({"question": None}, "the question must be text, got NoneType None"),
    ({"question": ["Who?"]}, "the question must be text, got list"),
    ({"question": QUESTION, "history": "Who?"}, "history must be a list of strings, got the string 'Who?'"),
    ({"question": QUESTION, "history": [1, 2]}, "history[0] must be UTF-8 text, got int 1"),
    ({"question": QUESTION, "articles": XINHUA}, f"articles must be a list of strings, got the string '{XINHUA}'"),
    ({"question": QUESTION, "articles": [XINHUA, 7]}, "articles[1] must be UTF-8 text, got int 7"),
    ({"question": QUESTION, "date_from": 2020}, "the date from must be a date written YYYY-MM-DD, got int 2020"),
    ({"question": QUESTION, "date_from": "2005-13-45"}, "the date from '2005-13-45' is not a real date"),
    ({"question": QUESTION, "date_from": "2021-01-01", "date_to": "2020-01-01"}, "is after the date to"),
    ({"question": "\udcff?"}, "not valid UTF-8"),
], ids=["int", "none", "list", "history-string", "history-ints", "articles-string", "articles-int-item",
        "date-int", "date-month-13", "inverted", "surrogate"])
def test_web_api_bad_fields_give_the_error_object(endpoint: Any, kwargs: dict[str, Any], message: str) -> None:
    out = endpoint(**kwargs)
    assert set(out) == {"question", "error"} and message in out["error"], out
    json.dumps(out, ensure_ascii=False).encode("utf-8")  # the error object itself is always valid UTF-8


def test_web_api_good_fields_answer(endpoint: Any) -> None:
    out = endpoint(QUESTION, [], "2020-01-01", "2020-12-31", [XINHUA])
    assert out["citations"][0]["article_id"] == XINHUA


def test_web_article_list_is_not_split_into_characters() -> None:
    from postqa.interfaces.web.chat import parse_filter

    with pytest.raises(PostqaError, match="got the string"):
        parse_filter("", "", XINHUA)


# ------------------------------------------------------------------------------ config variables


@pytest.mark.parametrize("name,closest", [
    ("POSTQA_STORE_MODE", "POSTQA_STORE__MODE (store.mode)"),
    ("POSTQA_EMBEDING__MODEL", "POSTQA_EMBEDDING__MODEL (embedding.model)"),
    ("POSTQA_RETRIEVAL_TOPK", "POSTQA_RETRIEVAL__TOP_K (retrieval.top_k)"),
    ("POSTQA_SERVER_PORT", "POSTQA_SERVER__PORT (server.port)"),
    ("postqa_store_port", "POSTQA_STORE__PORT (store.port)"),
], ids=["one-underscore", "section-typo", "key-typo", "server-port", "lower-case"])
def test_env_variable_that_looks_like_a_key_gets_a_warning(name: str, closest: str) -> None:
    from postqa.core.config import env_warnings

    (warning,) = env_warnings({name: "x"})
    assert warning.startswith(f"{name} is not a postqa setting and is ignored; did you mean {closest}?")


@pytest.mark.parametrize("name", ["POSTQA_STORE__MODE", "POSTQA_CONFIG", "POSTQA_CRASH_AT", "POSTQA_EVAL_MODEL",
                                  "POSTQA_SOMETHING_ELSE", "PATH", "POSTQA_STORE__COLOUR"])
def test_env_variables_that_are_fine_or_unrelated_get_no_warning(name: str) -> None:
    from postqa.core.config import env_warnings

    assert env_warnings({name: "x"}) == []


def test_cli_prints_the_env_warning_once(store: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTQA_")}
    env.update({"POSTQA_EMBEDDING__PROVIDER": "hash", "POSTQA_EMBEDDING__DIM": "256",
                "POSTQA_PATHS__CORPUS": str(CORPUS), "POSTQA_PATHS__VECTORSTORE": str(store),
                "POSTQA_STORE_MODE": "server"})
    proc = subprocess.run([sys.executable, "-m", "postqa.interfaces.cli", "status"], env=env, cwd=store.parent,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("postqa: warning: POSTQA_STORE_MODE is not a postqa setting and is ignored; did you "
                             "mean POSTQA_STORE__MODE (store.mode)?") == 1, proc.stderr
    assert "store:       " in proc.stdout  # the setting really was ignored: embedded store used
