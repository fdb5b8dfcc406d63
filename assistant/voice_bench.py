"""Voice benchmarks: the figures of the voice issue's Targets, printed, not asserted.

    python -m assistant.voice_bench accuracy [--set eval/dev_text.tsv] [--snr 10]
    python -m assistant.voice_bench wake [--minutes 30]
    python -m assistant.voice_bench latency [--set ...] [--n 40]
    python -m assistant.voice_bench idle [--seconds 60]
    python -m assistant.voice_bench all

Speech is made with piper from each line of the set (cached under
~/.cache/car-assistant/bench, keyed by text and voice); car-like noise is mixed
at the SNR asked. Accuracy is frame accuracy as eval/score_text.py
counts it (intents and slots of every command, in order), through wake-less
``listen`` (the same pipeline, in process). Each figure line starts with
``figure:`` so a log can be grepped.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import resource
import statistics
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from assistant.audio import AudioChunk, concat, read_wav, split, write_wav
from assistant.config import CanSettings, Settings, SimSettings
from assistant.nlu.evalset import DEV_SET, frame_ok, read_set
from assistant.pipeline import VoicePipeline, VoiceTurn, build_parts
from assistant.runtime import open_car, open_dialogue
from assistant.voice_sim import mix_at_snr, request_audio

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "car-assistant" / "bench"


def figure(name: str, value: Any, note: str = "") -> None:
    print(f"figure: {name} = {value}" + (f"  ({note})" if note else ""), flush=True)


# -- the set -------------------------------------------------------------------------------------


class SpeechCache:
    """Piper speech per text, made once and kept as WAV files."""

    def __init__(self) -> None:
        self._synth: Any = None
        CACHE.mkdir(parents=True, exist_ok=True)

    @property
    def synth(self) -> Any:
        if self._synth is None:
            from assistant.tts.piper import PiperSynthesizer

            self._synth = PiperSynthesizer()
            self._synth.load()
        return self._synth

    def get(self, text: str, wake: str | None = None) -> AudioChunk:
        key = hashlib.sha256(f"joe-medium|{wake}|{text}".encode()).hexdigest()[:20]
        path = CACHE / f"{key}.wav"
        if path.exists():
            return read_wav(path)
        audio = request_audio(self.synth, text, wake)
        write_wav(path, audio)
        return audio


def _number(v: str) -> Any:
    try:
        return float(v)
    except ValueError:
        return v


NLU_ENGINE: str | None = None
"""--nlu: the language engine the benchmarks run with (None: the configured default)."""


def _settings(tag: str, **voice: Any) -> Settings:
    base = Settings()
    nlu = dataclasses.replace(base.nlu, engine=NLU_ENGINE) if NLU_ENGINE else base.nlu
    return dataclasses.replace(
        base,
        nlu=nlu,
        can=CanSettings(channel=f"bench-{tag}-{os.getpid()}"),
        # the product's travel times (windows 3 s): a reply that waited for the travel would show
        sim=SimSettings(),
        voice=dataclasses.replace(base.voice, **voice),
    )


# -- accuracy ------------------------------------------------------------------------------------


def bench_accuracy(args: argparse.Namespace) -> None:
    rows = read_set(Path(args.set))
    speech = SpeechCache()
    t0 = time.perf_counter()
    clips = [speech.get(text) for text, _ in rows]
    print(f"speech for {len(rows)} lines ready in {time.perf_counter() - t0:.0f} s", flush=True)
    settings = _settings("acc", semantic_endpointing=not args.plain)
    parts = build_parts(settings, wake=False, tts=False)
    if args.ps:
        from assistant.asr.pocketsphinx import PocketsphinxRecognizer

        options = {k: _number(v) for k, v in (kv.split("=", 1) for kv in args.ps)}
        parts.recognizer = PocketsphinxRecognizer(**options)
        parts.asr_choice += f" with {options}"
    print(f"asr: {parts.asr_choice}", flush=True)
    for snr in [None, *args.snr]:
        label = "clean" if snr is None else f"{snr:g}dB"
        s = _settings(f"acc{label}", semantic_endpointing=not args.plain)
        ok = 0
        misses = []
        t1 = time.perf_counter()
        with open_car(s) as car:
            for (text, expected), clip in zip(rows, clips, strict=True):
                audio = clip if snr is None else mix_at_snr(clip, snr, seed=zlib.crc32(text.encode()) % 1000)
                # a fresh dialogue per line: no pending question leaks into the next line
                pipeline = VoicePipeline(parts, open_dialogue(s, car), s.voice, wake=False, synthesize=False)
                turns = pipeline.run(audio)
                pipeline.close()
                got = [c for t in turns for c in t.commands]
                heard = " | ".join(t.text for t in turns if t.text)
                if frame_ok(expected, got):
                    ok += 1
                else:
                    misses.append((text, heard, [(c["intent"], c["slots"]) for c in got]))
        if args.verbose:
            for text, heard, shown in misses:
                print(f"  MISS {label} | {text} | heard {heard!r} | got {shown}")
        figure(
            f"frame_accuracy_{label}",
            f"{ok / len(rows):.3f}",
            f"{ok}/{len(rows)}, {time.perf_counter() - t1:.0f} s",
        )


# -- wake ----------------------------------------------------------------------------------------


def bench_wake(args: argparse.Namespace) -> None:
    from assistant.wake.micro import MicroWakeDetector

    speech = SpeechCache()
    rows = read_set(Path(args.set))
    detector = MicroWakeDetector(args.wake_word)
    # positives: "Hey Jarvis." then a request, at several paces, in car noise
    texts = [text for text, _ in rows][: args.positives]
    hits = 0
    for i, text in enumerate(texts):
        clip = speech.get(text, "Hey Jarvis.")
        audio = mix_at_snr(clip, args.snr, seed=i)
        detector.reset()
        if any(detector.process(c) for c in split(audio, 30)):
            hits += 1
    figure(f"wake_detect_rate_{args.snr:g}dB", f"{hits / len(texts):.3f}", f"{hits}/{len(texts)} clips")
    # negatives: the dev set's speech without the wake word, in noise, looped to the length asked
    plain = [speech.get(text) for text, _ in rows]
    block = concat(plain)
    target_ms = args.minutes * 60_000
    detector.reset()
    false = 0
    done_ms = 0.0
    loop = 0
    t0 = time.perf_counter()
    while done_ms < target_ms:
        audio = mix_at_snr(block, args.snr, seed=1000 + loop)
        for c in split(audio, 30):
            if detector.process(AudioChunk(c.rate, c.width, c.channels, c.audio, done_ms + c.timestamp_ms)):
                false += 1
        done_ms += block.duration_ms
        loop += 1
    cpu = time.perf_counter() - t0
    figure(
        "wake_false_accepts",
        false,
        f"over {done_ms / 60000:.1f} min of dev-set speech in {args.snr:g} dB "
        f"car noise, no wake word; processed in {cpu:.0f} s",
    )


# -- latency -------------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


def bench_latency(args: argparse.Namespace) -> None:
    rows = [r for r in read_set(Path(args.set)) if r[1]][: args.n]
    speech = SpeechCache()
    clips = [speech.get(text) for text, _ in rows]
    results: dict[str, dict[str, list[float]]] = {}
    parts = build_parts(_settings("lat"), wake=False, tts=True)
    if getattr(parts.synthesizer, "cache_size", 0):
        # every reply synthesised afresh: the plain and semantic passes say the same replies
        parts.synthesizer.cache_size = 0  # type: ignore[union-attr]
    print(f"asr: {parts.asr_choice}", flush=True)
    for mode in ("plain", "semantic"):
        s = _settings(f"lat{mode}", semantic_endpointing=mode == "semantic")
        r: dict[str, list[float]] = {
            "frame": [],
            "audio": [],
            "endpoint": [],
            "semantic_used": [],
            "asr_final": [],
            "dialogue_total": [],
            "tts_first": [],
        }
        with open_car(s) as car:
            for clip in clips:
                pipeline = VoicePipeline(parts, open_dialogue(s, car), s.voice, wake=False, bridge=car.bridge)
                turns: list[VoiceTurn] = pipeline.run(clip)
                pipeline.close()
                for t in turns[:1]:
                    if "eos_to_frame" in t.timings_ms:
                        r["frame"].append(t.timings_ms["eos_to_frame"])
                    if "eos_to_audio" in t.timings_ms:
                        r["audio"].append(t.timings_ms["eos_to_audio"])
                    r["endpoint"].append(t.timings_ms["endpoint_delay"])
                    r["asr_final"].append(t.timings_ms["asr_final"])
                    if "dialogue_total" in t.timings_ms:
                        r["dialogue_total"].append(t.timings_ms["dialogue_total"])
                    if "first_audio" in t.timings_ms and "dialogue_total" in t.timings_ms:
                        r["tts_first"].append(
                            t.timings_ms["first_audio"]
                            - t.timings_ms["asr_final"]
                            - t.timings_ms["dialogue_total"]
                        )
                    r["semantic_used"].append(1.0 if t.endpoint and t.endpoint.reason == "semantic" else 0.0)
        results[mode] = r
        for key, label in (
            ("frame", "eos_to_first_can_frame_ms"),
            ("audio", "eos_to_first_reply_audio_ms"),
            ("endpoint", "endpoint_delay_ms"),
            ("asr_final", "asr_final_pass_ms"),
            ("dialogue_total", "parse_vehicle_confirm_ms"),
            ("tts_first", "tts_first_sentence_ms"),
        ):
            v = r[key]
            figure(
                f"{label}_{mode}", f"median {statistics.median(v):.0f}, p95 {_pct(v, 95):.0f}", f"n={len(v)}"
            )
        figure(f"semantic_endpoints_{mode}", f"{sum(r['semantic_used']):.0f}/{len(r['semantic_used'])}")
    figure(
        "load_average",
        open("/proc/loadavg").read().split()[0],
        "2 cores shared; TTS and ASR times scale with it",
    )
    saved = statistics.median(results["plain"]["endpoint"]) - statistics.median(
        results["semantic"]["endpoint"]
    )
    figure("semantic_endpointing_saving_ms", f"{saved:.0f}", "median endpoint delay, plain minus semantic")


# -- idle CPU and memory -------------------------------------------------------------------------


def _paced_cpu(seconds: float, step: Any) -> float:
    """Percent of one core this process uses while ``step()`` runs every 30 ms of wall time."""
    t_wall = time.perf_counter()
    t_cpu = time.process_time()
    next_at = t_wall
    while time.perf_counter() < t_wall + seconds:
        step()
        next_at += 0.030
        pause = next_at - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    return 100 * (time.process_time() - t_cpu) / (time.perf_counter() - t_wall)


def bench_idle(args: argparse.Namespace) -> None:
    """Idle listening at real-time pace on cabin noise: CPU of the whole process, of each stage; peak RSS.

    Between requests the pipeline runs the wake word only; the VAD starts with a request. The
    process also holds the CAN bridge and, on a bench, the simulated car, measured on their own.
    """
    from assistant.voice_sim import noise_only
    from assistant.wake.micro import MicroWakeDetector

    settings = _settings("idle")
    parts = build_parts(settings, tts=True)
    noise = concat([noise_only(10_000, -35.0, seed=s) for s in range(3)])
    blocks = list(split(noise, 30))
    counter = iter(range(10**9))

    def block() -> AudioChunk:
        return blocks[next(counter) % len(blocks)]

    with open_car(settings) as car:
        pipeline = VoicePipeline(parts, open_dialogue(settings, car), settings.voice, bridge=car.bridge)
        car_only = _paced_cpu(args.seconds / 2, lambda: None)
        whole = _paced_cpu(args.seconds, lambda: pipeline.feed(block()))
        pipeline.close()
    wake = MicroWakeDetector(args.wake_word)
    t = time.process_time()
    for b in blocks:
        wake.process(b)
    wake_pct = 100 * (time.process_time() - t) / (noise.duration_ms / 1000)
    vad = parts.vad
    t = time.process_time()
    for b in blocks:
        vad.process(b)
    vad_pct = 100 * (time.process_time() - t) / (noise.duration_ms / 1000)
    figure(
        "idle_cpu_percent_whole_process",
        f"{whole:.1f}",
        f"{args.seconds:.0f} s real-time pace, wake word listening + CAN bridge + simulated car",
    )
    figure("idle_cpu_percent_car_side_only", f"{car_only:.1f}", "CAN bridge + simulated car, no audio")
    figure("cpu_percent_wake_word", f"{wake_pct:.2f}", "per second of audio, hey_jarvis")
    figure("cpu_percent_vad", f"{vad_pct:.2f}", "per second of audio, silero (runs during requests)")
    figure("idle_listening_wake_plus_vad_percent", f"{wake_pct + vad_pct:.2f}", "if both ran all the time")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figure("peak_rss_mb", f"{rss_mb:.0f}", "whole assistant: piper, pocketsphinx, wake, VAD, parser, car")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m assistant.voice_bench", description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["accuracy", "wake", "latency", "idle", "all"])
    ap.add_argument("--set", default=str(DEV_SET), help="TSV of text<TAB>expected commands")
    ap.add_argument("--snr", type=float, nargs="*", default=[10.0], help="noise levels (dB) besides clean")
    ap.add_argument(
        "--minutes", type=float, default=30.0, help="wake: minutes of speech without the wake word"
    )
    ap.add_argument("--positives", type=int, default=100, help="wake: positive clips")
    ap.add_argument("--wake-word", default="hey_jarvis")
    ap.add_argument("--n", type=int, default=40, help="latency: requests")
    ap.add_argument("--seconds", type=float, default=60.0, help="idle: seconds at real-time pace")
    ap.add_argument("--ps", nargs="*", default=[], metavar="KEY=VALUE", help="pocketsphinx decoder options")
    ap.add_argument("--nlu", choices=["slm", "templates"], help="language engine (default: configured)")
    ap.add_argument("--plain", action="store_true", help="accuracy: silence endpointing only")
    ap.add_argument("-v", "--verbose", action="store_true", help="accuracy: print every miss")
    args = ap.parse_args(argv)
    global NLU_ENGINE
    NLU_ENGINE = args.nlu
    print(f"nlu: {_settings('x').nlu.engine}", flush=True)
    if args.what == "wake" or args.what == "all":
        args.snr_list = args.snr
    steps = ["accuracy", "wake", "latency", "idle"] if args.what == "all" else [args.what]
    for step in steps:
        print(f"== {step}", flush=True)
        if step == "wake":
            wake_args = argparse.Namespace(**{**vars(args), "snr": args.snr[0] if args.snr else 10.0})
            bench_wake(wake_args)
        else:
            {"accuracy": bench_accuracy, "latency": bench_latency, "idle": bench_idle}[step](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
