"""Shared helpers for the postqa benchmarks: machine description, corpus subsets, settings, timing, tables."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = (REPO / ".." / "shared" / "data" / "corpora").resolve()
DEFAULT_RESULTS = REPO / "benchmarks" / "results"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def rss_mb(pid: int | None = None) -> dict[str, float]:
    """Current (VmRSS) and peak (VmHWM) resident memory of a process in MB."""
    out = {}
    for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, val = line.split(":")
            out["rss_mb" if key == "VmRSS" else "peak_rss_mb"] = round(int(val.split()[0]) / 1024, 1)
    return out


def dir_mb(path: Path) -> float:
    total = sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
    return round(total / 1e6, 1)


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.strip()
    info: dict[str, Any] = {"cpu": cpu, "nproc": os.cpu_count(), "free_h": mem, "python": platform.python_version(),
                            "platform": platform.platform(), "loadavg_at_start": loadavg()}
    try:
        from importlib.metadata import version

        for pkg in ("torch", "sentence-transformers", "transformers", "chromadb", "llama-index-core",
                    "llama-index-vector-stores-chroma", "numpy", "scipy"):
            try:
                info[pkg] = version(pkg)
            except Exception:  # noqa: BLE001
                info[pkg] = None
    except ImportError:
        pass
    return info


def model_path() -> str:
    from postqa.index.embedding import resolve_model

    return resolve_model("all-MiniLM-L6-v2", True)[0]


def subset_jsonl(src: Path, limit: int | None, workdir: Path) -> Path:
    """The first ``limit`` lines of a jsonl corpus, written under ``workdir`` (never into the repo)."""
    if not limit:
        return src
    workdir.mkdir(parents=True, exist_ok=True)
    dst = workdir / f"{src.stem}-{limit}.jsonl"
    with src.open(encoding="utf-8") as fin, dst.open("w", encoding="utf-8") as fout:
        for i, line in enumerate(fin):
            if i >= limit:
                break
            fout.write(line)
    return dst


def settings_for(vectorstore: Path, threads: int = 0, mode: str = "embedded", port: int = 8000,
                 batch_size: int = 32) -> Any:
    from postqa.core.config import Settings

    return Settings().with_overrides(**{
        "paths.vectorstore": str(vectorstore), "paths.corpus": str(vectorstore / "_none"),
        "embedding.threads": threads, "embedding.batch_size": batch_size,
        "store.mode": mode, "store.port": port,
    })


def pct(values: Sequence[float], p: float) -> float:
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50_ms": round(pct(ms, 50), 1), "p95_ms": round(pct(ms, 95), 1),
            "mean_ms": round(statistics.fmean(ms), 1) if ms else float("nan"), "max_ms": round(max(ms), 1)}


class Timer:
    def __enter__(self) -> Timer:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0


def table(rows: Sequence[dict[str, Any]], cols: Sequence[str], title: str = "") -> str:
    """A GitHub-markdown table of ``rows`` restricted to ``cols``."""
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
        if isinstance(v, int):
            return f"{v:,}"
        return "" if v is None else str(v)

    lines = [f"### {title}", ""] if title else []
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("|" + "|".join("---" for _ in cols) + "|")
    for r in rows:
        lines.append("| " + " | ".join(fmt(r.get(c)) for c in cols) + " |")
    return "\n".join(lines)


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str))
    print(f"\nwrote {path}", file=sys.stderr)


def git_state() -> dict[str, Any]:
    """The commit the benchmark ran on and which tracked files had uncommitted changes (a shared tree)."""
    def run(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True).stdout.strip()

    return {"commit": run("rev-parse", "--short", "HEAD"),
            "modified": run("diff", "--name-only").splitlines()}
