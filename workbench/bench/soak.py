"""Soak: many text requests through one running service process; memory, threads and fds over time.

    python -m workbench.bench.soak [--requests 10000] [--nlu slm|templates] [--every 1000]

Starts ``car-assistant service --text`` (the supervised service's own main
loop, on the simulated car) as a child process, feeds it requests from a fixed
rotation of commands, waits for each reply, and every ``--every`` replies
reads the child's resident memory, thread count and open file descriptors from
/proc.  The first sample is taken after a warm-up of ``--every`` requests, so
the figures compare a warm process with itself.  Linux only (/proc).  A
benchmark that prints figures, not a test: nothing here asserts a threshold.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from assistant.nlu.base import REGISTRY as NLU_ENGINES

REQUESTS = [
    "turn on the fog lights",
    "turn off the fog lights",
    "set the temperature to 21 degrees",
    "set the temperature to 23 degrees",
    "volume up",
    "volume down",
    "lock the doors",
    "open the driver window",
    "close the driver window",
    "turn on the seat heating",
    "turn off the seat heating",
    "what's the weather like tomorrow",
]


def sample(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {
        "rss_kb": int(fields["VmRSS"].split()[0]),
        "threads": int(fields["Threads"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m workbench.bench.soak", description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--every", type=int, default=1000, help="sample every N replies (and warm up N)")
    ap.add_argument("--nlu", choices=NLU_ENGINES.choices, default="slm")
    args = ap.parse_args(argv)
    env = dict(os.environ, CAR_ASSISTANT_SIM_WINDOW_TRAVEL_S="0.05")
    env.pop("NOTIFY_SOCKET", None)
    total = args.every + args.requests
    child = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "service", "--text", "--nlu", args.nlu],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdin is not None and child.stdout is not None
    stdin = child.stdin

    def feed() -> None:
        for i in range(total):
            stdin.write(REQUESTS[i % len(REQUESTS)] + "\n")
        stdin.flush()

    threading.Thread(target=feed, daemon=True).start()
    samples: list[dict[str, int]] = []
    started = time.monotonic()
    failed = 0
    for i in range(1, total + 1):
        line = child.stdout.readline()
        if not line:
            print(f"the service ended after {i - 1} replies", file=sys.stderr)
            return 1
        reply = json.loads(line)["reply"]
        # error replies only; "Sorry, I can't help with that" (the weather) is a right answer
        failed += any(m in reply for m in ("went wrong", "reach the car", "didn't confirm"))
        if i % args.every == 0:
            s = sample(child.pid) | {"requests": i - args.every}
            samples.append(s)
            print(f"{s['requests']:>6} requests  rss {s['rss_kb'] / 1024:7.1f} MiB  "
                  f"threads {s['threads']:3d}  fds {s['fds']:3d}", flush=True)  # fmt: skip
    elapsed = time.monotonic() - started
    child.terminate()
    child.wait(60)
    first, last = samples[0], samples[-1]
    growth = (last["rss_kb"] - first["rss_kb"]) / first["rss_kb"] * 100
    peak = max(s["rss_kb"] for s in samples)
    print(
        f"\n{args.requests} requests after {args.every} warm-up, nlu={args.nlu}, {elapsed:.0f} s "
        f"({total / elapsed:.0f} requests/s), {failed} error replies\n"
        f"rss {first['rss_kb'] / 1024:.1f} -> {last['rss_kb'] / 1024:.1f} MiB ({growth:+.1f}%, "
        f"peak {peak / 1024:.1f}), threads {first['threads']} -> {last['threads']}, "
        f"fds {first['fds']} -> {last['fds']} "
        f"(range over samples: threads {min(s['threads'] for s in samples)}-"
        f"{max(s['threads'] for s in samples)}, fds {min(s['fds'] for s in samples)}-"
        f"{max(s['fds'] for s in samples)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
