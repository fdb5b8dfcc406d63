"""`car-assistant bench`: the project measured against its peers, one command, one report folder.

    car-assistant bench [--quick] [--out DIR]

Writes DIR/report.md (tables, plots), DIR/*.png and DIR/figures.json (every
number in the report, raw). Sections: language understanding (shipped SLM,
its fp32 teacher, the template engine, TF-IDF + logistic regression),
compression (the training run's steps), speech (WER and command accuracy
against SNR per recognizer), the latency budget of the whole pipeline,
resources (memory, idle CPU, model files), and false actuation (out-of-domain
speech that sends a frame or moves a security function, per recognizer,
beside its accuracy, latency and memory). ``--quick`` takes a few samples of
everything and still writes every table and plot (CI). A peer that cannot run
(no scikit-learn, no teacher weights, no vosk model) is a row saying
"not run: why". Seeds are fixed; the report names the machine, the package
versions and the date.

``car-assistant bench`` (``workbench.cli``) hands its flags to ``main(argv)``, which also runs it
standalone.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from workbench.bench.context import DEV_SET, MODEL_DIR, REPO, Bench, Section

SECTIONS = ("nlu", "compression", "speech", "latency", "resources", "false_actuation")
OPTIONAL = ("teacher", "tfidf", "templates", "pocketsphinx-general", "vosk", "whisper")


def _flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--quick", action="store_true", help="few samples of everything, every table and plot (CI)"
    )
    p.add_argument("--out", type=Path, default=Path("bench-out"), help="report folder (default: bench-out)")
    p.add_argument("--model", type=Path, default=MODEL_DIR, help="SLM folder (default: models/slm)")
    p.add_argument(
        "--dev", type=Path, default=DEV_SET, help="dev set TSV (default: eval/dev_text.tsv)"
    )
    p.add_argument(
        "--teacher", type=Path, help="teacher weights (default: the runs/**/teacher.pt the card names)"
    )
    p.add_argument(
        "--without",
        action="append",
        default=[],
        choices=OPTIONAL,
        metavar="PEER",
        help=f"leave a peer out (reported as not run): {', '.join(OPTIONAL)}",
    )
    p.add_argument(
        "--only",
        action="append",
        default=[],
        choices=SECTIONS,
        metavar="SECTION",
        help=f"run only these sections, the others say not run: {', '.join(SECTIONS)}",
    )
    p.add_argument("--seed", type=int, default=13)


def build_argparser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="car-assistant bench", description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--debug", action="store_true", help="show tracebacks")
    _flags(ap)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    return cmd_bench(build_argparser().parse_args(argv))


def cmd_bench(args: argparse.Namespace) -> int:
    from workbench.bench import compression, false_actuation, latency, nlu, resources, speech
    from workbench.bench.machine import describe

    bench = Bench(
        out=args.out,
        quick=args.quick,
        seed=args.seed,
        model_dir=args.model,
        dev_set=args.dev,
        teacher=args.teacher,
        skip=frozenset(args.without),
    )
    random.seed(bench.seed)
    try:
        import numpy as np

        np.random.seed(bench.seed)
    except ImportError:
        pass
    bench.out.mkdir(parents=True, exist_ok=True)
    for old in bench.out.glob("*.png"):
        old.unlink()
    machine = describe()
    runners: dict[str, Callable[[Bench], Section]] = {
        "nlu": nlu.run,
        "compression": compression.run,
        "speech": speech.run,
        "latency": latency.run,
        "resources": resources.run,
        "false_actuation": false_actuation.run,
    }
    titles = {
        "nlu": "Language understanding",
        "compression": "Compression",
        "speech": "Speech",
        "latency": "Latency budget of the whole pipeline",
        "resources": "Resources",
        "false_actuation": "False actuation and accuracy by recognizer",
    }
    sections: list[Section] = []
    failed = []
    for key, run in runners.items():
        t0 = time.perf_counter()
        if args.only and key not in args.only:
            sec = Section(key, titles[key], [f"not run: left out with --only {' '.join(args.only)}", ""])
        else:
            bench.log(f"== {key}")
            try:
                sec = run(bench)
            except Exception as err:  # one broken section must not lose the others
                traceback.print_exc()
                failed.append(key)
                sec = Section(
                    key, titles[key], [f"not run: the section failed: {type(err).__name__}: {err}", ""]
                )
        sec.figures["seconds"] = round(time.perf_counter() - t0, 1)
        sections.append(sec)
    runtime = time.perf_counter() - bench.started
    command = "car-assistant bench " + " ".join(_argv_text(args))
    write_report(bench, command.strip(), machine, sections, runtime)
    bench.log(f"wrote {bench.out / 'report.md'} in {runtime:.0f} s")
    if failed:
        print(f"error: sections failed: {', '.join(failed)} (tracebacks above)", file=sys.stderr)
        return 1
    return 0


def _argv_text(args: argparse.Namespace) -> list[str]:
    out = []
    if args.quick:
        out.append("--quick")
    out += ["--out", str(args.out)]
    if args.model != MODEL_DIR:
        out += ["--model", str(args.model)]
    if args.dev != DEV_SET:
        out += ["--dev", str(args.dev)]
    if args.teacher:
        out += ["--teacher", str(args.teacher)]
    for w in args.without:
        out += ["--without", w]
    for o in args.only:
        out += ["--only", o]
    if args.seed != 13:
        out += ["--seed", str(args.seed)]
    return out


def write_report(
    bench: Bench, command: str, machine: dict[str, Any], sections: list[Section], runtime: float
) -> None:
    from workbench.bench.machine import markdown as machine_md

    headline = _headline(sections)
    md = [
        "# Benchmark report",
        "",
        f"Generated by `{command}` in {runtime / 60:.1f} min"
        + (" (--quick: few samples, for CI; not the figures to quote)" if bench.quick else "")
        + ". Every number and plot here comes from that run; rerun the command to regenerate them.",
        "",
        *machine_md(machine),
        "",
        *([f"**{bench.shared['slm_warning']}**", ""] if bench.shared.get("slm_warning") else []),
        "## Headline",
        "",
        "| figure | value |",
        "| --- | --- |",
        *[f"| {k} | {v} |" for k, v in headline.items()],
        "",
    ]
    for sec in sections:
        md += [f"## {sec.title}", "", *sec.markdown]
    (bench.out / "report.md").write_text("\n".join(md).rstrip() + "\n", encoding="utf-8")
    _readme_section(bench, command, machine, headline, [p for s in sections for p in s.plots])
    data = {
        "command": command,
        "quick": bench.quick,
        "seed": bench.seed,
        "runtime_s": round(runtime, 1),
        "machine": machine,
        "headline": headline,
        "sections": {s.key: s.figures for s in sections},
        "plots": [p for s in sections for p in s.plots],
    }
    (bench.out / "figures.json").write_text(
        json.dumps(data, indent=1, default=_json) + "\n", encoding="utf-8"
    )


README_PLOTS = ("nlu_accuracy.png", "nlu_latency.png", "speech_snr.png", "latency_budget.png")


def _readme_section(
    bench: Bench, command: str, machine: dict[str, Any], headline: dict[str, str], plots: list[str]
) -> None:
    """README.md's "Performance" section, generated: paste it as it is (paths are relative to the repo)."""
    try:
        prefix = str(bench.out.resolve().relative_to(REPO)) + "/"
    except ValueError:
        prefix = ""
    md = [
        "## Performance",
        "",
        f"Measured by `{command}` on {machine['cpu']} ({machine['cores']} cores), {machine['date_utc']}; "
        f"the full report, with the peers, the machine and the package versions, is [{prefix}report.md]"
        f"({prefix}report.md).",
        "",
        "| figure | value |",
        "| --- | --- |",
        *[f"| {k} | {v} |" for k, v in headline.items()],
        "",
        " ".join(f"![{p[:-4]}]({prefix}{p})" for p in README_PLOTS if p in plots),
        "",
    ]
    (bench.out / "readme_section.md").write_text("\n".join(md), encoding="utf-8")


def _json(x: Any) -> Any:
    if hasattr(x, "item"):
        return x.item()
    return str(x)


def _headline(sections: list[Section]) -> dict[str, str]:
    """The few figures people compare, each read from a section's figures."""
    from workbench.bench.context import not_run
    from workbench.bench.resources import idle_headline

    by = {s.key: s.figures for s in sections}
    out: dict[str, str] = {}
    engines = (by.get("nlu") or {}).get("engines") or {}
    for name, e in engines.items():
        if e.get("status") != "ran":
            out[f"LU {e.get('label', name)}"] = e.get("status", "not run")
            continue
        dev: dict[str, Any] = e["sets"].get("dev") or next(iter(e["sets"].values()), {})
        lat = e["latency_ms"]
        mem = e.get("memory", {})
        out[f"LU {e['label']}"] = (
            f"dev frame acc {dev.get('frame_acc', float('nan')):.3f}, median parse {lat['median']:.2f} ms"
            + (f" (x{lat['ratio_to_slm']:.2f} SLM)" if "ratio_to_slm" in lat and name != "slm" else "")
            + (f", RSS {mem['rss_mb']:.0f} MB" if "rss_mb" in mem else "")
        )
    speech = ((by.get("speech") or {}).get("engines") or {}).get("pocketsphinx-domain") or {}
    if "by_snr" in speech:
        r = speech["by_snr"]
        out["speech, pocketsphinx domain LM (top-1 transcript, SLM)"] = ", ".join(
            f"{k}: WER {v['wer']:.2f} / command {v['frame_acc']:.2f}"
            for k, v in r.items()
            if k in ("clean", "10 dB", "0 dB")
        )
    elif speech:
        out["speech, pocketsphinx domain LM"] = speech.get("status", "not run")
    lat = by.get("latency") or {}
    if lat.get("status") == "ran":
        for mode in ("plain", "semantic"):
            stages = lat["stages_ms"][mode]
            total = sum(v["median"] for v in stages.values() if v)
            out[f"pipeline, {mode} endpointing"] = f"sum of stage medians {total:.0f} ms"
    elif lat:
        out["pipeline latency"] = lat.get("status", "not run")
    res = by.get("resources") or {}
    whole = (res.get("memory_mb") or {}).get("assistant") or {}
    if "rss_mb" in whole:
        out["whole assistant memory"] = f"RSS {whole['rss_mb']:.0f} MB (peak {whole['peak_mb']:.0f} MB)"
    idle = res.get("idle") or {}
    cpu = idle_headline(idle)
    out["CPU idle listening"] = cpu or not_run(str(idle.get("error", "the resources section did not run")))
    for name, e in ((by.get("false_actuation") or {}).get("engines") or {}).items():
        if e.get("status") != "ran":
            out[f"recognizer {name}"] = e.get("status", "not run")
            continue
        c, n = e["clean"], e.get("10dB", {})
        out[f"recognizer {name}"] = (
            f"command acc {c['frame_acc']:.2f} clean / {n.get('frame_acc', float('nan')):.2f} 10 dB; "
            f"OOD sent a frame {c['ood']['sent_any_frame_share']:.2f} / "
            f"{n.get('ood', {}).get('sent_any_frame_share', float('nan')):.2f}; "
            f"end of speech -> frame median {c['eos_to_frame_ms'].get('median', float('nan')):.0f} ms"
        )
    files = {f["what"]: f["bytes"] for f in res.get("model_files", [])}
    if files.get("SLM model.onnx"):
        out["SLM model file"] = f"{files['SLM model.onnx'] / 1e6:.2f} MB"
    return out
