"""The word-vector table: filled at ingest, read before the encoder, tied to one model, safe to interrupt; and the
answerer's one encoder call for sentences and unknown words gives the same scores as separate calls."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from postqa.answering.answer import ExtractiveAnswerer
from postqa.answering.similarity import WordSimilarity
from postqa.core.config import AnswerSettings, Settings
from postqa.core.types import Chunk, Hit
from postqa.index import indexer as indexer_mod
from postqa.index.embedding import HashEmbedder
from postqa.index.wordvectors import WordVectors, backfill, vocabulary, words_path
from postqa.nlp.pipeline import Analyser
from postqa.service.pipeline import build_assistant, ingest, open_words

TEXT = ("Zhang Yongping, Head of the General Manager's Office of Xinhua News Agency, presided over the meeting. "
        "On the morning of September 10, the two groups jointly held a teleconference in Beijing. "
        "Executives of postal branches from 31 provinces attended the teleconference.")


class Counting:
    """A hash encoder that records what it was asked to embed."""

    def __init__(self, dim: int = 64) -> None:
        self.emb = HashEmbedder(dim=dim)
        self.calls: list[list[str]] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self.emb.embed_documents(list(texts))

    @property
    def texts(self) -> list[str]:
        return [t for call in self.calls for t in call]


def _table(tmp_path: Path, enc: Counting, model: str = "hash-64@abc") -> WordVectors:
    return WordVectors(tmp_path / "words.sqlite", model, enc, 64)


def test_stored_words_are_read_instead_of_embedded_and_equal_the_encoders(tmp_path: Path) -> None:
    enc = Counting()
    table = _table(tmp_path, enc)
    assert table.ensure(["chair", "preside", "meeting"]) == 3
    assert table.ensure(["chair", "bank"]) == 1  # only the new word
    enc.calls.clear()
    sim = WordSimilarity(enc, table)
    plain = WordSimilarity(Counting())
    m = sim.matrix(["chair", "zebra"], ["preside", "meeting", "bank"])
    assert enc.texts == ["zebra"]  # the one word the table lacks
    assert np.allclose(m, plain.matrix(["chair", "zebra"], ["preside", "meeting", "bank"]), atol=1e-6)
    assert "zebra" in _table(tmp_path, Counting()).lookup(["zebra"])  # written through for the next process


def test_another_model_never_reads_the_table(tmp_path: Path) -> None:
    _table(tmp_path, Counting()).ensure(["chair"])
    other = _table(tmp_path, Counting(), model="hash-64@other")
    assert other.lookup(["chair"]) == {}
    assert other.ensure(["chair"]) == 1
    assert other.prune({"chair"}) == 1 and other.count() == 1  # the first model's row goes, its own stays


def test_a_row_of_another_dimension_is_embedded_again(tmp_path: Path) -> None:
    _table(tmp_path, Counting()).ensure(["chair"])
    wide = WordVectors(tmp_path / "words.sqlite", "hash-64@abc", Counting(dim=128), 128)
    assert wide.lookup(["chair"]) == {}


def test_unwritable_table_only_costs_time(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    enc = Counting()
    table = WordVectors(blocker / "words.sqlite", "m", enc, 64)
    assert table.lookup(["a"]) == {} and table.ensure(["a"]) == 0 and not table.is_built()
    assert WordSimilarity(enc, table)("chair", "chair") == 1.0


def test_backfill_is_marked_only_when_complete(tmp_path: Path, analyser: Analyser) -> None:
    enc = Counting()
    table = _table(tmp_path, enc)
    texts = [TEXT, "The bank chaired a summit in Shanghai."]

    def failing(batch: Sequence[str]) -> list:  # type: ignore[type-arg]
        if batch == texts[1:]:
            raise KeyboardInterrupt("simulated kill")
        return analyser.analyse_many(list(batch))

    with pytest.raises(KeyboardInterrupt):
        backfill(table, texts, failing, page=1)
    assert not table.is_built() and table.count() > 0  # the first page's words stay, consistent
    first = table.count()
    assert backfill(table, texts, analyser.analyse_many, page=1) > 0
    assert table.is_built() and table.count() > first
    assert backfill(table, texts, analyser.analyse_many) == 0  # built: nothing to do
    assert vocabulary(analyser.analyse(texts[1])) <= set(table.lookup(sorted(vocabulary(analyser.analyse(texts[1])))))


def test_one_encoder_call_gives_the_same_ranking_as_separate_calls(analyser: Analyser) -> None:
    chunk = Chunk("a#0", "a", 0, TEXT, 0, len(TEXT), "Teleconference", date(2020, 9, 11), "s")
    hits = [Hit(chunk, 1.0, dense_score=0.5, dense_rank=0, keyword_rank=0)]
    question = "Who chaired the conference call?"

    def ranked(enc: Counting) -> list[tuple[str, float]]:
        ans = ExtractiveAnswerer(enc, lambda t: 1.0, AnswerSettings(min_confidence=0.0), analyser=analyser)
        return [(s.text, round(s.score, 6)) for s in ans.rank_sentences(question, hits)]

    batched = Counting()
    got = ranked(batched)
    separate = Counting()
    ans = ExtractiveAnswerer(separate, lambda t: 1.0, AnswerSettings(min_confidence=0.0), analyser=analyser)
    ans.ranker.embed_with_words = lambda texts, words: (ans.words.vectors(list(words)),  # type: ignore[method-assign]
                                                        separate(texts))[1]
    assert [(s.text, round(s.score, 6)) for s in ans.rank_sentences(question, hits)] == got
    sentence_calls = [c for c in batched.calls if any(" " in t and t != question for t in c)]
    assert len(sentence_calls) == 1 and "chair" in sentence_calls[0]  # the words rode along in that call


def test_ingest_fills_the_table_and_an_older_index_is_backfilled(hash_settings: Settings,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    off = hash_settings.with_overrides(**{"ingest.word_vectors": False})
    ingest(off)
    assistant = build_assistant(off)
    path = words_path(off.paths.vectorstore, assistant.index.name)
    assert assistant.ask("Who presided over the Xinhua meeting?").citations
    assert not open_words(off, assistant.index.name, HashEmbedder(dim=256)).is_built()
    report = ingest(hash_settings)  # nothing changed in the corpus: the table is backfilled once
    assert report.chunks_embedded == 0 and report.words_embedded > 0 and path.exists()
    table = open_words(hash_settings, assistant.index.name, HashEmbedder(dim=256))
    assert table.is_built() and "presid" in table.lookup(["presid"])
    assert ingest(hash_settings).words_embedded == 0
    # a changed article's new words come with it
    p = next(hash_settings.paths.corpus.iterdir())
    p.write_text(p.read_text(encoding="utf-8") + "\n\nThe quokka delegation applauded.\n", encoding="utf-8")
    assert ingest(hash_settings).words_embedded > 0 and "quokka" in table.lookup(["quokka"])
    monkeypatch.setattr(indexer_mod, "backfill", lambda *a, **k: pytest.fail("built tables are not re-read"))
    ingest(hash_settings)


@pytest.mark.parametrize("lengths,size", [([3, 40, 4, 38, 3, 41, 39], 32), ([10] * 70, 32), ([5, 200, 7], 2), ([], 4)])
def test_length_batches_cover_every_row_once_and_do_not_pad_short_texts_to_long_ones(lengths: list[int],
                                                                                      size: int) -> None:
    from postqa.index.embedding.onnx_runtime import length_batches

    batches = length_batches(lengths, size)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert 1 <= len(b) <= size
        assert min(lengths[i] for i in b) >= 0.75 * max(lengths[i] for i in b)
    if lengths == [3, 40, 4, 38, 3, 41, 39]:
        assert sorted(map(sorted, batches)) == [[0, 2, 4], [1, 3, 5, 6]]  # the words apart from the sentences
