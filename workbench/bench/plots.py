"""matplotlib on the Agg backend, small PNGs (the report's pictures are committed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DPI = 80


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 8, "axes.titlesize": 9, "figure.dpi": DPI})
    return plt


def save(fig: Any, out: Path, name: str) -> str:
    plt = pyplot()
    fig.tight_layout()
    fig.savefig(out / name, dpi=DPI)
    plt.close(fig)
    return name


def draw(plot: Any, bench: Any, sec: Any, *args: Any) -> None:
    """``plot(bench, sec, *args)``, or a note in the section when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        sec.markdown.append("Plots not made: matplotlib is not installed (`pip install -e .[bench]`).")
        sec.markdown.append("")
        return
    plot(bench, sec, *args)
