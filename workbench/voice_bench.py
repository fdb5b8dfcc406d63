"""Voice benchmarks: the figures of the voice issue's Targets, printed, not asserted.

    python -m workbench.voice_bench accuracy [--set eval/dev_text.tsv] [--snr 10] [--voice V] [--engine E]
    python -m workbench.voice_bench wake [--minutes 30]
    python -m workbench.voice_bench latency [--set ...] [--n 40]
    python -m workbench.voice_bench idle [--seconds 60]
    python -m workbench.voice_bench engines [--engines pocketsphinx whisper:tiny.en] [--dev-n 30] [--ood-n 30]
    python -m workbench.voice_bench followup [--dialogues N] [--snr 10] [--ood N]
    python -m workbench.voice_bench all

Speech is made with piper from each line of the set (cached under
~/.cache/car-workbench/bench, keyed by text and voice); car-like noise is mixed
at the SNR asked. Accuracy is frame accuracy as eval/score_text.py
counts it (intents and slots of every command, in order), through wake-less
``listen`` (the same pipeline, in process). Each figure line starts with
``figure:`` so a log can be grepped.

``engines`` runs every recognizer in the same run, each in a process of its
own (so its memory is its own): frame accuracy on the first ``--dev-n`` dev
lines, false actuation on ``--ood-n`` out-of-domain sentences
(``workbench/bench/false_actuation.py``), both clean and at each ``--snr``;
end of speech -> first CAN frame; memory.

``followup`` speaks tests/data/multiturn.yaml: the first turn after the wake word,
every later one wake-less FOLLOW_UP_GAP_MS after it (where a short reply ends), in
the follow-up window; and out-of-domain sentences (OUT_OF_DOMAIN) in the window
after a request, clean, in car noise and over loud synthetic music, counting the
ones that send a frame (false starts).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from assistant.audio import RATE, AudioChunk, concat, read_wav, silence, split, to_stream_format, write_wav
from assistant.config import CanSettings, Settings, SimSettings
from assistant.nlu.base import REGISTRY as NLU_ENGINES
from assistant.nlu.evalset import DEV_SET, frame_ok, read_set
from assistant.pipeline import VoicePipeline, VoiceTurn, build_parts
from assistant.runtime import open_car, open_dialogue
from assistant.voice_sim import mix_at_snr, request_audio

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "car-assistant" / "bench"


def figure(name: str, value: Any, note: str = "") -> None:
    print(f"figure: {name} = {value}" + (f"  ({note})" if note else ""), flush=True)


PIPER_JOE = "piper:joe"
"""The voice the dev set and the tests are spoken in (piper en_US joe, medium)."""


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

    def get(self, text: str, wake: str | None = None, voice: str = PIPER_JOE) -> AudioChunk:
        """``text`` spoken by ``voice`` (see ``--voice``): [wake phrase,] request, a little silence."""
        tag = "joe-medium" if voice == PIPER_JOE else voice
        key = hashlib.sha256(f"{tag}|{wake}|{text}".encode()).hexdigest()[:20]
        path = CACHE / f"{key}.wav"
        if path.exists():
            return read_wav(path)
        if voice == PIPER_JOE:
            audio = request_audio(self.synth, text, wake)
        else:
            if wake:
                raise ValueError(f"voice {voice!r} speaks requests only; the wake phrase needs {PIPER_JOE}")
            audio = concat([silence(400), other_voice(text, voice), silence(200)])
        write_wav(path, audio)
        return audio


UNSEEN_VOICES = ("espeak-ng:en-gb-x-rp+m1", "espeak-ng:en-us+f2,speed=0.92")
"""Voices the language model's recogniser-in-the-loop data never used (workbench/training/asr_loop.py
trains on piper joe, en-us+m3, en+f3 and asr_loop.MORE_VOICES): British RP with variant m1, and US
English with variant f2 slowed and lowered by 8 % (a sox-style speed change)."""


SYNTHESIZERS = {
    "espeak-ng": ("apt-get install espeak-ng", ("wpm", "pitch", "speed")),
    "flite": ("apt-get install flite", ("speed",)),
}
"""The synthesizers ``other_voice`` runs: how to install each, and its options."""


@functools.cache
def _flite_voices() -> list[str]:
    """flite's voices that speak any text (``awb_time`` speaks only the time of day)."""
    import subprocess

    try:
        listed = subprocess.run(["flite", "-lv"], check=True, capture_output=True, text=True).stdout
    except FileNotFoundError as err:
        raise RuntimeError(f"flite is not installed; run: {SYNTHESIZERS['flite'][0]}") from err
    return [v for v in listed.split(":", 1)[-1].split() if not v.endswith("_time")]


def other_voice(text: str, voice: str) -> AudioChunk:
    """``text`` in an espeak-ng or a flite voice: ``espeak-ng:NAME[,wpm=N][,pitch=P][,speed=F]`` or
    ``flite:NAME[,speed=F]`` (flite's voices: kal, kal16, awb, rms, slt; ``flite -lv``).

    wpm and pitch are espeak-ng's own (-s, -p: 0-99, 50 its default); speed resamples the
    result by F as sox's ``speed`` effect does (pitch and tempo together: 0.9 is lower and slower).
    """
    import subprocess
    import tempfile

    engine, _, spec = voice.partition(":")
    name, *opts = spec.split(",")
    usage = f"use {PIPER_JOE}, espeak-ng:NAME[,wpm=N][,pitch=P][,speed=F] or flite:NAME[,speed=F]"
    try:
        kv = {k: float(v) for k, v in (o.split("=", 1) for o in opts)}
    except ValueError as err:
        raise ValueError(f"voice {voice!r}: {usage}") from err
    if engine not in SYNTHESIZERS or not name or set(kv) - set(SYNTHESIZERS[engine][1]):
        raise ValueError(f"voice {voice!r}: {usage}")
    bounds = {"speed": (0.5, 2.0), "wpm": (80, 450), "pitch": (0, 99)}
    for k, v in kv.items():
        low, high = bounds[k]
        if not low <= v <= high:  # nan too
            raise ValueError(f"voice {voice!r}: {k} must be within {low:g}..{high:g}")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        if engine == "espeak-ng":
            wpm, pitch = str(int(kv.get("wpm", 175))), str(int(kv.get("pitch", 50)))
            cmd = ["espeak-ng", "-v", name, "-s", wpm, "-p", pitch, "-w", str(wav), text]
        else:
            cmd = ["flite", "-voice", name, "-t", text, "-o", str(wav)]
            if name not in _flite_voices():  # flite speaks in its default voice when it knows no name
                raise ValueError(f"voice {voice!r}: flite has the voices {', '.join(_flite_voices())}")
        try:
            subprocess.run(cmd, check=True, capture_output=True)
        except FileNotFoundError as err:
            raise RuntimeError(f"{engine} is not installed; run: {SYNTHESIZERS[engine][0]}") from err
        except subprocess.CalledProcessError as err:
            said = err.stderr.decode(errors="replace")
            raise ValueError(f"voice {voice!r}: {engine} failed: {said}") from err
        audio = to_stream_format(read_wav(wav))
    speed = kv.get("speed", 1.0)
    if speed != 1.0:
        x = audio.array().astype(np.float32) / 32768.0
        n = int(len(x) / speed)
        y = np.interp(np.arange(n) * speed, np.arange(len(x)), x)
        audio = AudioChunk.from_array(y.astype(np.float32))
    return audio


def _number(v: str) -> Any:
    try:
        return float(v)
    except ValueError:
        return v


def _settings(tag: str, nlu_engine: str | None = None, **voice: Any) -> Settings:
    """The product's settings on a bus of the benchmark's own; ``nlu_engine``: --nlu (None: the default)."""
    base = Settings()
    nlu = dataclasses.replace(base.nlu, engine=nlu_engine) if nlu_engine else base.nlu
    return dataclasses.replace(
        base,
        nlu=nlu,
        can=CanSettings(channel=f"bench-{tag}-{os.getpid()}"),
        # the product's travel times (windows 3 s): a reply that waited for the travel would show
        sim=SimSettings(),
        voice=dataclasses.replace(base.voice, **voice),
    )


# -- accuracy ------------------------------------------------------------------------------------


def _accuracy_settings(args: argparse.Namespace, tag: str) -> Settings:
    """``accuracy``'s settings: the recognizer of ``--engine`` (name[:model])."""
    return _engine_settings(args.engine or "auto", tag, args.nlu, semantic_endpointing=not args.plain)


def bench_accuracy(args: argparse.Namespace) -> None:
    rows = read_set(Path(args.set))
    speech = SpeechCache()
    t0 = time.perf_counter()
    clips = [speech.get(text, voice=args.voice) for text, _ in rows]
    print(f"speech ({args.voice}) for {len(rows)} lines: {time.perf_counter() - t0:.0f} s", flush=True)
    settings = _accuracy_settings(args, "acc")
    parts = build_parts(settings, wake=False, tts=False)
    if args.ps:
        from assistant.asr.pocketsphinx import PocketsphinxRecognizer

        if args.engine not in (None, "pocketsphinx"):
            raise SystemExit(f"--ps sets pocketsphinx's options; it does not go with --engine {args.engine}")

        options = {k: _number(v) for k, v in (kv.split("=", 1) for kv in args.ps)}
        parts.recognizer = PocketsphinxRecognizer(**options)
        parts.asr_choice += f" with {options}"
    print(f"asr: {parts.asr_choice}", flush=True)
    for snr in [None, *args.snr]:
        label = "clean" if snr is None else f"{snr:g}dB"
        s = _accuracy_settings(args, f"acc{label}")
        ok = 0
        misses = []
        # where the lines went: acted on as said / right but asked back or dropped by the policy /
        # wrong because the recogniser misheard / wrong though every word was heard (the parser)
        tally = {"acted": 0, "held": 0, "asr": 0, "nlu": 0}
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
                    acted = all(c.get("decision", {}).get("outcome", "acted") == "acted" for c in got)
                    tally["acted" if acted else "held"] += 1
                    if not acted and args.verbose:
                        print(f"  HELD {label} | {text} | {[c['decision']['reason'] for c in got]}")
                else:
                    tally["nlu" if _words(heard) == _words(text) else "asr"] += 1
                    outcome = [(c["intent"], c["slots"], c.get("decision", {}).get("outcome")) for c in got]
                    misses.append((text, heard, outcome))
        if args.verbose:
            for text, heard, shown in misses:
                print(f"  MISS {label} | {text} | heard {heard!r} | got {shown}")
        figure(
            f"frame_accuracy_{label}",
            f"{ok / len(rows):.3f}",
            f"{ok}/{len(rows)}, {time.perf_counter() - t1:.0f} s",
        )
        figure(
            f"lines_{label}",
            " ".join(f"{k}={v}" for k, v in tally.items()),
            "acted: right and done; held: right but asked back or dropped by the policy; "
            "asr: wrong, misheard; nlu: wrong, every word heard",
        )


def _words(text: str) -> list[str]:
    from workbench.bench.speech import words

    return words(text)


# -- follow-ups ----------------------------------------------------------------------------------

MULTITURN = Path(__file__).resolve().parents[1] / "tests" / "data" / "multiturn.yaml"
FOLLOW_UP_GAP_MS = 1500.0
"""Silence between a request and the wake-less follow-up: a short reply's length ("Opening the
driver window."); on a recording the window opens where the request ended."""

OUT_OF_DOMAIN = [
    # written for this benchmark: what passengers say to each other after the assistant answered,
    # some of it near the car's words on purpose
    "did you remember to call your mother back",
    "I think we should stop for coffee soon",
    "the traffic on this road is always terrible",
    "what time does the meeting start tomorrow",
    "look at that old church on the hill",
    "my phone battery is almost dead",
    "we could take the other exit after the bridge",
    "I left the window open at home this morning",
    "the temperature dropped a lot last night",
    "she said the door was locked when she got there",
    "can you believe how expensive petrol has become",
    "the kids are asleep in the back",
    "turn left after the petrol station I think",
    "that song reminds me of our holiday in spain",
    "the weather forecast says rain all weekend",
    "I need to buy bread and milk on the way home",
    "how long until we get there",
    "he parked his car right next to mine",
    "the seats in that restaurant were really uncomfortable",
    "we should have left an hour earlier",
    "there is a strange noise coming from the engine",
    "remind me to water the plants when we are back",
    "the lights in the tunnel were very bright",
    "that was a really good film last night",
    "I am not sure we have enough time",
    "the radio station keeps playing the same songs",
    "open the map on your phone and check the route",
    "your sister sent a message about dinner on friday",
    "the hotel room had a view of the harbour",
    "we passed that sign a few minutes ago",
    "the back seat is full of shopping bags",
    "it is getting dark earlier every day",
    "I wonder if the shop is still open",
    "the fan in my office is broken again",
    "tell me more about your new job",
    "the mirror in the hallway needs cleaning",
    "we need new tyres before the winter",
    "that driver did not even use his indicator",
    "let us listen to something else for a while",
    "the heating at work was on all day",
    # written after the window's gate was tightened on the forty above: not tuned against
    "my brother wants to borrow the car next week",
    "we should plan the trip to the lake in june",
    "do you think it will snow in the mountains",
    "I can never remember where I put my keys",
    "the new bakery makes amazing cinnamon rolls",
    "have you finished reading that book yet",
    "there is a concert in the park on saturday",
    "the neighbours are painting their house blue",
    "I forgot to send that email before we left",
    "the dog needs to go to the vet on monday",
    "what did the doctor say about your knee",
    "the roads are much quieter on sundays",
    "I would love to visit japan one day",
    "our flight leaves at seven in the morning",
    "the garden looks lovely after all that rain",
    "can you check if we still have enough cash",
    "the football match was cancelled because of the storm",
    "my sister is moving to a bigger flat",
    "we need to pick up the parcel from the post office",
    "I think the museum closes at five",
]
FRESH = 40
"""OUT_OF_DOMAIN[FRESH:] were written after the gate was tuned on OUT_OF_DOMAIN[:FRESH]."""
OOD_FIRST = ["turn on the fog lights", "lock the doors", "set the fan to three", "open the sunroof"]
"""Requests that open the window before each out-of-domain sentence (in turn)."""


def music(ms: float, seed: int = 0) -> np.ndarray:
    """Float samples of synthetic instrumental music, RMS about 0.1: chords of harmonic tones that
    change every half second over a kick on each beat (120 bpm). No singing: lyrics are speech, and
    the out-of-domain sentences stand for them."""
    rng = np.random.default_rng(seed)
    n = int(RATE * ms / 1000)
    t = np.arange(n) / RATE
    out = np.zeros(n)
    roots = [220.0, 246.9, 261.6, 293.7, 329.6, 349.2, 392.0]
    step = RATE // 2
    for start in range(0, n, step):
        end = min(n, start + step)
        root = roots[int(rng.integers(len(roots)))]
        seg = t[start:end]
        env = np.exp(-2.0 * (seg - seg[0]))
        for ratio in (1.0, 1.26, 1.5, 2.0):  # a major chord and its octave
            for h in (1, 2, 3):
                out[start:end] += env * np.sin(2 * np.pi * root * ratio * h * seg) / (h * h)
        kick = np.exp(-30 * (seg - seg[0])) * np.sin(2 * np.pi * 60 * (seg - seg[0]))
        out[start:end] += 2.0 * kick
    return (0.1 * out / (np.std(out) + 1e-9)).astype(np.float32)


def _over(audio: AudioChunk, bed: np.ndarray, snr_db: float) -> AudioChunk:
    """``audio`` with ``bed`` (as long or longer) added at speech RMS / bed RMS = ``snr_db``."""
    x = to_stream_format(audio).array().astype(np.float32) / 32768.0
    active = x[np.abs(x) > 0.01 * (np.max(np.abs(x)) + 1e-9)]
    speech_rms = float(np.sqrt(np.mean(active**2))) if len(active) else 1e-4
    b = bed[: len(x)]
    gain = speech_rms / (float(np.sqrt(np.mean(b**2))) * 10 ** (snr_db / 20))
    y = x + gain * b
    peak = float(np.max(np.abs(y)))
    if peak > 0.99:
        y *= 0.99 / peak
    return AudioChunk.from_array(y, RATE)


def _spoken_turns(turns: list[VoiceTurn], starts_ms: list[float]) -> list[list[VoiceTurn]]:
    """The pipeline's turns grouped by the scripted utterance whose stretch each began in."""
    from assistant.voice_sim import request_of

    out: list[list[VoiceTurn]] = [[] for _ in starts_ms]
    for t in turns:
        at = 0.0
        if t.wake is not None:
            at = t.wake.timestamp_ms
        elif t.endpoint is not None:
            at = t.endpoint.speech_start_ms or t.endpoint.at_ms
        out[request_of(at, starts_ms)].append(t)
    return out


def _heard(parts: Any, tag: str, audio: AudioChunk, nlu: str | None) -> list[VoiceTurn]:
    """``audio`` through the pipeline with the wake word on, a fresh car and dialogue of its own, its
    doors locked first as the typed multi-turn test's car has them (the simulated parked car starts
    unlocked, where "unlock the driver door" changes nothing and "not the driver, the passenger" has
    nothing to undo)."""
    from assistant.vehicle.signals import load_signals

    s = _settings(tag, nlu)
    with open_car(s) as car:
        locks = car.bridge.actuate({name: 1 for name in load_signals() if name.endswith(".IsLocked")})
        if set(locks.confirmed) != set(locks.targets):
            raise RuntimeError(f"the simulated car did not lock its doors before dialogue {tag}: {locks}")
        pipeline = VoicePipeline(parts, open_dialogue(s, car), s.voice, bridge=car.bridge, synthesize=False)
        try:
            return pipeline.run(audio)
        finally:
            pipeline.close()


def bench_followup(args: argparse.Namespace) -> None:
    import yaml

    from assistant.nlu.evalset import parse_expected

    dialogues = yaml.safe_load(MULTITURN.read_text(encoding="utf-8"))["dialogues"]
    if args.dialogues:
        dialogues = dialogues[: args.dialogues]
    speech = SpeechCache()
    settings = _settings("fu", args.nlu)
    parts = build_parts(settings, wake=True, tts=False)
    print(f"asr: {parts.asr_choice}; window {settings.voice.follow_up_s:g} s", flush=True)
    for snr in [None, *args.snr]:
        label = "clean" if snr is None else f"{snr:g}dB"
        right = total = first_right = in_window = 0
        misses = []
        firsts: list[tuple[int, str, str, list[VoiceTurn]]] = []
        t0 = time.perf_counter()
        for d, turns in enumerate(dialogues):
            segments: list[AudioChunk] = []
            starts: list[float] = []
            for i, (text, *_rest) in enumerate(turns):
                starts.append(sum(c.duration_ms for c in segments))
                if i:
                    segments.append(silence(FOLLOW_UP_GAP_MS))
                segments.append(speech.get(text, "Hey Jarvis." if i == 0 else None))
            audio = concat(segments)
            if snr is not None:
                audio = mix_at_snr(audio, snr, seed=d)
            heard = _spoken_turns(_heard(parts, f"fu{label}{d}", audio, args.nlu), starts)
            for i, ((text, expected, *flags), these) in enumerate(zip(turns, heard, strict=True)):
                commands = [c for t in these for c in t.commands]
                ok = frame_ok(parse_expected(expected), commands)
                if i == 0:
                    first_right += ok
                    if not ok:
                        firsts.append((d, text, expected, these))
                    continue
                if flags:
                    continue
                total += 1
                right += ok
                in_window += any(t.follow_up for t in these)
                if not ok:
                    misses.append((text, expected, " | ".join(t.text for t in these), commands))
                    if args.verbose:
                        print(f"  DIALOGUE #{d} miss at turn {i}")
                        for (said, want, *_f), them in zip(turns, heard, strict=True):
                            for t in them or [VoiceTurn()]:
                                print(
                                    f"     {said!r} want {want} | heard {t.text!r} | reply {t.reply!r} | "
                                    + "; ".join(
                                        f"{c['intent']}{c['slots']} {c.get('decision', {}).get('outcome')}"
                                        for c in t.commands
                                    )
                                )
        if args.verbose:
            for text, expected, said, got in misses:
                print(f"  MISS {label} | {text} | want {expected} | heard {said!r} | got {got}")
            for d, text, expected, these in firsts:
                for t in these or [VoiceTurn()]:
                    print(
                        f"  FIRST {label} #{d} | {text} | want {expected} | heard {t.text!r} "
                        f"(alternatives {list(t.alternatives)[:4]}) | reply {t.reply!r} | got {t.commands}"
                    )
        figure(
            f"follow_ups_resolved_{label}",
            f"{right / total:.3f}",
            f"{right}/{total} spoken follow-ups of {len(dialogues)} dialogues; {in_window} heard in the "
            f"window; first turns right {first_right}/{len(dialogues)}; {time.perf_counter() - t0:.0f} s",
        )
    bench_false_starts(args, speech, parts)


def bench_false_starts(args: argparse.Namespace, speech: SpeechCache, parts: Any) -> None:
    sentences = OUT_OF_DOMAIN[FRESH:] if args.fresh else OUT_OF_DOMAIN[: args.ood]
    conditions: list[tuple[str, Any]] = [
        ("clean", lambda a, i: a),
        ("car_noise_10dB", lambda a, i: mix_at_snr(a, 10.0, seed=i)),
        # music as loud as the voices: a stereo turned up in a quiet cabin
        ("music_0dB", lambda a, i: _over(a, music(a.duration_ms, seed=i), 0.0)),
    ]
    for label, degrade in conditions:
        frames = commands = answered = windows = 0
        seconds = 0.0
        noted = []
        t0 = time.perf_counter()
        for i, text in enumerate(sentences):
            first = OOD_FIRST[i % len(OOD_FIRST)]
            lead = concat([speech.get(first, "Hey Jarvis."), silence(FOLLOW_UP_GAP_MS)])
            audio = degrade(concat([lead, speech.get(text)]), i)
            turns = _heard(parts, f"fs{label}{i}", audio, args.nlu)
            windows += bool(turns and turns[0].commands)  # the request before opened a window
            seconds += (audio.duration_ms - lead.duration_ms) / 1000
            late = turns[1:]
            sent = sum(len(t.frames) for t in late)
            frames += bool(sent)
            commands += any(t.commands for t in late)
            answered += any(t.reply for t in late)
            if sent or any(t.commands for t in late):
                noted.append((text, [t.text for t in late], [c for t in late for c in t.commands]))
        if args.verbose:
            for text, heard, got in noted:
                print(f"  FALSE START {label} | {text} | heard {heard} | got {got}")
        figure(
            f"window_false_starts_{label}",
            f"{frames}/{len(sentences)}",
            f"out-of-domain sentences that sent a frame; {commands} read as commands, {answered} answered; "
            f"{seconds:.0f} s of talk in {windows} open windows; {time.perf_counter() - t0:.0f} s",
        )
    # music alone in the window: the bed with no voice, a window's length
    frames = commands = 0
    window_ms = _settings("x").voice.follow_up_s * 1000
    for i in range(len(sentences)):
        first = OOD_FIRST[i % len(OOD_FIRST)]
        lead = concat([speech.get(first, "Hey Jarvis."), silence(300)])
        bed = music(lead.duration_ms + window_ms, seed=100 + i)
        quiet = to_stream_format(lead).array().astype(np.float32) / 32768.0
        mix = np.concatenate([quiet, np.zeros(len(bed) - len(quiet), np.float32)])
        # the stereo plays at the request's own loudness (0 dB) from start to end
        audio = _over(AudioChunk.from_array(mix, RATE), bed, 0.0)
        turns = _heard(parts, f"fm{i}", audio, args.nlu)
        frames += bool(sum(len(t.frames) for t in turns[1:]))
        commands += any(t.commands for t in turns[1:])
    figure(
        "window_false_starts_music_alone",
        f"{frames}/{len(sentences)}",
        f"windows of synthetic music at 0 dB and no voice; {commands} read as commands",
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
    parts = build_parts(_settings("lat", args.nlu), wake=False, tts=True)
    if getattr(parts.synthesizer, "cache_size", 0):
        # every reply synthesised afresh: the plain and semantic passes say the same replies
        parts.synthesizer.cache_size = 0  # type: ignore[union-attr]
    print(f"asr: {parts.asr_choice}", flush=True)
    for mode in ("plain", "semantic"):
        s = _settings(f"lat{mode}", args.nlu, semantic_endpointing=mode == "semantic")
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


# -- every recognizer side by side ---------------------------------------------------------------

ENGINES = ("pocketsphinx", "vosk", "whisper:tiny.en", "whisper:base")
"""Recognizers compared by ``engines``: registry name, and the model after a colon."""
HARDWARE = {
    "pi4": ("Raspberry Pi 4 (4x Cortex-A72 1.5 GHz)", 4.0),
    "pi5": ("Raspberry Pi 5 (4x Cortex-A76 2.4 GHz)", 1.6),
    "jetson": ("Jetson Orin Nano, CPU only (6x Cortex-A78AE 1.5 GHz)", 2.0),
}
"""Slow-down of compute against one core of this machine (AMD EPYC), an estimate from single-core
benchmark scores (Geekbench-class: EPYC about 4x a Pi 4 core, 2.5x a Pi 5, 2x an Orin Nano); the
silence an endpoint waits for does not scale. Jetson's GPU (CTranslate2 on CUDA) is not estimated."""
LATENCY_BAR_MS = 400.0
"""End of speech -> first CAN frame, median (issue 10's target)."""


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _engine_settings(spec: str, tag: str, nlu: str | None, **extra: Any) -> Settings:
    """Settings with the recognizer ``spec`` (registry name, and the model after a colon)."""
    name, _, model = spec.partition(":")
    voice: dict[str, Any] = {"asr_engine": name, **extra}
    if model:
        voice["whisper_model"] = model
    return _settings(tag, nlu, **voice)


class _CarBench:
    """Recordings through wake-less ``listen`` on one simulated car, a fresh dialogue per recording."""

    def __init__(self, parts: Any, settings: Settings) -> None:
        self.parts = parts
        self.settings = settings
        self.car = open_car(settings)

    def run(self, audio: AudioChunk) -> list[VoiceTurn]:
        s, car = self.settings, self.car
        pipeline = VoicePipeline(
            self.parts, open_dialogue(s, car), s.voice, wake=False, synthesize=False, bridge=car.bridge
        )
        turns = pipeline.run(audio)
        pipeline.close()
        return turns

    def fresh_car(self) -> None:
        self.car.close()
        self.car = open_car(self.settings)

    def close(self) -> None:
        self.car.close()


def measure_engine(
    spec: str, dev_set: Path, dev_n: int, ood_n: int, snrs: list[float], nlu: str | None = None
) -> dict[str, Any]:
    """Accuracy, false actuation, latency and memory of one recognizer (run it in a process of its own)."""
    from workbench.bench.false_actuation import Tally, Voices, measure, ood_sentences, recordings, tally

    result: dict[str, Any] = {"engine": spec, "dev_n": dev_n, "ood_n": ood_n}
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    try:
        parts = build_parts(_engine_settings(spec, "eng", nlu), wake=False, tts=False)
    except Exception as err:  # a recognizer that cannot load is a row saying why
        result["status"] = f"not run: {err}"
        return result
    result["status"] = "ran"
    result["asr_choice"] = parts.asr_choice
    result["load_s"] = round(time.perf_counter() - t0, 2)
    result["rss_load_mb"] = round(_rss_mb() - rss0, 1)
    rows = read_set(dev_set)[:dev_n]
    speech = SpeechCache()
    dev_clips = [speech.get(text) for text, _ in rows]
    ood = recordings(Voices(CACHE / "ood"), ood_sentences(ood_n))
    result["ood_voices"] = sorted({v for v, _, _ in ood})
    for snr in [None, *snrs]:
        label = "clean" if snr is None else f"{snr:g}dB"
        bench = _CarBench(parts, _engine_settings(spec, f"eng{label}", nlu))
        run_clip = bench.run

        ok = 0
        frame_ms: list[float] = []
        compute_ms: list[float] = []
        endpoint_ms: list[float] = []
        asr_ms: list[float] = []
        misses = []
        try:
            for (text, expected), clip in zip(rows, dev_clips, strict=True):
                audio = clip if snr is None else mix_at_snr(clip, snr, seed=zlib.crc32(text.encode()) % 1000)
                turns = run_clip(audio)
                got = [c for t in turns for c in t.commands]
                if frame_ok(expected, got):
                    ok += 1
                else:
                    misses.append(f"{text} | heard {' | '.join(t.text for t in turns)!r}")
                for t in turns[:1]:
                    asr_ms.append(t.timings_ms["asr_final"])
                    if "eos_to_frame" in t.timings_ms:
                        frame_ms.append(t.timings_ms["eos_to_frame"])
                        endpoint_ms.append(t.timings_ms["endpoint_delay"])
                        compute_ms.append(t.timings_ms["first_frame"])
            outcomes = []
            for rec in ood:
                [o] = measure(run_clip, [rec], snr)
                outcomes.append(o)
                if o.frames:
                    # a fresh car: what this recording moved must not hide what the next one would
                    bench.fresh_car()
            fa: Tally = tally(outcomes)
        finally:
            bench.close()
        result[label] = {
            "frame_acc": round(ok / max(len(rows), 1), 4),
            "frame_ok": ok,
            "misses": misses[:10],
            "ood": fa.to_json(),
            "eos_to_frame_ms": _stats(frame_ms),
            "asr_final_ms": _stats(asr_ms),
            "endpoint_delay_ms": _stats(endpoint_ms),
            "estimates_ms": {
                hw: _stats([e + factor * c for e, c in zip(endpoint_ms, compute_ms, strict=True)])
                for hw, (_, factor) in HARDWARE.items()
            },
        }
    result["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    return result


def _peak_rss_mb() -> float:
    """This process's peak RSS since exec (VmHWM): ru_maxrss would carry the parent's peak over a fork."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    median = round(statistics.median(values), 1)
    return {"n": len(values), "median": median, "p95": round(_pct(values, 95), 1)}


def run_engines(
    specs: list[str],
    dev_set: Path,
    dev_n: int,
    ood_n: int,
    snrs: list[float],
    log: Any = print,
    nlu: str | None = None,
) -> list[dict[str, Any]]:
    """``measure_engine`` for each spec, one process each, one after the other (never two at once)."""
    from workbench.bench.false_actuation import Voices, ood_sentences, recordings

    # the speech is made here, once: the engines' processes only read the WAVs (piper's memory is not theirs)
    speech = SpeechCache()
    for text, _ in read_set(dev_set)[:dev_n]:
        speech.get(text)
    recordings(Voices(CACHE / "ood"), ood_sentences(ood_n))
    out = []
    for spec in specs:
        cmd = [
            sys.executable, "-m", "workbench.voice_bench", "engine", "--engine", spec, "--set", str(dev_set),
            "--dev-n", str(dev_n), "--ood-n", str(ood_n), "--snr", *[f"{x:g}" for x in snrs],
        ]
        if nlu:
            cmd += ["--nlu", nlu]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("engine-result: ")]
        if lines:
            result = json.loads(lines[-1][len("engine-result: "):])
        else:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            result = {"engine": spec, "status": f"not run: the run failed ({tail})"}
        result["load_average"] = open("/proc/loadavg").read().split()[0]
        result["wall_s"] = round(time.perf_counter() - t0, 1)
        log(f"{spec}: {result['status']} in {result['wall_s']:.0f} s")
        out.append(result)
    return out


def _share(ood: dict[str, Any], key: str) -> str:
    return f"{ood[key + '_share']:.2f} ({ood[key]}/{ood['n']})"


def engines_table(results: list[dict[str, Any]], snrs: list[float]) -> list[str]:
    """Markdown: one row per recognizer, the figures of ``measure_engine``."""
    labels = ["clean", *[f"{x:g}dB" for x in snrs]]
    head = (
        "| recognizer | "
        + " | ".join(f"dev frame acc {lab}" for lab in labels)
        + " | "
        + " | ".join(f"OOD sent a frame {lab}" for lab in labels)
        + " | "
        + " | ".join(f"OOD moved security/safety {lab}" for lab in labels)
        + " | end of speech -> first frame, median (p95) ms | ASR final pass median ms | "
        + " | ".join(f"{hw} estimate median ms" for hw in HARDWARE)
        + " | RSS of the voice parts MB | peak RSS MB |"
    )
    md = [head, "|" + " --- |" + " ---: |" * (3 * len(labels) + 4 + len(HARDWARE))]
    for r in results:
        if r.get("status") != "ran":
            blanks = " - |" * (3 * len(labels) + 3 + len(HARDWARE))
            md.append(f"| {r['engine']} | {r.get('status')} |" + blanks)
            continue
        clean = r["clean"]
        lat = clean["eos_to_frame_ms"]

        md.append(
            f"| {r['engine']} | "
            + " | ".join(f"{r[lab]['frame_acc']:.2f}" for lab in labels)
            + " | "
            + " | ".join(_share(r[lab]["ood"], "sent_any_frame") for lab in labels)
            + " | "
            + " | ".join(_share(r[lab]["ood"], "moved_security_safety") for lab in labels)
            + f" | {lat.get('median', float('nan')):.0f} ({lat.get('p95', float('nan')):.0f})"
            + f" | {clean['asr_final_ms'].get('median', float('nan')):.0f} | "
            + " | ".join(f"{clean['estimates_ms'][hw].get('median', float('nan')):.0f}" for hw in HARDWARE)
            + f" | {r['rss_load_mb']:.0f} | {r['peak_rss_mb']:.0f} |"
        )
    return md


def default_engine(results: list[dict[str, Any]], hardware: str = "pi4") -> tuple[str, str]:
    """The most accurate recognizer (10 dB, then clean) whose estimated median meets the latency bar."""
    fits = []
    for r in results:
        if r.get("status") != "ran":
            continue
        est = r["clean"]["estimates_ms"][hardware].get("median", float("inf"))
        if est <= LATENCY_BAR_MS:
            noisy = [r[k]["frame_acc"] for k in r if k.endswith("dB") and isinstance(r[k], dict)]
            fits.append((min(noisy, default=0.0), r["clean"]["frame_acc"], r["engine"], est))
    if not fits:
        return "", f"no recognizer meets {LATENCY_BAR_MS:.0f} ms on the {hardware} estimate"
    *_, name, est = max(fits)
    return name, f"estimated {est:.0f} ms on {hardware} (bar {LATENCY_BAR_MS:.0f} ms)"


def bench_engines(args: argparse.Namespace) -> None:
    print(
        f"every recognizer: {args.dev_n} dev lines (piper joe) and {args.ood_n} out-of-domain sentences "
        f"(voices in turn), clean and at {args.snr} dB; load average "
        f"{open('/proc/loadavg').read().split()[0]} on {os.cpu_count()} cores",
        flush=True,
    )
    results = run_engines(args.engines, Path(args.set), args.dev_n, args.ood_n, args.snr, nlu=args.nlu)
    for r in results:
        if r.get("status") != "ran":
            figure(f"engine_{r['engine']}", r["status"])
            continue
        for label in ["clean", *[f"{x:g}dB" for x in args.snr]]:
            x = r[label]
            figure(f"{r['engine']}_frame_accuracy_{label}", f"{x['frame_acc']:.3f}", f"n={r['dev_n']}")
            o = x["ood"]
            figure(
                f"{r['engine']}_ood_sent_any_frame_{label}",
                f"{o['sent_any_frame_share']:.3f}",
                f"{o['sent_any_frame']}/{o['n']}; "
                f"moved security/safety {o['moved_security_safety']}/{o['n']}",
            )
        lat = r["clean"]["eos_to_frame_ms"]
        figure(
            f"{r['engine']}_eos_to_first_can_frame_ms",
            f"median {lat.get('median')}, p95 {lat.get('p95')}",
            f"n={lat['n']}",
        )
        figure(f"{r['engine']}_memory_mb", f"voice parts {r['rss_load_mb']}, peak {r['peak_rss_mb']}")
    for line in engines_table(results, args.snr):
        print(line)
    name, why = default_engine(results)
    figure("default_engine_pi4", name or "none", why)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


def bench_engine(args: argparse.Namespace) -> None:
    engine = args.engine or "pocketsphinx"
    result = measure_engine(engine, Path(args.set), args.dev_n, args.ood_n, args.snr, args.nlu)
    print("engine-result: " + json.dumps(result), flush=True)


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

    settings = _settings("idle", args.nlu)
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
    ap = argparse.ArgumentParser(prog="python -m workbench.voice_bench", description=__doc__.splitlines()[0])
    ap.add_argument(
        "what", choices=["accuracy", "wake", "latency", "idle", "engines", "engine", "followup", "all"]
    )
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
    ap.add_argument("--nlu", choices=NLU_ENGINES.choices, help="language engine (default: configured)")
    ap.add_argument(
        "--voice",
        default=PIPER_JOE,
        help=f"accuracy: who speaks the set: {PIPER_JOE}, espeak-ng:NAME[,wpm=N][,pitch=P][,speed=F] "
        "or flite:NAME[,speed=F]",
    )
    ap.add_argument("--plain", action="store_true", help="accuracy: silence endpointing only")
    ap.add_argument(
        "--fresh", action="store_true", help="followup: only the out-of-domain sentences not tuned against"
    )
    ap.add_argument("--dialogues", type=int, default=0, help="followup: the first N dialogues (0: all)")
    ap.add_argument(
        "--ood", type=int, default=len(OUT_OF_DOMAIN), help="followup: out-of-domain sentences in the window"
    )
    ap.add_argument("-v", "--verbose", action="store_true", help="accuracy: print every miss")
    ap.add_argument("--engines", nargs="*", default=list(ENGINES), help="engines: recognizers to compare")
    ap.add_argument(
        "--engine", help="engine, accuracy: the one recognizer to measure (default: pocketsphinx; accuracy: "
        "the product's choice, voice.asr_engine auto)"
    )
    ap.add_argument("--dev-n", type=int, default=30, help="engines: dev lines (the first n)")
    ap.add_argument("--ood-n", type=int, default=30, help="engines: out-of-domain sentences (the first n)")
    ap.add_argument("--json-out", help="engines: write every figure here as JSON")
    args = ap.parse_args(argv)
    print(f"nlu: {_settings('x', args.nlu).nlu.engine}", flush=True)
    if args.what == "wake" or args.what == "all":
        args.snr_list = args.snr
    steps = ["accuracy", "wake", "latency", "idle"] if args.what == "all" else [args.what]
    for step in steps:
        print(f"== {step}", flush=True)
        if step == "wake":
            wake_args = argparse.Namespace(**{**vars(args), "snr": args.snr[0] if args.snr else 10.0})
            bench_wake(wake_args)
        else:
            {
                "accuracy": bench_accuracy,
                "latency": bench_latency,
                "idle": bench_idle,
                "engines": bench_engines,
                "engine": bench_engine,
                "followup": bench_followup,
            }[step](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
