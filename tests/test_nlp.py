"""The language layer: Analysis from spaCy, its JSON round trip, the stored-analysis cache, people relations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from postqa.nlp.analysis import Analysis, text_key
from postqa.nlp.pipeline import Analyser
from postqa.nlp.relations import people_in, role_of
from postqa.nlp.store import AnalysisStore

TEXT = ("Zhang Yongping, Head of the General Manager's Office of Xinhua News Agency, presided over the meeting. "
        "On September 10, 31 provinces attended it in Beijing.")


def test_analysis_has_sentences_tokens_entities_and_chunks(analyser: Analyser) -> None:
    a = analyser.analyse(TEXT)
    assert len(a.sents) == 2
    assert a.span_text(a.sents[0]).endswith("meeting.")
    labels = {(a.span_text(e), e.label) for e in a.ents}
    assert ("Zhang Yongping", "PERSON") in labels and ("Beijing", "GPE") in labels
    presided = next(t for t in a.tokens if a.word(t.i) == "presided")
    assert presided.lemma == "preside" and presided.pos == "VERB"
    subject = next(t for t in a.tokens if t.head == presided.i and t.dep == "nsubj")
    assert a.word(subject.i) == "Yongping"
    assert any(a.span_text(c) == "the meeting" for c in a.chunks)
    for t in a.tokens:  # offsets point into the text
        assert a.text[t.start:t.end] == a.word(t.i) and t.start < t.end


def test_json_round_trip(analyser: Analyser) -> None:
    a = analyser.analyse(TEXT)
    assert Analysis.from_json(TEXT, a.to_json()) == a
    with pytest.raises(ValueError, match="format"):
        Analysis.from_json(TEXT, {**a.to_json(), "v": 999})


def test_store_caches_by_content_and_model(tmp_path: Path, analyser: Analyser) -> None:
    path = tmp_path / "analysis" / "c.sqlite"
    store = AnalysisStore(path, analyser)
    first = store.get(TEXT)
    assert store.ensure([TEXT, "Kang Ning spoke."]) == 1  # only the new text is analysed
    store.close()
    again = AnalysisStore(path, analyser)
    calls: list[int] = []
    real = analyser.analyse_many

    def counting(texts):  # type: ignore[no-untyped-def]
        calls.append(len(texts))
        return real(texts)

    again.analyser = type("A", (), {"analyse_many": staticmethod(counting), "fingerprint": analyser.fingerprint})()
    assert again.get(TEXT) == first and not calls  # read back from the file, not parsed again
    with sqlite3.connect(path) as db:
        db.execute("UPDATE analysis SET model = 'other'")
    fresh = AnalysisStore(path, again.analyser)  # type: ignore[arg-type]
    assert fresh.get(TEXT) == first and calls == [1]  # another pipeline's rows are not reused
    assert fresh.prune([TEXT]) >= 1
    rows = sqlite3.connect(path).execute("SELECT key FROM analysis").fetchall()
    assert rows == [(text_key(TEXT),)]


def test_unwritable_store_still_analyses(tmp_path: Path, analyser: Analyser) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = AnalysisStore(blocker / "sub" / "c.sqlite", analyser)
    assert store.get("Kang Ning spoke.").tokens


def test_fingerprint_is_stable_and_names_the_pipeline(analyser: Analyser) -> None:
    info = analyser.info
    assert info["version"] == "3.8.0" and "core_web_sm" in info["name"]
    assert len(info["fingerprint"]) == 16 and Analyser().fingerprint == info["fingerprint"]


def test_unknown_pipeline_says_what_to_do() -> None:
    from postqa.core.errors import ModelNotAvailableError

    with pytest.raises(ModelNotAvailableError, match=r"\[nlp\] model"):
        Analyser("no_such_pipeline_xyz").analyse("x")


@pytest.mark.parametrize("sentence,name,role", [
    ("President Xi Jinping spoke on Monday.", "Xi Jinping", "President"),
    ("Kang Ning, Vice President of China Post Group, attended.", "Kang Ning", "Vice President of China Post Group"),
])
def test_people_and_roles(analyser: Analyser, sentence: str, name: str, role: str) -> None:
    a = analyser.analyse(sentence)
    found = people_in(a, a.sents[0])
    assert [a.span_text(p) for p in found] == [name]
    r = role_of(a, found[0], set(range(found[0].start, found[0].end)))
    assert r is not None and a.span_text(r) == role


def test_the_pipeline_loads_with_the_same_tokenizer_vocabulary_and_analyses_as_spacy_load() -> None:
    """postqa's load starts from an empty tokenizer that the pipeline's file then fills (nlp.pipeline): the
    result must be the pipeline spaCy's own load gives (both fresh: analysing text grows the vocabulary)."""
    from postqa.nlp.analysis import from_doc
    from postqa.nlp.pipeline import DEFAULT_MODEL, TOKENIZER_FROM_DISK, _fingerprint, import_spacy, load_pipeline

    ours = load_pipeline(DEFAULT_MODEL)
    assert ours.config["nlp"]["tokenizer"]["@tokenizers"] == TOKENIZER_FROM_DISK  # the lean path was taken
    plain = import_spacy().load(DEFAULT_MODEL)
    assert ours.tokenizer.to_bytes() == plain.tokenizer.to_bytes()
    assert ours.vocab.to_bytes() == plain.vocab.to_bytes()

    def lexemes(nlp: object) -> list[tuple[object, ...]]:
        return sorted((lex.orth_, lex.norm_, int(lex.flags), lex.prefix_, lex.suffix_, lex.shape_, lex.is_stop)
                      for lex in nlp.vocab)  # type: ignore[attr-defined]

    assert lexemes(ours) == lexemes(plain)
    assert _fingerprint(ours) == _fingerprint(plain)  # stored analyses stay valid
    texts = [TEXT, "Who presided over the Xinhua meeting?", "U.S. e-commerce sales rose 3.5% in Q1 2020 (y/y)!",
             "Mr. Kang didn't say; see https://example.com/a?b=1 or mail info@example.com at 10:30 a.m."]
    assert [from_doc(d) for d in ours.pipe(texts)] == [from_doc(d) for d in plain.pipe(texts)]
