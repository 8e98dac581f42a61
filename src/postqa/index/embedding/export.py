"""Export a sentence-transformers model to ONNX once, and keep the export only if it reproduces the model.

    python -m postqa.index.onnx_export                       # the configured model (default all-MiniLM-L6-v2)
    python -m postqa.index.onnx_export --quantize int8       # plus a dynamically quantized copy

The transformer is exported with ``torch.onnx.export(dynamo=False, opset 17)`` through a wrapper that passes
its inputs by keyword (transformers 5 reorders ``forward``'s positional arguments); the tokenizer is the one
sentence-transformers itself runs; pooling, truncation and lower-casing come from the model's own config.
Before the folder is moved into place, the export embeds a fixed probe set and is compared with
sentence-transformers: a min cosine below 0.9999 refuses the export (nothing is written). An int8 copy is
not held to that bar (its vectors differ by design and it gets its own index); its agreement with fp32 is
recorded in its ``postqa_onnx.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from postqa.core.atomic import atomic_write_text, place_folder
from postqa.core.config import EmbeddingSettings
from postqa.core.errors import ModelNotAvailableError
from postqa.index.embedding.onnx_runtime import (
    EXPORT_FORMAT,
    EXPORT_META,
    OnnxEmbedder,
    export_name,
    find_export,
    source_of,
    write_base,
)

MIN_COSINE = 0.9999
INT8_SCHEME = "onnxruntime dynamic QInt8 weights, per channel"  # part of the int8 fingerprint
OPSET = 17
_SUPPORTED_MODULES = ("Transformer", "Pooling", "Normalize")

# Fixed probe texts: short and long (past the 256-token window, so truncation is compared too), empty,
# numbers, punctuation, non-ASCII, mixed case.
PROBE_TEXTS: tuple[str, ...] = (
    "",
    "Hello",
    "Who presided over the meeting?",
    "The company reported a 12.5% rise in quarterly profit to $3.4 billion on Tuesday.",
    "Zhang Yongping, Head of the General Manager's Office, presided over the meeting in Beijing.",
    "Central bank officials said interest rates would stay unchanged until inflation eased.",
    "  Leading and trailing   spaces, tabs\tand\nnew lines.  ",
    "Café, naïve, Zürich, São Paulo — “quoted” text… and 北京 / 邮政.",
    "ALL CAPS HEADLINE: SHARES FALL AS OIL PRICES JUMP",
    "Q3 2019: revenue 1,234,567; EBITDA -4.2%; ratio 3:1; e-mail info@example.org.",
    " ".join(f"Sentence {i} about parcels, postal savings, logistics and rural delivery networks." for i in range(60)),
    "The minister said the budget deficit would narrow. " * 40,
)


class ExportRefusedError(ModelNotAvailableError):
    """The ONNX export does not reproduce the model's sentence-transformers vectors (or cannot be made)."""


def check_reproduces(reference: np.ndarray, candidate: np.ndarray, texts: Sequence[str], model: str,
                     min_cosine: float = MIN_COSINE) -> tuple[float, float]:
    """(min, mean) cosine between the two embeddings of each probe text; raise ExportRefusedError when the
    minimum is below ``min_cosine``, naming the worst text."""
    if reference.shape != candidate.shape:
        raise ExportRefusedError(
            f"the ONNX export of {model} gives vectors of shape {candidate.shape}, sentence-transformers "
            f"{reference.shape}; the export was not kept. Keep [embedding] provider = \"sentence-transformers\".")
    num = (reference * candidate).sum(axis=1)
    den = np.linalg.norm(reference, axis=1) * np.linalg.norm(candidate, axis=1)
    cos = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    worst = int(np.argmin(cos))
    if float(cos[worst]) < min_cosine:
        raise ExportRefusedError(
            f"the ONNX export of {model} does not reproduce its sentence-transformers vectors: cosine "
            f"{float(cos[worst]):.6f} on probe text {worst} ({texts[worst][:60]!r}), expected at least "
            f"{min_cosine} on every probe text. The export was not kept; keep [embedding] provider = "
            "\"sentence-transformers\" for this model (or \"auto\", which falls back to it).")
    return float(cos.min()), float(cos.mean())


def _architecture(st_model: Any, model: str) -> dict[str, Any]:
    """Pooling, window and casing of a sentence-transformers model; refuse modules the runtime cannot run."""
    kinds = [type(m).__name__ for m in st_model]
    if not kinds or kinds[0] != "Transformer" or any(k not in _SUPPORTED_MODULES for k in kinds):
        raise ExportRefusedError(
            f"{model} is built of the modules {kinds}; the ONNX runtime runs Transformer, Pooling and "
            "Normalize only. Keep [embedding] provider = \"sentence-transformers\" for this model.")
    pooling = "mean"
    if len(kinds) > 1 and kinds[1] == "Pooling":
        module = st_model[1]
        mode = getattr(module, "pooling_mode", None)  # sentence-transformers 6; earlier: a method
        pooling = str(mode if mode is not None else module.get_pooling_mode_str())
    if pooling not in ("mean", "cls", "max"):
        raise ExportRefusedError(
            f"{model} pools with {pooling!r}; the ONNX runtime pools with mean, cls or max. Keep "
            "[embedding] provider = \"sentence-transformers\" for this model.")
    return {"pooling": pooling, "normalize_module": "Normalize" in kinds,
            "max_seq_length": int(st_model.max_seq_length or 256),
            "do_lower_case": bool(getattr(st_model[0], "do_lower_case", False))}


def _export_transformer(st_model: Any, path: Path) -> list[str]:
    """Write the transformer as ONNX; its inputs by keyword (the positional order changed in transformers 5)."""
    import torch

    auto_model = st_model[0].auto_model.eval()
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids")
             if n in st_model.tokenizer.model_input_names]

    class _KeywordInputs(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = auto_model

        def forward(self, *args: Any) -> Any:
            return self.inner(**dict(zip(names, args, strict=True))).last_hidden_state

    sample = st_model.tokenizer(["a probe", "a longer probe text"], padding=True, return_tensors="pt")
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes on constant branches; the probe check is the judge
        torch.onnx.export(_KeywordInputs(), tuple(sample[n] for n in names), str(path), input_names=names,
                          output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=OPSET,
                          dynamo=False)
    return names


def _write_meta(folder: Path, meta: dict[str, Any]) -> None:
    atomic_write_text(folder / EXPORT_META, json.dumps(meta, indent=2, sort_keys=True) + "\n")


def _place(tmp: Path, dest: Path) -> Path:
    tmp.chmod(0o755)  # mkdtemp makes it private; the export is read by whoever serves
    if dest.exists():
        shutil.rmtree(dest)
    place_folder(tmp, dest)  # model, tokenizer and metadata fsynced before the folder appears
    return dest


def export_fp32(settings: EmbeddingSettings, base: Path | None = None, pooling: str | None = None) -> Path:
    """Export the configured model (fp32) into ``base`` (default models/onnx) and check it; return its folder.

    ``pooling`` overrides the model's own pooling (only to show the refusal path: it must then fail)."""
    from postqa.index.embedding.sbert import SentenceTransformerEmbedder

    target, canonical, fingerprint = source_of(settings)
    st = SentenceTransformerEmbedder(settings.model_copy(update={"quantize": "none"}))
    arch = _architecture(st.model, canonical)
    if pooling is not None:
        arch["pooling"] = pooling
    base = base or write_base()
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=base))
    try:
        t0 = time.perf_counter()
        names = _export_transformer(st.model, tmp / "model.onnx")
        st.model.tokenizer.backend_tokenizer.save(str(tmp / "tokenizer.json"))
        meta = {"format": EXPORT_FORMAT, "name": canonical, "fingerprint": fingerprint,
                "source_model": canonical, "source_path": target, "source_fingerprint": fingerprint,
                "dim": st.dim, "input_names": names, "pad_id": int(st.model.tokenizer.pad_token_id or 0),
                "quantize": "none", "opset": OPSET, **arch}
        _write_meta(tmp, meta)
        onnx_emb = OnnxEmbedder(settings, folder=tmp)
        texts = list(PROBE_TEXTS)
        lo, mean = check_reproduces(st.embed_documents(texts), onnx_emb.embed_documents(texts), texts, canonical)
        meta["probe"] = {"texts": len(texts), "min_cosine": lo, "mean_cosine": mean, "threshold": MIN_COSINE,
                         "seconds": round(time.perf_counter() - t0, 1)}
        _write_meta(tmp, meta)
        return _place(tmp, base / export_name(canonical, fingerprint))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def export_int8(settings: EmbeddingSettings, fp32: Path, base: Path | None = None) -> Path:
    """A dynamically quantized (QInt8 weights) copy of a fp32 export: its own name and fingerprint."""
    import hashlib

    from onnxruntime.quantization import QuantType, quantize_dynamic

    meta = json.loads((fp32 / EXPORT_META).read_text(encoding="utf-8"))
    base = base or fp32.parent
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=base))
    try:
        # per-channel weight scales: mean probe cosine to fp32 0.991 here, against 0.945 with one scale per
        # tensor (the naive default), at the same speed
        logging.getLogger().setLevel(logging.ERROR)  # quantize_dynamic logs a pre-processing tip at WARNING
        quantize_dynamic(str(fp32 / "model.onnx"), str(tmp / "model.onnx"), weight_type=QuantType.QInt8,
                         per_channel=True)
        shutil.copy2(fp32 / "tokenizer.json", tmp / "tokenizer.json")
        meta.update(quantize="int8", quantization=INT8_SCHEME, name=f"{meta['source_model']}-int8",
                    fingerprint=hashlib.sha1(f"{meta['source_fingerprint']}:{INT8_SCHEME}".encode()).hexdigest()[:16])
        meta.pop("probe", None)
        _write_meta(tmp, meta)
        texts = list(PROBE_TEXTS)
        ref = OnnxEmbedder(settings, folder=fp32).embed_documents(texts)
        got = OnnxEmbedder(settings, folder=tmp).embed_documents(texts)
        lo, mean = check_reproduces(ref, got, texts, meta["name"], min_cosine=-1.0)
        meta["probe_vs_fp32"] = {"texts": len(texts), "min_cosine": lo, "mean_cosine": mean}
        _write_meta(tmp, meta)
        return _place(tmp, base / export_name(meta["source_model"], meta["source_fingerprint"], "int8"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def export_model(settings: EmbeddingSettings, base: Path | None = None, force: bool = False) -> Path:
    """The export for ``settings`` (model and quantization), made now if it does not exist yet."""
    fp32_settings = settings.model_copy(update={"quantize": "none"})
    fp32 = None if force and settings.quantize == "none" else find_export(fp32_settings)
    if fp32 is None:
        print(f"postqa: exporting {settings.model} to ONNX once (about a minute) ...", file=sys.stderr)
        fp32 = export_fp32(fp32_settings, base)
    if settings.quantize == "none":
        return fp32
    found = None if force else find_export(settings)
    return found or export_int8(settings, fp32, base)


def main(argv: Sequence[str] | None = None) -> int:
    from postqa.core.config import load_settings
    from postqa.core.errors import PostqaError

    parser = argparse.ArgumentParser(prog="python -m postqa.index.onnx_export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", metavar="FILE", help="config file (default: ./postqa.toml)")
    parser.add_argument("--model", help="override [embedding] model")
    parser.add_argument("--quantize", choices=["none", "int8"], help="override [embedding] quantize")
    parser.add_argument("--models-dir", type=Path, help="write under DIR/onnx (default: models/onnx)")
    parser.add_argument("--force", action="store_true", help="export again even if an export exists")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in (("embedding.model", args.model), ("embedding.quantize", args.quantize)) if v}
    try:
        if args.models_dir:
            os.environ["POSTQA_MODELS_DIR"] = str(args.models_dir)  # written there, and found there
        settings = load_settings(args.config, overrides=overrides).embedding
        folder = export_model(settings, force=args.force)
    except PostqaError as err:
        print(f"postqa: error: {err}", file=sys.stderr)
        return 2
    meta = json.loads((folder / EXPORT_META).read_text(encoding="utf-8"))
    probe = meta.get("probe") or meta.get("probe_vs_fp32") or {}
    print(f"{folder}: {meta['name']} ({meta['dim']}d, {meta['pooling']} pooling, weights {meta['fingerprint']}); "
          f"probe min cosine {probe.get('min_cosine', float('nan')):.7f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
