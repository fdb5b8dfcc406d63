"""Benchmark the shipped SLM beside the template engine: parse latency, load time, memory.

    python -m workbench.training.bench [--texts FILE.tsv]

Prints figures, asserts nothing (speed on a shared machine is a measurement, not a test).
Each engine loads in its own fresh process so load time and resident memory are its own;
latency is the median of single-utterance parses on one thread, both engines in one run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_TEXTS = REPO / "models" / "slm" / "heldout.tsv"

_CHILD = r"""
import json, os, statistics, sys, time
os.environ.setdefault("OMP_NUM_THREADS", "1")
t0 = time.perf_counter()
from assistant.nlu.base import load_parser
parser = load_parser(sys.argv[1])
load_s = time.perf_counter() - t0
texts = [l.split("\t")[0] for l in open(sys.argv[2], encoding="utf-8") if l.strip() and not l.startswith("#")]
for t in texts[:20]:
    parser.parse(t)
times = []
for _ in range(int(sys.argv[3])):
    for t in texts:
        a = time.perf_counter()
        parser.parse(t)
        times.append(time.perf_counter() - a)
status = (line.split(":", 1) for line in open("/proc/self/status"))
rss = {k: int(v.split()[0]) for k, v in status if k in ("VmRSS", "VmHWM")}
times.sort()
print(json.dumps({"engine": sys.argv[1], "load_s": load_s, "n": len(times),
                  "median_ms": statistics.median(times) * 1000, "p90_ms": times[int(len(times) * 0.9)] * 1000,
                  "rss_mb": rss["VmRSS"] / 1024, "peak_rss_mb": rss["VmHWM"] / 1024}))
"""


def run(engine: str, texts: Path, repeat: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, engine, str(texts), str(repeat)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=Path, default=DEFAULT_TEXTS, help="TSV whose first column is utterances")
    ap.add_argument(
        "--repeat", type=int, default=1, help="passes over the texts (the template engine caches repeats)"
    )
    args = ap.parse_args(argv)
    slm = run("slm", args.texts, args.repeat)
    tpl = run("templates", args.texts, args.repeat)
    for r in (slm, tpl):
        print(
            f"{r['engine']:>9}: median parse {r['median_ms']:.2f} ms (p90 {r['p90_ms']:.2f}) "
            f"over {r['n']} parses, "
            f"load {r['load_s']:.2f} s, RSS {r['rss_mb']:.0f} MB (peak {r['peak_rss_mb']:.0f} MB)"
        )
    print(f"slm / templates median latency ratio: {slm['median_ms'] / tpl['median_ms']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
