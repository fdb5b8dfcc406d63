"""The audit log's two targets (issue 13), measured: what writing it adds to a turn, and what a killed
process leaves.

    python -m workbench.bench.audit_log [--turns 10000] [--dir DIR]

1. Cost: the typed ``REQUESTS`` are handled once each on the simulated car (the product's settings on
   a virtual bus of its own, ``assistant.runtime.open_car``), which gives real turns: acted and
   confirmed, answered, refused, dropped. Their dialogue's ``Recorder.record`` then records them in
   turn ``--turns`` times with the log on and as many with it off, alternately; the figure is the
   median (and p95) of ``record`` with the log on against off: what the log adds to a turn (the
   entry serialised and queued; the writer thread appends and fsyncs it off the turn's path).
2. Kill: a child process writes those entries to a fresh log as fast as it can; once ``--turns``
   lines are on disk it is killed with SIGKILL, and the log is read back: entries read against
   lines on disk, torn lines skipped (notes; at most one is allowed), entries in order.

Prints ``figure:`` lines; writes nothing outside ``--dir`` (default: a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant.audit import AuditLog, Recorder
from assistant.dialogue import Dialogue
from assistant.runtime import open_car, open_parser

REQUESTS = (
    "open the driver window a bit",
    "turn on the fog lights",
    "set the temperature to 22 degrees",
    "lock the doors",
    "what's the weather like",
    "turn the volume up",
    "open the trunk",
    "why did you do that",
)
"""Typed requests: acted and confirmed by the car, answered, and no command (the weather)."""

WRITER = """
import json, sys
from assistant.audit import AuditLog
entries = [json.loads(line) for line in open(sys.argv[2], encoding="utf-8")]
log = AuditLog(sys.argv[1], rotate_bytes=10**10)
i = 0
while True:
    entry = dict(entries[i % len(entries)], seq=i)
    log.write(entry)
    i += 1
"""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure_cost(turns: int, folder: Path) -> tuple[list[float], list[float], list[dict[str, Any]]]:
    """Milliseconds ``Recorder.record`` took per turn with the log off and on, and the entries written."""
    from workbench.voice_bench import _settings

    settings = _settings("audit")
    log = AuditLog(folder / "cost.jsonl", rotate_bytes=10**10)
    timed: dict[bool, list[float]] = {False: [], True: []}
    with open_car(settings) as car:
        dialogue = Dialogue(open_parser(settings), car.vehicle)
        recorder: Recorder = dialogue.recorder
        recorder.log = None
        made = [dialogue.handle(text) for text in REQUESTS]
        car.vehicle.settle(5.0)
        made = [turn.settled(5.0) for turn in made]
        for i in range(turns * 2):
            on = bool(i % 2)
            recorder.log = log if on else None
            t0 = time.perf_counter()
            recorder.record(made[(i // 2) % len(made)])
            timed[on].append((time.perf_counter() - t0) * 1e3)
    log.flush()
    with open(log.path, encoding="utf-8") as f:
        written = [json.loads(line) for line in f]
    return timed[False], timed[True], written


def measure_kill(turns: int, folder: Path, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Kill a writer after ``turns`` lines and read its log back."""
    source = folder / "entries.jsonl"
    source.write_text("".join(json.dumps(e) + "\n" for e in entries[: len(REQUESTS) * 4]), encoding="utf-8")
    path = folder / "killed.jsonl"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(source)], env=env)
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline:
            if path.exists() and path.stat().st_size and _lines(path) >= turns:
                break
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    read = AuditLog(path).read()
    seqs = [e.get("seq") for e in read.entries]
    return {
        "on_disk": _lines(path),
        "read": len(read.entries),
        "notes": list(read.notes),
        "in_order": seqs == list(range(len(seqs))),
    }


def _lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--turns", type=int, default=10_000, help="turns with the log on; lines before the kill")
    ap.add_argument("--dir", help="where the logs are written (default: a temporary folder)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.dir or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        off, on, written = measure_cost(args.turns, folder)
        print(
            f"figure: audit_record_ms = {statistics.median(on):.3f}  (median of {len(on)} turns with the "
            f"log on; p95 {_percentile(on, 0.95):.3f}; log off: median {statistics.median(off):.3f}, "
            f"p95 {_percentile(off, 0.95):.3f}; {len(written)} lines written)",
            flush=True,
        )
        print(
            f"figure: audit_added_ms = {statistics.median(on) - statistics.median(off):.3f}  "
            "(median on - median off: what writing the log adds to a turn; target < 2 ms)",
            flush=True,
        )
        killed = measure_kill(args.turns, folder, written)
        print(
            f"figure: audit_after_kill = {killed['read']}/{killed['on_disk']}  (entries read / lines on "
            f"disk after SIGKILL past {args.turns} lines; notes {killed['notes']}; in order "
            f"{killed['in_order']})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
