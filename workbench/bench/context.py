"""What every section of the benchmark shares: options, paths, the log, and its result type."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.nlu.evalset import DEV_SET

REPO = Path(__file__).resolve().parents[2]
MODEL_DIR = REPO / "models" / "slm"


@dataclass
class Bench:
    """One run's options; ``quick`` takes fewer samples of everything, never fewer sections."""

    out: Path
    quick: bool = False
    seed: int = 13
    model_dir: Path = MODEL_DIR
    dev_set: Path = DEV_SET
    teacher: Path | None = None
    """Teacher weights (.pt); None: look for the run whose teacher the model card describes."""
    skip: frozenset[str] = frozenset()
    """Peers to leave out on purpose (reported as not run)."""
    started: float = field(default_factory=time.perf_counter)
    shared: dict[str, Any] = field(default_factory=dict)
    """Figures one section measures and another reports (memory of the parsers)."""

    def log(self, msg: str) -> None:
        print(f"[bench {time.perf_counter() - self.started:6.1f}s] {msg}", file=sys.stderr, flush=True)

    def sample(self, items: list[Any], quick_n: int, full_n: int | None = None) -> list[Any]:
        """Every k-th item, so a small sample still spans the whole set (seed-free, repeatable)."""
        n = quick_n if self.quick else full_n
        if n is None or len(items) <= n:
            return list(items)
        step = len(items) / n
        return [items[int(i * step)] for i in range(n)]


@dataclass
class Section:
    """One report section: its markdown, its figures for figures.json, the PNGs it wrote."""

    key: str
    title: str
    markdown: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    plots: list[str] = field(default_factory=list)


_INSTALL = {
    "sklearn": "scikit-learn is not installed (pip install -e .[bench])",
    "matplotlib": "matplotlib is not installed (pip install -e .[bench])",
    "torch": "torch is not installed (pip install -e .[train])",
}


def not_run(err: BaseException | str) -> str:
    """The row text of a peer that could not run, e.g. 'not run: scikit-learn is not installed'."""
    if isinstance(err, str):
        return err if err.startswith("not run: ") else f"not run: {err}"
    if isinstance(err, ImportError):
        name = err.name or str(err)
        return f"not run: {_INSTALL.get(name, name + ' is not installed')}"
    text = str(err).strip() or type(err).__name__
    return f"not run: {text}"
