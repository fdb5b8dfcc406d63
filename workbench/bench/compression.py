"""Compression: accuracy against model size for each step of the training run, from the model card's data.

The figures are the training run's own measurements, read from
``models/slm/manifest.json`` (the data behind ``models/README.md``); nothing
is re-measured here.
"""

from __future__ import annotations

from typing import Any

from workbench.bench.context import Bench, Section, not_run
from workbench.bench.nlu import manifest
from workbench.bench.plots import draw


def run(bench: Bench) -> Section:
    sec = Section("compression", "Compression")
    card = manifest(bench)
    steps: list[dict[str, Any]] = (card or {}).get("steps") or []
    md = sec.markdown
    if not steps:
        why = f"no training steps in {bench.model_dir / 'manifest.json'} (train the model first)"
        sec.figures = {"status": not_run(why), "steps": []}
        md += [
            "| step | parameters | file size | dev frame acc | held-out frame acc | latency |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            f"| {not_run(why)} | - | - | - | - | - |",
            "",
            "![compression](compression.png)",
            "",
        ]
        draw(_plot, bench, sec, [])
        return sec
    rows = []
    for s in steps:
        dev = s.get("dev") or {}
        rows.append(
            {
                "step": s["step"],
                "params": s["params"],
                "size_bytes": s["size_bytes"],
                "dev_frame_acc": dev.get("frame_acc"),
                "heldout_frame_acc": (s.get("heldout") or {}).get("frame_acc"),
                "latency_ms": s.get("latency_ms"),
            }
        )
    sec.figures = {
        "status": "ran",
        "source": "manifest.json steps",
        "steps": rows,
        "training_command": (card or {}).get("training", {}).get("command"),
    }
    md += [
        f"From the training run `{sec.figures['training_command']}` (its manifest's `steps`, the model "
        "card's "
        "data): each step measured by the run itself on the same dev set and held-out split.",
        "",
        "| step | parameters | file size | dev frame acc | held-out frame acc | latency (run's own) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        dev = "-" if r["dev_frame_acc"] is None else f"{r['dev_frame_acc']:.3f}"
        held = "-" if r["heldout_frame_acc"] is None else f"{r['heldout_frame_acc']:.3f}"
        lat = "-" if r["latency_ms"] is None else f"{r['latency_ms']:.2f} ms"
        md.append(
            f"| {r['step']} | {r['params'] / 1e6:.2f} M | {r['size_bytes'] / 1e6:.1f} MB | "
            f"{dev} | {held} | {lat} |"
        )
    md += ["", "![compression](compression.png)", ""]
    draw(_plot, bench, sec, rows)
    return sec


def _plot(bench: Bench, sec: Section, rows: list[dict[str, Any]]) -> None:
    from workbench.bench.plots import pyplot, save

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for key, label, marker in (("dev_frame_acc", "dev set", "o"), ("heldout_frame_acc", "held-out", "s")):
        pts = [(r["size_bytes"] / 1e6, r[key]) for r in rows if r[key] is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker, linestyle=":", label=label)
    for i, r in enumerate(rows):
        y = r["dev_frame_acc"] if r["dev_frame_acc"] is not None else r["heldout_frame_acc"]
        if y is not None:
            ax.annotate(
                str(i + 1),
                (r["size_bytes"] / 1e6, y),
                textcoords="offset points",
                xytext=(5 + 9 * (i % 3), 4 - 9 * (i % 3)),
                fontsize=7,
            )
    ax.set_xscale("log")
    ax.set_xlabel("model file size, MB (log)")
    ax.set_ylabel("frame accuracy")
    ax.set_title(
        "accuracy vs size, each training step in order (numbers: table rows)"
        if rows
        else "no training steps: not run"
    )
    if rows:
        ax.legend(fontsize=7)
    sec.plots.append(save(fig, bench.out, "compression.png"))
