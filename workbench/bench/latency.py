"""Latency budget of the whole pipeline: wake word to the car's confirmation and the first reply audio.

Spoken requests ("Hey Jarvis." + a dev-set command, piper, clean) go through
the real pipeline (microWakeWord, silero VAD, pocketsphinx, the shipped
parser, the vehicle state machines, the CAN bridge to the simulated body
controller, piper), once with plain VAD endpointing and once with semantic
endpointing, alternating per request. Per stage:

- wake: stream time from the end of the wake phrase to the detection;
- endpointing: stream time from the end of speech to the endpoint decision;
- ASR final, parse: wall time of the final decode and of the parse;
- state machine: the vehicle's time for the command minus its CAN round trip;
- CAN round trip: first command frame sent to the last status frame that
  confirmed it (frame timestamps; the simulated windows travel in
  ``WINDOW_TRAVEL_S``);
- TTS first audio: from the reply text to piper's first audio chunk, synthesised cold (the
  reply cache, which starts a repeated reply at once, is off).
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from typing import Any

import numpy as np

from workbench.bench.context import Bench, Section, not_run
from workbench.bench.plots import draw
from workbench.bench.scoring import read_set

STAGES = ["wake", "endpointing", "asr_final", "parse", "state_machine", "can_round_trip", "tts_first_audio"]
MODES = ["plain", "semantic"]
WINDOW_TRAVEL_S = 0.05
"""Fastest simulated window travel the settings allow: the CAN round trip, not the glass, is measured."""


def wake_phrase_end_ms(audio: Any, min_gap_ms: float = 300.0) -> float | None:
    """End of the first stretch of speech: where the first silence of ``min_gap_ms`` after it starts."""
    x = np.abs(audio.array().astype(np.float32))
    rate = audio.rate
    loud = x > 0.01 * (x.max() + 1e-9)
    idx = np.flatnonzero(loud)
    if not len(idx):
        return None
    gap = int(rate * min_gap_ms / 1000)
    gaps = np.flatnonzero(np.diff(idx) > gap)
    if not len(gaps):
        return None
    return float(idx[gaps[0]] + 1) * 1000 / rate


def can_round_trip_ms(actions: Any) -> float | None:
    total = None
    for a in actions:
        tx = [f.timestamp for f in a.frames if f.direction == "tx"]
        rx = [f.timestamp for f in a.frames if f.direction == "rx"]
        if tx and rx:
            total = (total or 0.0) + (max(rx) - min(tx)) * 1000
    return total


def _stages(vt: Any, wake_end: float | None) -> dict[str, float]:
    t = vt.timings_ms
    out: dict[str, float] = {}
    if "wake_at" in t and wake_end is not None:
        out["wake"] = max(t["wake_at"] - wake_end, 0.0)
    out["endpointing"] = t.get("endpoint_delay", float("nan"))
    out["asr_final"] = t.get("asr_final", float("nan"))
    if "dialogue_parse" in t:
        out["parse"] = t["dialogue_parse"]
    can = can_round_trip_ms(vt.turn.actions) if vt.turn is not None else None
    if can is not None:
        out["can_round_trip"] = can
    if "dialogue_vehicle" in t:
        out["state_machine"] = max(t["dialogue_vehicle"] - (can or 0.0), 0.0)
    if "first_audio" in t and "dialogue_total" in t:
        out["tts_first_audio"] = max(t["first_audio"] - t["asr_final"] - t["dialogue_total"], 0.0)
    return out


def _pct(v: list[float], q: float) -> float:
    return float(np.percentile(np.array(v), q)) if v else float("nan")


def run(bench: Bench) -> Section:
    sec = Section("latency", "Latency budget of the whole pipeline")
    rows = read_set(bench.dev_set) if bench.dev_set.is_file() else []
    # requests the car acts on: they have a CAN round trip
    rows = [
        r for r in rows if r[1] and not any(c["intent"].startswith(("assistant.", "vehicle.")) for c in r[1])
    ]
    rows = bench.sample(rows, 2, 20)
    samples: dict[str, dict[str, list[float]]] = {m: {s: [] for s in STAGES} for m in MODES}
    status = "ran"
    asr = ""
    try:
        samples, asr = _measure(bench, rows, samples)
    except Exception as err:  # piper, the wake word model or the voice stage missing
        status = not_run(err)
        bench.log(f"latency: {status}")
    summary = {
        m: {
            s: {"median": statistics.median(v), "p95": _pct(v, 95), "n": len(v)} if v else None
            for s, v in samples[m].items()
        }
        for m in MODES
    }
    sec.figures = {
        "status": status,
        "requests": len(rows),
        "asr": asr,
        "stages_ms": summary,
        "window_travel_s": WINDOW_TRAVEL_S,
    }
    md = sec.markdown
    md += [
        f'{len(rows)} spoken requests ("Hey Jarvis." + a dev-set command that moves something), clean audio, '
        f"through the whole pipeline with the simulated car on a virtual CAN bus; ASR: {asr or '-'}; the two "
        "endpointing modes alternate per request; replies are synthesised cold (no reply cache). "
        "Stream-time stages (wake, endpointing) are what a listener waits in real time; the others are "
        "wall time on this machine. The simulated windows travel in "
        f"{WINDOW_TRAVEL_S} s.",
        "",
        "| stage | " + " | ".join(f"{m} median ms | {m} p95 ms" for m in MODES) + " |",
        "| --- | " + " | ".join("---: | ---:" for _ in MODES) + " |",
    ]
    if status != "ran":
        md.append(f"| all | {status} | " + " | ".join("-" for _ in range(2 * len(MODES) - 1)) + " |")
    else:
        for s in STAGES:
            cells = []
            for m in MODES:
                v = summary[m][s]
                cells += [f"{v['median']:.1f}", f"{v['p95']:.1f}"] if v else ["-", "-"]
            md.append(f"| {s.replace('_', ' ')} | " + " | ".join(cells) + " |")
        totals = []
        for m in MODES:
            med = sum(v["median"] for v in summary[m].values() if v)
            totals.append(f"{med:.0f}")
        md.append("| sum of medians | " + " | | ".join(totals) + " | |")
    md += ["", "![latency budget](latency_budget.png)", ""]
    draw(_plot, bench, sec, summary)
    return sec


def _measure(
    bench: Bench, rows: list[Any], samples: dict[str, dict[str, list[float]]]
) -> tuple[dict[str, dict[str, list[float]]], str]:
    from assistant.dialogue import Dialogue
    from assistant.pipeline import VoicePipeline, build_parts
    from assistant.runtime import open_car
    from workbench.bench.nlu import load_slm
    from workbench.voice_bench import SpeechCache, _settings

    base = _settings("budget")
    settings = dataclasses.replace(base, sim=dataclasses.replace(base.sim, window_travel_s=WINDOW_TRAVEL_S))
    voices = {m: dataclasses.replace(settings.voice, semantic_endpointing=m == "semantic") for m in MODES}
    speech = SpeechCache()
    clips = [speech.get(text, "Hey Jarvis.") for text, _ in rows]
    parts = build_parts(settings, wake=True, tts=True)
    if getattr(parts.synthesizer, "cache_size", 0):
        # cold synthesis: both modes say the same replies, and a cached reply would start at once
        parts.synthesizer.cache_size = 0  # type: ignore[union-attr]
    parser, _ = load_slm(bench)
    bench.log(f"latency: {len(clips)} requests, asr {parts.asr_choice}")
    # a fresh car per request and mode: the second mode must not find the window already open
    with open_car(settings) as car:  # warm-up, not recorded: first-call costs are not a stage's
        pipeline = VoicePipeline(
            parts, Dialogue(parser, car.vehicle), voices["plain"], wake=True, bridge=car.bridge
        )
        pipeline.run(clips[0]) if clips else None
        pipeline.close()
    for i, clip in enumerate(clips):
        wake_end = wake_phrase_end_ms(clip)
        order = MODES if i % 2 == 0 else MODES[::-1]
        for mode in order:
            t0 = time.perf_counter()
            with open_car(settings) as car:
                pipeline = VoicePipeline(
                    parts, Dialogue(parser, car.vehicle), voices[mode], wake=True, bridge=car.bridge
                )
                turns = pipeline.run(clip)
                pipeline.close()
            for vt in turns[:1]:
                for stage, ms in _stages(vt, wake_end).items():
                    if ms == ms:
                        samples[mode][stage].append(ms)
            bench.log(
                f"latency: {i + 1}/{len(clips)} {mode} {time.perf_counter() - t0:.1f} s "
                f"heard {turns[0].text if turns else None!r}"
            )
    return samples, parts.asr_choice


def _plot(bench: Bench, sec: Section, summary: dict[str, dict[str, Any]]) -> None:
    from workbench.bench.plots import pyplot, save

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 2.8))
    bars = [(m, q) for m in MODES for q in ("median", "p95")]
    left = np.zeros(len(bars))
    colors = plt.get_cmap("tab10").colors
    for k, stage in enumerate(STAGES):
        vals = np.array([(summary[m][stage] or {}).get(q, 0.0) for m, q in bars])
        ax.barh(range(len(bars)), vals, left=left, color=colors[k % 10], label=stage.replace("_", " "))
        left += vals
    ax.set_yticks(range(len(bars)), [f"{m} {q}" for m, q in bars])
    ax.invert_yaxis()
    ax.set_xlabel("ms (stages stacked; p95 bars stack each stage's p95)")
    ax.legend(fontsize=6, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.3))
    ax.set_title("pipeline latency budget" if sec.figures["status"] == "ran" else sec.figures["status"][:80])
    sec.plots.append(save(fig, bench.out, "latency_budget.png"))
