"""Cold-start benchmark: `postqa ask` from process start to printed answer, and `postqa serve` from process
start to the web chat's first answer, with the sentence-transformers provider (before) beside the ONNX
provider (after), alternated in the same run. Also `postqa status`, and which imports the ONNX path pays.

    nice -n 10 .venv/bin/python benchmarks/bench_start.py --runs 5 --serve-runs 3
    # this tree against another checkout (CPU seconds from the same run; ONNX only):
    nice -n 10 .venv/bin/python benchmarks/bench_start.py --runs 5 --serve-runs 3 --providers onnx \
        --versus /path/to/other/checkout/src

The store is the bundled corpus/ ingested once under --workdir (never the repo); the ONNX export is the one
`scripts/setup.sh` made under models/ (made here if missing). Every process is a fresh interpreter, so each
run pays imports, model load, store open and the first question, as a user at a shell does.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_RESULTS, REPO, git_state, loadavg, machine, table, write_json  # noqa: E402

QUESTION = "Who presided over the Xinhua meeting?"
PROVIDERS = ("sentence-transformers", "onnx")
HEAVY = ("torch", "sentence_transformers", "transformers", "llama_index", "spacy", "gradio", "onnxruntime",
         "tokenizers", "chromadb", "scipy")


def _env(provider: str, src: Path = REPO / "src") -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(src), "POSTQA_EMBEDDING__PROVIDER": provider,
            "POSTQA_MODELS_DIR": str(REPO / "models"),  # one export for every tree compared
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
            "HF_HUB_DISABLE_TELEMETRY": "1", "TOKENIZERS_PARALLELISM": "false"}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "postqa.interfaces.cli", *args]


def prepare(workdir: Path, corpus: Path) -> Path:
    """A config over a store of ``corpus`` built once with sentence-transformers; the ONNX export exists."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "postqa.toml"
    config.write_text(f'[paths]\ncorpus = "{corpus}"\nvectorstore = "{workdir / "vectorstore"}"\n',
                      encoding="utf-8")
    subprocess.run(_cli("ingest", "--config", str(config)), env=_env("sentence-transformers"), check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "postqa.index.onnx_export"], env=_env("onnx"), check=True,
                   stdout=subprocess.DEVNULL)
    return config


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_command(args: list[str], provider: str, timeout: float = 300,
                 src: Path = REPO / "src") -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, stdout) of one fresh process: on a shared machine the CPU seconds are what
    an idle machine's wall time would be close to (the path is single-threaded apart from the encoder)."""
    c0, t0 = _children_cpu(), time.perf_counter()
    out = subprocess.run(args, env=_env(provider, src), capture_output=True, text=True, timeout=timeout,
                         check=False)
    seconds, cpu = time.perf_counter() - t0, _children_cpu() - c0
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({provider}): {out.stderr[-1000:]}")
    return seconds, cpu, out.stdout


def imports_of_ask(config: Path, provider: str) -> dict[str, Any]:
    """Which heavy modules one `ask` loads, and the top-level imports that cost most (python -X importtime)."""
    code = ("import sys\nfrom postqa.interfaces.cli import main\n"
            f"main(['ask', '--config', {str(config)!r}, {QUESTION!r}])\n"
            f"print('LOADED', ','.join(m for m in {HEAVY!r} if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=_env(provider),
                         capture_output=True, text=True, timeout=300, check=True)
    loaded = next((ln.split(" ", 1)[1] for ln in out.stdout.splitlines() if ln.startswith("LOADED")), "")
    top: dict[str, float] = {}
    for line in out.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if m and len(m.group(2)) <= 1:  # top-level imports only
            root = m.group(3).split(".")[0]
            top[root] = top.get(root, 0.0) + int(m.group(1)) / 1e6
    worst = sorted(top.items(), key=lambda kv: -kv[1])[:8]
    return {"provider": provider, "heavy modules loaded": loaded or "none",
            "largest imports (s)": ", ".join(f"{k} {v:.2f}" for k, v in worst)}


def time_serve(config: Path, provider: str, port: int, timeout: float = 180,
               src: Path = REPO / "src") -> tuple[float, float]:
    """(wall, server CPU) seconds from `postqa serve` process start until the chat has answered one question
    over HTTP."""
    from gradio_client import Client

    t0 = time.perf_counter()
    proc = subprocess.Popen(_cli("serve", "--config", str(config), "--port", str(port)), env=_env(provider, src),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - t0 < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"postqa serve exited with {proc.returncode} ({provider})")
            try:
                reply = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(QUESTION, api_name="/ask")
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.1)
                continue
            wall, cpu = time.perf_counter() - t0, _proc_cpu(proc.pid)
            if "Zhang Yongping" not in str(reply):
                raise RuntimeError(f"unexpected first answer from the web chat ({provider}): {str(reply)[:200]}")
            return wall, cpu
        raise RuntimeError(f"the web chat did not answer within {timeout} s ({provider})")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _rev(src: Path) -> str:
    """The short commit of the checkout a src folder belongs to (with + when it has uncommitted changes)."""
    def git(*a: str) -> str:
        return subprocess.run(["git", "-C", str(src), *a], capture_output=True, text=True, check=False).stdout.strip()

    return (git("rev-parse", "--short", "HEAD") or str(src)) + ("+" if git("status", "--porcelain", "--", ".") else "")


def _row(name: str, provider: str, times: list[tuple[float, float]], target: str) -> dict[str, Any]:
    wall, cpu = [t[0] for t in times], [t[1] for t in times]
    return {"command": name, "provider": provider, "runs": len(times),
            "median wall s": round(statistics.median(wall), 2), "min wall s": round(min(wall), 2),
            "max wall s": round(max(wall), 2), "median CPU s": round(statistics.median(cpu), 2), "target": target}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/postqa-bench/start"))
    ap.add_argument("--corpus", type=Path, default=REPO / "corpus")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--serve-runs", type=int, default=3, help="0 skips the web chat")
    ap.add_argument("--port", type=int, default=7891)
    ap.add_argument("--out", type=Path, default=DEFAULT_RESULTS / "bench_start.json")
    ap.add_argument("--providers", nargs="+", choices=PROVIDERS, default=list(PROVIDERS))
    ap.add_argument("--versus", type=Path, metavar="SRC",
                    help="also time the ONNX commands with this src folder (another checkout's, e.g. main's), "
                         "alternated with this tree's in the same run")
    args = ap.parse_args()

    info = machine()
    config = prepare(args.workdir, args.corpus.resolve())
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    answers: dict[str, str] = {}
    runs = [(p, p, REPO / "src") for p in args.providers]
    if args.versus is not None:  # ONNX with this tree and with the other, labelled by their commits
        runs = [r for r in runs if r[0] != "onnx"] + [
            ("onnx", f"onnx @ {_rev(src)}", src) for src in (REPO / "src", args.versus.resolve())]
    for _ in range(args.runs):  # alternate providers (and trees) so that a change in load hits all alike
        for provider, label, src in runs:
            wall, cpu, out = time_command(_cli("ask", "--config", str(config), QUESTION), provider, src=src)
            times.setdefault(("ask", label), []).append((wall, cpu))
            answers[label] = out.splitlines()[0] if out else ""
            wall, cpu, _ = time_command(_cli("status", "--config", str(config)), provider, src=src)
            times.setdefault(("status", label), []).append((wall, cpu))
    for i in range(args.serve_runs):
        for j, (provider, label, src) in enumerate(runs):
            times.setdefault(("serve: first answer", label), []).append(
                time_serve(config, provider, args.port + i * len(runs) + j, src=src))
    targets = {"ask": "<= 2.5 s", "status": "", "serve: first answer": "<= 5 s"}
    rows = [_row(cmd, prov, t, targets[cmd] if prov.startswith("onnx") else "") for (cmd, prov), t in times.items()]
    imports = [imports_of_ask(config, p) for p in args.providers]
    same = len(set(answers.values())) == 1
    print(f"\nmachine: {info['cpu']}, {info['nproc']} cores, load {info['loadavg_at_start']} -> {loadavg()}")
    print(f"same answer from every run: {same} ({next(iter(answers.values()), '')!r})\n")
    print(table(rows, ["command", "provider", "runs", "median wall s", "min wall s", "max wall s", "median CPU s",
                       "target"],
                "Cold start: process start to printed answer"))
    print()
    print(table(imports, ["provider", "heavy modules loaded", "largest imports (s)"], "What one `ask` imports"))
    write_json(args.out, {"machine": info, "git": git_state(), "rows": rows, "imports": imports,
                          "answers": answers, "loadavg_end": loadavg()})


if __name__ == "__main__":
    main()
