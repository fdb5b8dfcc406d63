"""Resident memory of one component, measured in a fresh interpreter that loads it and uses it once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from workbench.bench.context import REPO

_TAIL = (
    "\nimport json as _j\n"
    "_s = {k: int(v.split()[0]) for k, v in (l.split(':', 1) for l in open('/proc/self/status'))"
    " if k in ('VmRSS', 'VmHWM')}\n"
    "print('@@RSS ' + _j.dumps(_s), flush=True)\n"
)


def rss_of(code: str, timeout_s: float = 180.0) -> dict[str, Any]:
    """Run ``code`` in ``python -c`` from the repo; its VmRSS and VmHWM (peak) in MB, or ``error``."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    try:
        p = subprocess.run(
            [sys.executable, "-c", code + _TAIL],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish in {timeout_s:.0f} s"}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("@@RSS "):
            kb = json.loads(line[6:])
            return {"rss_mb": kb["VmRSS"] / 1024, "peak_mb": kb["VmHWM"] / 1024}
    lines = [line for line in p.stderr.strip().splitlines() if line.strip()]
    return {"error": lines[-1] if lines else f"exit status {p.returncode}"}


def rss_of_each(codes: dict[str, str], parallel: int = 4) -> dict[str, dict[str, Any]]:
    """``rss_of`` for every snippet, a few processes at a time (each still its own fresh interpreter)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        futures = {name: pool.submit(rss_of, code) for name, code in codes.items()}
        return {name: f.result() for name, f in futures.items()}
