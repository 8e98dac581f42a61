"""Settings: defaults < postqa.toml < POSTQA_* environment variables < explicit overrides, validated once."""

from __future__ import annotations

import os
import tomllib
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

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
    provider: str = "sentence-transformers"  # a key of postqa.index.embedding.EMBEDDERS
    model: str = "all-MiniLM-L6-v2"
    batch_size: int = Field(32, ge=1, le=4096)
    write_batch: int = Field(1024, ge=1, le=100_000)  # chunks embedded and written per step while ingesting
    normalize: bool = True
    device: str = "cpu"
    offline: bool = True  # sets HF_HUB_OFFLINE=1 unless the user turns it off
    threads: int = Field(0, ge=0, le=256)  # torch threads; 0 = all cores while ingesting, 1 while serving
    dim: int = Field(384, ge=8, le=8192)  # only for provider = "hash"


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


class GeneratorSettings(_Section):
    provider: Literal["none", "openai-compatible", "llama-cpp", "fake"] = "none"
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


class Settings(_Section):
    paths: PathsSettings = PathsSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    store: StoreSettings = StoreSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    answer: AnswerSettings = AnswerSettings()
    generator: GeneratorSettings = GeneratorSettings()
    server: ServerSettings = ServerSettings()

    def with_overrides(self, **dotted: Any) -> Settings:
        """A copy with ``{"embedding.model": "x"}``-style overrides, validated like the rest."""
        data = self.model_dump()
        for key, value in dotted.items():
            _set_dotted(data, key.split("."), value, key)
        return _validate(data, source="override")


def _set_dotted(data: dict[str, Any], parts: list[str], value: Any, key: str) -> None:
    node = data
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            raise ConfigError(f"unknown config key {key!r}: {part!r} is not a section; sections are "
                              f"{', '.join(sorted(Settings.model_fields))}")
        node = node[part]
    node[parts[-1]] = value


def _format_validation(err: ValidationError, source: str) -> str:
    lines = [f"invalid configuration ({source}):"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        value = e.get("input")
        if e["type"] == "extra_forbidden":
            lines.append(f"  - unknown key {key!r}; see docs/config.md for the keys that exist")
            continue
        allowed = ""
        ctx = e.get("ctx") or {}
        if "expected" in ctx:
            allowed = f"; allowed: {ctx['expected']}"
        lines.append(f"  - {key} = {value!r}: {e['msg']}{allowed}")
    lines.append("Fix the value in the config file or the POSTQA_* variable that set it.")
    return "\n".join(lines)


def _validate(data: dict[str, Any], source: str) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_validation(err, source)) from None


def _parse_env_value(raw: str) -> Any:
    """Env values are TOML literals when they parse as one (numbers, booleans, lists), else strings."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV or "__" not in name:
            continue
        parts = name[len(ENV_PREFIX):].lower().split("__")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = _parse_env_value(raw)
    return out


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


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


def load_settings(
    config_file: str | Path | None = None,
    environ: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Read the config file, apply POSTQA_* variables, then explicit overrides; validate once.

    Relative paths in ``[paths]`` are resolved against the config file's folder, so that the CLI
    works from any working directory.
    """
    env = dict(os.environ if environ is None else environ)
    path = find_config_file(config_file, env)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ConfigError(f"config file {str(path)!r} is not valid TOML: {err}") from None
    data = _merge(data, _env_overrides(env))
    settings = _validate(data, source=str(path) if path else "defaults and environment")
    if overrides:
        settings = settings.with_overrides(**overrides)
    base = path.parent.resolve() if path is not None else Path.cwd()
    paths = settings.paths
    resolved = {
        "paths.corpus": paths.corpus if paths.corpus.is_absolute() else base / paths.corpus,
        "paths.vectorstore": paths.vectorstore if paths.vectorstore.is_absolute() else base / paths.vectorstore,
    }
    return settings.with_overrides(**resolved)
