"""Config loading: precedence of the sources, env values parsed by the field type, registries not Literals."""

from __future__ import annotations

from pathlib import Path

import pytest

from postqa.answering.generate import GENERATORS, FakeGenerator, create_generator, register_generator
from postqa.core.config import GeneratorSettings, Settings, load_settings
from postqa.core.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_precedence_overrides_over_env_over_file_over_defaults(tmp_path: Path) -> None:
    cfg = write(tmp_path / "postqa.toml", "[retrieval]\ntop_k = 11\ncandidates = 40\n[store]\nport = 9000\n")
    env = {"POSTQA_RETRIEVAL__TOP_K": "12", "POSTQA_RETRIEVAL__CANDIDATES": "41"}
    s = load_settings(cfg, environ=env, overrides={"retrieval.top_k": 13})
    assert (s.retrieval.top_k, s.retrieval.candidates, s.store.port, s.retrieval.rrf_k) == (13, 41, 9000, 60)
    assert load_settings(cfg, environ={}).retrieval.top_k == 11
    assert load_settings(cfg, environ=env).retrieval.top_k == 12


def test_env_values_are_strings_parsed_by_the_field_type(tmp_path: Path) -> None:
    env = {"POSTQA_ANSWER__REFERENCE_DATE": "2022-06-16", "POSTQA_RETRIEVAL__HYBRID": "false",
           "POSTQA_ANSWER__MIN_CONFIDENCE": "0.5", "POSTQA_SERVER__AUTH": '["alice:secret"]',
           "POSTQA_EMBEDDING__MODEL": "123", "POSTQA_CONFIG": "", "POSTQA_CRASH_AT": "ignored"}
    s = load_settings(write(tmp_path / "empty.toml", ""), environ=env)
    assert s.answer.reference_date == "2022-06-16" and s.retrieval.hybrid is False
    assert s.answer.min_confidence == 0.5 and s.server.auth == ["alice:secret"] and s.embedding.model == "123"


def test_env_errors_name_the_variable_value_and_what_is_allowed(tmp_path: Path) -> None:
    cfg = write(tmp_path / "empty.toml", "")
    with pytest.raises(ConfigError, match=r"store.mode = cloud \(from POSTQA_STORE__MODE\).*'embedded' or 'server'"):
        load_settings(cfg, environ={"POSTQA_STORE__MODE": "cloud"})
    with pytest.raises(ConfigError, match="unknown key 'store.colour'"):
        load_settings(cfg, environ={"POSTQA_STORE__COLOUR": "red"})
    with pytest.raises(ConfigError, match="written as JSON"):
        load_settings(cfg, environ={"POSTQA_SERVER__AUTH": "alice:secret"})
    with pytest.raises(ConfigError, match="expected \"newest\", \"today\" or a date"):
        load_settings(cfg, environ={"POSTQA_ANSWER__REFERENCE_DATE": "soon"})


def test_settings_alone_are_the_defaults_whatever_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTQA_RETRIEVAL__TOP_K", "3")
    assert Settings().retrieval.top_k == 5
    assert Settings().with_overrides(**{"retrieval.top_k": 4}).retrieval.top_k == 4


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    cfg = write(tmp_path / "postqa.toml", '[paths]\ncorpus = "news"\n')
    s = load_settings(cfg, environ={"POSTQA_PATHS__VECTORSTORE": "vs"})
    assert s.paths.corpus == tmp_path.resolve() / "news" and s.paths.vectorstore == tmp_path.resolve() / "vs"


def test_a_registered_generator_is_accepted_and_unknown_names_list_the_registry(tmp_path: Path) -> None:
    cfg = write(tmp_path / "postqa.toml", '[generator]\nprovider = "house-test"\n')
    settings = load_settings(cfg, environ={})  # not refused by a Literal at load time
    with pytest.raises(ConfigError, match="generator.provider = 'house-test'.*choose one of: fake, llama-cpp"):
        create_generator(settings.generator)
    register_generator("house-test", lambda s: FakeGenerator(name="house"))
    try:
        assert create_generator(GeneratorSettings(provider="house-test")) is not None
    finally:
        GENERATORS.pop("house-test")
