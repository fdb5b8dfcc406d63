"""Language understanding: the shipped SLM beside its teacher, the template engine and a classic model.

Every engine parses the same utterances in one process, interleaved (the
engine that goes first rotates per utterance), one thread each, so a busy
machine slows them alike; the latency of one parse is timed around the same
call that is scored. Memory is measured separately, each engine in a fresh
interpreter (``workbench.bench.memory``).
"""

from __future__ import annotations

import json
import os
import pickle
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from assistant.nlu.base import Parser, load_parser
from workbench.bench.context import REPO, Bench, Section, not_run
from workbench.bench.memory import rss_of_each
from workbench.bench.plots import draw
from workbench.bench.scoring import NONE, Row, Scores, read_set

ENGINES = {
    "slm": "shipped SLM (int8 ONNX)",
    "teacher": "teacher (MiniLM-L6 fine-tuned, fp32 torch)",
    "templates": "hassil templates (intents/)",
    "tfidf": "TF-IDF + logistic regression",
}


def manifest(bench: Bench) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((bench.model_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data


# -- the engines ----------------------------------------------------------------------------------


def find_teacher(bench: Bench, card: dict[str, Any] | None) -> Path:
    """The teacher checkpoint the model card describes: the one whose size the card recorded."""
    if bench.teacher is not None:
        if not bench.teacher.is_file():
            raise FileNotFoundError(f"no teacher weights at {bench.teacher}")
        return bench.teacher
    # the run's own scratch folder first: `car-assistant train ... --work DIR` kept the teacher there
    command = str(((card or {}).get("training") or {}).get("command") or "").split()
    if "--work" in command[:-1]:
        path = REPO / command[command.index("--work") + 1] / "teacher.pt"
        if path.is_file():
            return path
    steps = (card or {}).get("steps") or []
    want = (
        steps[0].get("size_bytes") if steps and str(steps[0].get("step", "")).startswith("teacher") else None
    )
    candidates = sorted((REPO / "runs").glob("**/teacher.pt"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in candidates:
        if want is None or path.stat().st_size == want:
            return path
    raise FileNotFoundError(
        "no teacher weights (runs/**/teacher.pt) matching the model card; they are not shipped: "
        "run `car-assistant train` or pass --teacher FILE"
    )


def build_teacher(bench: Bench, card: dict[str, Any] | None) -> tuple[Parser, str]:
    import torch  # the train extra
    from tokenizers import Tokenizer

    from workbench.training.model import Tagger, minilm_dir
    from workbench.training.pipeline import TorchSession, runtime_parser

    path = find_teacher(bench, card)
    torch.set_num_threads(1)
    model = Tagger.load(path)
    labels = json.loads((bench.model_dir / "labels.json").read_text(encoding="utf-8"))
    if model.cfg.n_intent_tags != 1 + 2 * len(labels["intents"]) or model.cfg.n_values != len(
        labels["values"]
    ):
        raise ValueError(f"the teacher at {path} was trained on other labels than the shipped model")
    # as the training run measured it: before calibration, which is fitted for the student
    labels = {**labels, "temperature": 1.0, "threshold": 0.5}
    tok = Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return runtime_parser(TorchSession(model), tok, labels), str(
        path.relative_to(REPO) if path.is_relative_to(REPO) else path
    )


def training_corpus(bench: Bench, card: dict[str, Any]) -> Any:
    """The SLM's own training data: ``build_corpus`` with the seed and sizes its manifest records."""
    from workbench.training.data import build_corpus

    cfg = card["training"]["config"]
    return build_corpus(
        cfg["seed"],
        per_intent=cfg["per_intent"],
        hassil_per_intent=cfg["hassil_per_intent"],
        joins=cfg["joins"],
        use_templates=cfg.get("use_templates", True),
        oos_generated=60 if cfg.get("tiny") else 600,
    )


def build_tfidf(bench: Bench, card: dict[str, Any] | None) -> tuple[Parser, str]:
    import sklearn  # noqa: F401  the bench extra

    from workbench.bench.tfidf import TfidfParser

    if card is None:
        raise FileNotFoundError(
            f"no model manifest in {bench.model_dir} to take the SLM's training data from"
        )
    corpus = training_corpus(bench, card)
    train = corpus.train
    note = f"{len(train)} training examples, the SLM's"
    if bench.quick:
        rng = np.random.default_rng(bench.seed)
        train = [train[i] for i in sorted(rng.choice(len(train), min(len(train), 1200), replace=False))]
        note = f"{len(train)} of the SLM's {len(corpus.train)} training examples (--quick)"
    parser = TfidfParser(train, seed=bench.seed)
    bench.shared["tfidf_train_texts"] = {" ".join(e.text.split()).lower() for e in train}
    return parser, note


def load_slm(bench: Bench) -> tuple[Parser, str]:
    """The shipped SLM; when intents/ changed since it was trained, measured anyway and the note says so."""
    from assistant.errors import ModelMismatchError

    where = str(
        bench.model_dir.relative_to(REPO) if bench.model_dir.is_relative_to(REPO) else bench.model_dir
    )
    try:
        return load_parser("slm", model_dir=bench.model_dir), where
    except ModelMismatchError:
        parser = load_parser("slm", model_dir=bench.model_dir, check_intents=False)
        note = f"{where}, trained on an older intents/ (measured anyway)"
        bench.shared["slm_warning"] = (
            f"Warning: intents/ changed after the shipped SLM ({where}) was trained; the runtime would "
            "refuse to load it until it is retrained. It is measured here as it is, and the TF-IDF peer's "
            "training data, generated from the current intents/, is not exactly the SLM's."
        )
        return parser, note


def build_engines(bench: Bench, card: dict[str, Any] | None) -> dict[str, tuple[Parser | None, str]]:
    """name -> (parser, note) or (None, 'not run: why')."""
    builders = {
        "slm": lambda: load_slm(bench),
        "teacher": lambda: build_teacher(bench, card),
        "templates": lambda: (load_parser("templates"), "intents/"),
        "tfidf": lambda: build_tfidf(bench, card),
    }
    out: dict[str, tuple[Parser | None, str]] = {}
    for name, build in builders.items():
        if name in bench.skip:
            out[name] = (None, not_run("left out with --without " + name))
            continue
        t0 = time.perf_counter()
        try:
            parser, note = build()
        except Exception as err:  # a missing optional peer is a row, not a crash
            out[name] = (None, not_run(err))
            bench.log(f"nlu: {name} {out[name][1]}")
            continue
        out[name] = (parser, note)
        bench.log(f"nlu: {name} ready in {time.perf_counter() - t0:.1f} s ({note})")
    return out


# -- measuring ------------------------------------------------------------------------------------


def run_interleaved(
    engines: dict[str, Parser], sets: dict[str, list[Row]], warmup: list[str]
) -> tuple[dict[str, dict[str, Scores]], dict[str, list[float]]]:
    """Score every engine on every set; one parse per engine per utterance, the first engine rotating."""
    names = list(engines)
    for text in warmup:
        for name in names:
            engines[name].parse(text)
    scores = {name: {s: Scores() for s in sets} for name in names}
    times: dict[str, list[float]] = {name: [] for name in names}
    k = 0
    for set_name, rows in sets.items():
        for text, expected in rows:
            order = names[k % len(names) :] + names[: k % len(names)]
            k += 1
            for name in order:
                t0 = time.perf_counter()
                got = engines[name].parse(text)
                times[name].append(time.perf_counter() - t0)
                scores[name][set_name].add(expected, [c.to_json() for c in got.commands])
    return scores, times


_MEMORY_CODE = {
    "slm": "from assistant.nlu.base import load_parser\n"
    "p = load_parser('slm', model_dir={model!r}, check_intents=False)\n"
    "p.parse('open the window and turn on the ac')",
    "templates": "from assistant.nlu.base import load_parser\np = load_parser('templates')\n"
    "p.parse('open the window and turn on the ac')",
    "tfidf": "import pickle\np = pickle.load(open({pickle!r}, 'rb'))\n"
    "p.parse('open the window and turn on the ac')",
    "teacher": "import argparse\nfrom pathlib import Path\nfrom workbench.bench.context import Bench\n"
    "from workbench.bench.nlu import build_teacher, manifest\n"
    "b = Bench(Path('.'), model_dir=Path({model!r}), teacher=Path({teacher!r}))\n"
    "p, _ = build_teacher(b, manifest(b))\np.parse('open the window and turn on the ac')",
}


def memory(bench: Bench, engines: dict[str, tuple[Parser | None, str]]) -> dict[str, dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        pickled = os.path.join(tmp, "tfidf.pkl")
        codes = {}
        for name, (parser, note) in engines.items():
            if parser is None:
                continue
            if name == "tfidf":
                with open(pickled, "wb") as f:
                    pickle.dump(parser, f)
            codes[name] = _MEMORY_CODE[name].format(model=str(bench.model_dir), pickle=pickled, teacher=note)
        out = rss_of_each(codes)
    bench.log(f"nlu: memory {out}")
    return out


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


# -- the section ----------------------------------------------------------------------------------


def run(bench: Bench) -> Section:
    sec = Section("nlu", "Language understanding")
    card = manifest(bench)
    sets: dict[str, list[Row]] = {}
    set_notes = {}
    if bench.dev_set.is_file():
        rows = read_set(bench.dev_set)
        sets["dev"] = bench.sample(rows, 26)
        set_notes["dev"] = f"`{bench.dev_set.name}` ({len(sets['dev'])} of {len(rows)} utterances)"
    held_path = bench.model_dir / "heldout.tsv"
    if held_path.is_file():
        rows = read_set(held_path)
        sets["held-out"] = bench.sample(rows, 60)
        set_notes["held-out"] = (
            f"held-out split of the training data ({len(sets['held-out'])} of {len(rows)})"
        )
    engines = build_engines(bench, card)
    running = {n: p for n, (p, _) in engines.items() if p is not None}
    texts = [t for rows in sets.values() for t, _ in rows]
    bench.log(f"nlu: {len(texts)} utterances x {len(running)} engines, interleaved")
    scores, times = run_interleaved(running, sets, texts[: 5 if bench.quick else 20])
    mem = memory(bench, engines)
    bench.shared["nlu_memory"] = mem
    bench.shared["nlu_status"] = {n: note for n, (p, note) in engines.items() if p is None}

    train_texts = bench.shared.get("tfidf_train_texts", set())
    leaks = {s: sum(" ".join(t.split()).lower() in train_texts for t, _ in rows) for s, rows in sets.items()}

    slm_median = statistics.median(times["slm"]) if times.get("slm") else None
    fig: dict[str, Any] = {"sets": {s: len(r) for s, r in sets.items()}, "engines": {}}
    for name, label in ENGINES.items():
        parser, note = engines[name]
        if parser is None:
            fig["engines"][name] = {"label": label, "status": note}
            continue
        t = [x * 1000 for x in times[name]]
        entry: dict[str, Any] = {
            "label": label,
            "status": "ran",
            "note": note,
            "sets": {s: scores[name][s].summary() for s in sets},
            "latency_ms": {"median": statistics.median(t), "p95": _pct(t, 95), "n": len(t)},
            "memory": mem.get(name, {}),
            "per_intent": {
                s: {k: v[0] / v[1] for k, v in sorted(scores[name][s].per_intent.items())} for s in sets
            },
        }
        if slm_median:
            entry["latency_ms"]["ratio_to_slm"] = statistics.median(times[name]) / slm_median
        fig["engines"][name] = entry
    fig["heldout_lines_in_tfidf_training"] = leaks
    sec.figures = fig
    _markdown(bench, sec, engines, sets, set_notes, scores)
    draw(_plots, bench, sec, scores, times, sets)
    return sec


def _fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None or x != x else f"{x:.{digits}f}"


def _markdown(
    bench: Bench,
    sec: Section,
    engines: dict[str, tuple[Parser | None, str]],
    sets: dict[str, list[Row]],
    set_notes: dict[str, str],
    scores: dict[str, dict[str, Scores]],
) -> None:
    fig = sec.figures
    md = sec.markdown
    md += [
        "Sets: " + "; ".join(f"{k}: {v}" for k, v in set_notes.items()) + ". "
        "Frame accuracy is `score_text.py`'s (every command's intent and slots, in order); "
        "slot F1 is micro-averaged over (intent, slot, value) triples; out-of-scope rows are the "
        "utterances that expect no command (false accept: the engine acted on one). "
        "Latency: one parse, one thread, all engines interleaved in one process over every utterance of "
        "both sets; memory: resident set (VmRSS) of a fresh interpreter after loading the engine and "
        "parsing once, peak (VmHWM) in brackets.",
        "",
        "| engine | set | frame acc | intent acc | slot F1 | out-of-scope rejected | false accepts |"
        " in-scope missed | median ms | p95 ms | x SLM | RSS MB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, label in ENGINES.items():
        e = fig["engines"][name]
        if e["status"] != "ran":
            md.append(f"| {label} | all | {e['status']} | - | - | - | - | - | - | - | - | - |")
            continue
        lat, mem = e["latency_ms"], e["memory"]
        rss = (
            f"{mem['rss_mb']:.0f} ({mem['peak_mb']:.0f})"
            if "rss_mb" in mem
            else not_run(mem.get("error", "?"))
        )
        for i, s in enumerate(sets):
            r = e["sets"][s]
            tail = (
                f"{lat['median']:.2f} | {lat['p95']:.2f} | {_fmt(lat.get('ratio_to_slm'), 2)} | {rss}"
                if i == 0
                else "| | |"
            )
            md.append(
                f"| {label} | {s} | {r['frame_acc']:.3f} | {r['intent_acc']:.3f} | {r['slot_f1']:.3f} | "
                f"{r['oos_rejected']}/{r['oos_total']} | {r['oos_false_accepts']} | "
                f"{r['in_scope_rejected']} | {tail} |"
            )
    notes = [f"- {ENGINES[n]}: {engines[n][1]}" for n in ENGINES if engines[n][0] is not None]
    leaks = fig["heldout_lines_in_tfidf_training"]
    if engines["tfidf"][0] is not None:
        notes.append(
            "- Sentences of the sets that also occur verbatim in the generated training data: "
            + ", ".join(f"{s} {n}" for s, n in leaks.items())
            + " (the held-out split keeps whole base sentences out, but short generated commands recur)."
        )
    md += ["", *notes, "", "![LU accuracy](nlu_accuracy.png) ![LU latency](nlu_latency.png)", ""]
    # per intent
    ran = [n for n in ENGINES if fig["engines"][n]["status"] == "ran"]
    all_intents = sorted({k for n in ran for s in sets for k in fig["engines"][n]["per_intent"][s]})
    md += [
        "### Per-intent accuracy",
        "",
        "Intent accuracy of the utterances that contain each intent, both sets together "
        f"({NONE}: utterances that expect no command).",
        "",
        "| intent | n | " + " | ".join(ENGINES[n] for n in ran) + " |",
        "| --- | ---: | " + " | ".join("---:" for _ in ran) + " |",
    ]
    for intent in all_intents:
        cells = []
        total = 0
        for n in ran:
            right = sum(scores[n][s].per_intent.get(intent, [0, 0])[0] for s in sets)
            total = sum(scores[n][s].per_intent.get(intent, [0, 0])[1] for s in sets)
            cells.append(f"{right / total:.2f}" if total else "-")
        md.append(f"| {intent} | {total} | " + " | ".join(cells) + " |")
    md += ["", "### Intent confusion", ""]
    md += [f"![confusion {n}](confusion_{n}.png)" for n in ran]
    md += [""]


def _plots(
    bench: Bench,
    sec: Section,
    scores: dict[str, dict[str, Scores]],
    times: dict[str, list[float]],
    sets: dict[str, list[Row]],
) -> None:
    from workbench.bench.plots import pyplot, save

    plt = pyplot()
    fig_data = sec.figures["engines"]
    ran = [n for n in ENGINES if fig_data[n]["status"] == "ran"]
    metrics = [("frame_acc", "frame"), ("intent_acc", "intent"), ("slot_f1", "slot F1")]
    fig, axes = plt.subplots(1, max(len(sets), 1), figsize=(4.2 * max(len(sets), 1), 2.8), squeeze=False)
    width = 0.8 / max(len(ran), 1)
    for ax, s in zip(axes[0], sets, strict=False):
        for i, n in enumerate(ran):
            vals = [fig_data[n]["sets"][s][m] for m, _ in metrics]
            ax.bar(np.arange(len(metrics)) + i * width, vals, width, label=n)
        ax.set_xticks(np.arange(len(metrics)) + width * (len(ran) - 1) / 2, [lab for _, lab in metrics])
        ax.set_ylim(0, 1.18)
        ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
        ax.set_title(f"{s} ({len(sets[s])} utterances)")
    axes[0][0].legend(fontsize=7, loc="upper center", ncol=4)
    sec.plots.append(save(fig, bench.out, "nlu_accuracy.png"))

    fig, ax = plt.subplots(figsize=(4.5, 2.6))
    data = [[x * 1000 for x in times[n]] for n in ran]
    if data:
        ax.boxplot(data, showfliers=False)
        ax.set_xticks(range(1, len(ran) + 1), ran)
    ax.set_yscale("log")
    ax.set_ylabel("ms per parse (log)")
    ax.set_title("parse latency, interleaved (box: quartiles, whiskers 1.5 IQR)")
    sec.plots.append(save(fig, bench.out, "nlu_latency.png"))

    for n in ran:
        conf = sum(
            (scores[n][s].confusion for s in sets), start=type(scores[n][next(iter(sets))].confusion)()
        )
        labels = sorted({a for a, _ in conf} | {b for _, b in conf})
        idx = {lab: i for i, lab in enumerate(labels)}
        m = np.zeros((len(labels), len(labels)))
        for (a, b), c in conf.items():
            m[idx[a], idx[b]] += c
        m = m / np.maximum(m.sum(1, keepdims=True), 1)
        size = 2.5 + 0.16 * len(labels)
        fig, ax = plt.subplots(figsize=(size, size))
        ax.imshow(m, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=6)
        ax.set_yticks(range(len(labels)), labels, fontsize=6)
        ax.set_xlabel("parsed (first command)")
        ax.set_ylabel("expected")
        ax.set_title(f"{n}: single-command and out-of-scope utterances, row-normalised")
        sec.plots.append(save(fig, bench.out, f"confusion_{n}.png"))
