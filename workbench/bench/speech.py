"""Speech: piper speech of the dev set, clean and in car noise, through each recognizer.

Speech comes from ``workbench.voice_bench.SpeechCache`` (piper, cached WAVs)
and noise from ``assistant.voice_sim.mix_at_snr`` (seeded per line). Each
recognizer decodes the whole clip (no endpointing, so the ASR is measured
alone); word error rate is against the dev line, both sides lower-cased with
spoken numbers as digits; the command figure is frame accuracy of the shipped
parser on the transcript.
"""

from __future__ import annotations

import re
import time
import zlib
from typing import Any

from workbench.bench.context import Bench, Section, not_run
from workbench.bench.plots import draw
from workbench.bench.scoring import Row, edit_distance, frame_ok, read_set

SNRS: list[float | None] = [None, 20.0, 10.0, 5.0, 0.0]
ASR = {
    "pocketsphinx-domain": "pocketsphinx, domain LM from intents/",
    "pocketsphinx-general": "pocketsphinx, its general US English LM",
    "vosk": "vosk, small English model",
}


def snr_label(snr: float | None) -> str:
    return "clean" if snr is None else f"{snr:g} dB"


def words(text: str) -> list[str]:
    from assistant.nlu.numbers import numbers_to_digits

    text = text.lower().replace("-", " ")
    text = re.sub(r"[^\w\s'.]", " ", text)
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)
    return numbers_to_digits(" ".join(text.split())).split()


def build_recognizer(name: str) -> Any:
    if name == "pocketsphinx-domain":
        from assistant.asr.pocketsphinx import PocketsphinxRecognizer

        return PocketsphinxRecognizer()
    if name == "pocketsphinx-general":
        from pocketsphinx import get_model_path

        from assistant.asr.pocketsphinx import PocketsphinxRecognizer

        return PocketsphinxRecognizer(lm=get_model_path("en-us/en-us.lm.bin"))
    from assistant.asr.base import load_recognizer

    return load_recognizer("vosk")


def decode(recognizer: Any, audio: Any) -> str:
    from assistant.audio import split

    recognizer.begin()
    for chunk in split(audio, 30):
        recognizer.accept(chunk)
    return str(recognizer.end().text)


def run(bench: Bench) -> Section:
    sec = Section("speech", "Speech")
    rows: list[Row] = read_set(bench.dev_set) if bench.dev_set.is_file() else []
    rows = bench.sample(rows, 1, 24)
    status: dict[str, str] = {}
    recognizers: dict[str, Any] = {}
    parser = None
    try:
        from assistant.voice_sim import mix_at_snr
        from workbench.voice_bench import SpeechCache

        speech = SpeechCache()
        t0 = time.perf_counter()
        clips = [speech.get(text) for text, _ in rows]
        bench.log(f"speech: {len(clips)} clips ready in {time.perf_counter() - t0:.1f} s")
    except Exception as err:
        clips = []
        for name in ASR:
            status[name] = not_run(f"no speech to test with ({not_run(err)[9:]})")
    if clips:
        from assistant.nlu.base import load_parser
        from workbench.bench.nlu import load_slm

        try:
            parser, note = load_slm(bench)
            parser_name = f"the shipped SLM ({note})"
        except Exception as err:
            parser = load_parser("templates")
            parser_name = f"the template engine (the SLM could not load: {err})"
        for name in ASR:
            if name in bench.skip:
                status[name] = not_run(f"left out with --without {name}")
                continue
            try:
                recognizers[name] = build_recognizer(name)
                status[name] = "ran"
            except Exception as err:
                status[name] = not_run(err)
            bench.log(f"speech: {name}: {status[name]}")
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for name, rec in recognizers.items():
        results[name] = {}
        for snr in SNRS:
            errors = ref_words = frames = 0
            t0 = time.perf_counter()
            for _i, ((text, expected), clip) in enumerate(zip(rows, clips, strict=False)):
                audio = clip if snr is None else mix_at_snr(clip, snr, seed=zlib.crc32(text.encode()))
                heard = decode(rec, audio)
                ref = words(text)
                errors += edit_distance(ref, words(heard))
                ref_words += len(ref)
                assert parser is not None
                got = [c.to_json() for c in parser.parse(heard).commands] if heard.strip() else []
                frames += frame_ok(expected, got)
            results[name][snr_label(snr)] = {
                "wer": errors / max(ref_words, 1),
                "frame_acc": frames / max(len(rows), 1),
                "n": len(rows),
                "decode_s": time.perf_counter() - t0,
            }
            bench.log(f"speech: {name} {snr_label(snr)}: {results[name][snr_label(snr)]}")
    sec.figures = {
        "lines": len(rows),
        "snr": [snr_label(s) for s in SNRS],
        "engines": {
            n: {
                "label": ASR[n],
                "status": status.get(n, "?"),
                **({"by_snr": results[n]} if n in results else {}),
            }
            for n in ASR
        },
        "parser": parser_name if parser is not None else None,
    }
    md = sec.markdown
    md += [
        f"{len(rows)} dev-set lines spoken by piper (en_US joe, medium), car noise (road rumble, engine, "
        "wind) mixed at each SNR over the voiced part (one noise per line, only its level changes); each "
        "recognizer decodes the whole clip. WER: word error rate against the dev text (lower case, numbers "
        "as digits). Command: frame accuracy of "
        f"{sec.figures['parser'] or 'the parser'} on the transcript.",
        "",
        "| recognizer | "
        + " | ".join(f"WER {snr_label(s)}" for s in SNRS)
        + " | "
        + " | ".join(f"command {snr_label(s)}" for s in SNRS)
        + " |",
        "| --- | " + " | ".join("---:" for _ in range(2 * len(SNRS))) + " |",
    ]
    for name, label in ASR.items():
        if name not in results:
            md.append(
                f"| {label} | {status.get(name, not_run('?'))} | "
                + " | ".join("-" for _ in range(2 * len(SNRS) - 1))
                + " |"
            )
            continue
        r = results[name]
        md.append(
            f"| {label} | "
            + " | ".join(f"{r[snr_label(s)]['wer']:.3f}" for s in SNRS)
            + " | "
            + " | ".join(f"{r[snr_label(s)]['frame_acc']:.3f}" for s in SNRS)
            + " |"
        )
    md += ["", "![speech vs SNR](speech_snr.png)", ""]
    draw(_plot, bench, sec, results)
    return sec


def _plot(bench: Bench, sec: Section, results: dict[str, dict[str, dict[str, Any]]]) -> None:
    from workbench.bench.plots import pyplot, save

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 2.8))
    labels = [snr_label(s) for s in SNRS]
    for name, r in results.items():
        axes[0].plot(labels, [r[lab]["wer"] for lab in labels], marker="o", label=name)
        axes[1].plot(labels, [r[lab]["frame_acc"] for lab in labels], marker="o", label=name)
    axes[0].set_title("word error rate")
    axes[1].set_title("speech-to-command frame accuracy")
    axes[1].set_ylim(0, 1)
    axes[0].set_ylim(bottom=0)
    for ax in axes:
        ax.set_xlabel("signal-to-noise ratio")
    if results:
        axes[0].legend(fontsize=7)
    else:
        axes[0].set_title("no recognizer ran")
    sec.plots.append(save(fig, bench.out, "speech_snr.png"))
