"""False starts in the follow-up window: out-of-domain talk heard right after a reply.

    python -m workbench.bench.window_false_starts [--minutes 30] [--conditions clean car_noise_10dB music_0dB]
                                                  [--music-windows 60] [-v]

The talk is every sentence of ``window_talk.txt`` (passenger chatter written for this check), of
``ood_sentences.txt`` and of voice_bench's ``OUT_OF_DOMAIN``, each spoken by every voice of
``false_actuation.VOICES`` (piper joe and two espeak-ng voices), until ``--minutes`` of talk; made
once and cached under ``--cache`` (default /tmp/car-assistant-window-talk, not the repository).

Each recording is fed through one pipeline on the simulated car as if it came right after a reply:
a typed request (one of ``LEADS`` in turn, so the dialogue's context is live and a follow-up phrase
would resolve) is acted on, the follow-up window is opened, and the recording plus a window of
silence follow. The dialogue's context runs on stream time, as live. A false start is a recording
after which the window acted on a command, asked back, answered, or sent any CAN frame. Conditions:
clean, car noise at 10 dB (``voice_sim.mix_at_snr``), and over loud synthetic music (0 dB,
voice_bench's ``music``); then windows of music alone with no voice (``--music-windows``).

Prints one ``figure:`` line per condition, and with ``-v`` every false start with the posterior and
the word coverage the window's gate read (``--sentences`` runs only the given ones again).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.audio import AudioChunk, concat, silence, split, to_stream_format
from workbench.bench.false_actuation import OOD_SENTENCES, VOICES, Voices, ood_sentences

TALK = Path(__file__).with_name("window_talk.txt")
CACHE = Path("/tmp/car-assistant-window-talk")
LEADS = (
    "lock the doors",
    "turn on the passenger seat heating",
    "set the fan to three",
    "set the driver side to twenty one degrees",
    "turn on the fog lights",
    "unlock the doors",
    "turn the seat heating off",
)
"""Requests acted on just before each recording (in turn): doors, seats and zones make "the other
one" or "and the passenger side too" resolvable, so the window is at its most permissive."""


def talk_sentences() -> list[str]:
    """Every out-of-domain sentence: window_talk.txt, then ood_sentences.txt, then OUT_OF_DOMAIN."""
    from workbench.voice_bench import OUT_OF_DOMAIN

    text = TALK.read_text(encoding="utf-8")
    lines = [s.strip() for s in text.splitlines() if s.strip() and not s.startswith("#")]
    seen: dict[str, None] = {}
    for s in [*lines, *ood_sentences(), *OUT_OF_DOMAIN]:
        seen.setdefault(s, None)
    return list(seen)


def recordings(
    voices: Voices, minutes: float, log: Callable[[str], None] = print
) -> list[tuple[str, str, AudioChunk]]:
    """(voice, text, audio) until ``minutes`` of talk: every sentence once, the voices taken in turn, then
    every sentence again by the next voice, and so on (any first stretch has all voices alike)."""
    out: list[tuple[str, str, AudioChunk]] = []
    total = 0.0
    t0 = time.perf_counter()
    for round_ in range(len(VOICES)):
        for i, text in enumerate(talk_sentences()):
            if total >= minutes * 60_000:
                return out
            voice = VOICES[(i + round_) % len(VOICES)]
            audio = voices.get(text, voice)
            out.append((voice, text, audio))
            total += audio.duration_ms
        log(f"speech round {round_ + 1} ready ({total / 60_000:.1f} min, {time.perf_counter() - t0:.0f} s)")
    return out


@dataclass
class Count:
    label: str
    n: int = 0
    seconds: float = 0.0
    false_starts: int = 0
    acted: int = 0
    asked: int = 0
    answered: int = 0
    frames: int = 0
    woke: int = 0
    dropped: int = 0
    """Recordings the window heard words in and dropped (logged as not for the assistant)."""
    examples: list[str] = field(default_factory=list)
    wall_s: float = 0.0


def _settings(tag: str) -> Any:
    from assistant.config import AuditSettings, CanSettings, Settings, SimSettings

    base = Settings()
    return dataclasses.replace(
        base,
        can=CanSettings(channel=f"window-{tag}-{os.getpid()}"),
        sim=SimSettings(),
        audit=AuditSettings(enabled=False),  # the bench's turns are no driver's
    )


def measure(parts: Any, label: str, clips: list[tuple[str, AudioChunk]], verbose: bool = False) -> Count:
    """Each clip in the window after a typed request, one pipeline and car for them all."""
    from assistant.pipeline import VoicePipeline, word_coverage
    from assistant.runtime import open_car, open_dialogue

    s = _settings(label)
    count = Count(label)
    t0 = time.perf_counter()
    with open_car(s) as car:
        dialogue = open_dialogue(s, car)
        now = [0.0]
        dialogue.context.clock = lambda: now[0]  # stream time, as live
        pipeline = VoicePipeline(parts, dialogue, s.voice, bridge=car.bridge, synthesize=False)
        pipeline.reset(channel=concat([c for _, c in clips[:3]]))
        tail = silence(s.voice.follow_up_s * 1000 + s.voice.trailing_silence_ms + 500)
        try:
            for i, (text, clip) in enumerate(clips):
                turn = dialogue.handle(LEADS[i % len(LEADS)])
                if not turn.commands:
                    raise RuntimeError(f"the lead request {LEADS[i % len(LEADS)]!r} was not understood")
                pipeline.open_window()
                heard = []
                for chunk in split(concat([clip, tail]), 30.0):
                    now[0] += chunk.duration_ms / 1000
                    vt = pipeline.feed(chunk)
                    if vt is not None:
                        heard.append(vt)
                while pipeline.in_follow_up or pipeline.state.name != "IDLE":
                    for chunk in split(tail, 30.0):
                        now[0] += chunk.duration_ms / 1000
                        vt = pipeline.feed(chunk)
                        if vt is not None:
                            heard.append(vt)
                count.n += 1
                count.seconds += clip.duration_ms / 1000
                window = [vt for vt in heard if vt.follow_up]
                decided = [d.outcome for vt in window if vt.turn is not None for d in vt.turn.decisions]
                acted = "acted" in decided
                asked = "asked" in decided
                answered = any(vt.reply for vt in window)
                frames = any(vt.frames for vt in window)
                count.acted += acted
                count.asked += asked
                count.answered += answered
                count.frames += frames
                count.woke += any(vt.wake is not None for vt in heard)
                commands = [c for vt in window for c in vt.commands]
                if acted or asked or answered or frames or commands:
                    count.false_starts += 1
                    said = " | ".join(vt.text for vt in window)
                    count.examples.append(f"{text!r} heard {said!r} -> {[c['intent'] for c in commands]}")
                    if verbose:
                        seen = [(vt.asr_confidence, word_coverage(vt)) for vt in window]
                        print(f"  FALSE START {label} | {text} | heard {said!r} | (posterior, coverage) "
                              f"{seen} | {commands}", flush=True)
                elif any(vt.text for vt in window):
                    count.dropped += 1
        finally:
            pipeline.close()
    count.wall_s = time.perf_counter() - t0
    return count


def report(count: Count) -> None:
    print(
        f"figure: window_false_starts_{count.label} = {count.false_starts}/{count.n}  "
        f"({count.seconds / 60:.1f} min of audio in {count.n} windows; acted {count.acted}, asked back "
        f"{count.asked}, answered {count.answered}, sent frames {count.frames}; words heard and dropped "
        f"{count.dropped}; wake word {count.woke}; {count.wall_s:.0f} s)",
        flush=True,
    )


def music_alone(parts: Any, windows: int, window_s: float) -> Count:
    """Windows of loud synthetic music and no voice."""
    import numpy as np

    from assistant.audio import RATE
    from workbench.voice_bench import _over, music

    clips = []
    for i in range(windows):
        bed = music(window_s * 1000, seed=100 + i)
        quiet = AudioChunk.from_array(np.zeros(len(bed), np.float32) + 1e-4, RATE)
        clips.append((f"music {i}", _over(quiet, bed, 0.0)))
    return measure(parts, "music_alone", clips)


CONDITIONS = ("clean", "car_noise_10dB", "music_0dB")


def degrade(label: str, text: str, audio: AudioChunk) -> AudioChunk:
    from assistant.voice_sim import mix_at_snr
    from workbench.voice_bench import _over, music

    seed = zlib.crc32(text.encode()) % 1000
    if label == "clean":
        return audio
    if label == "car_noise_10dB":
        return mix_at_snr(audio, 10.0, seed=seed)
    if label == "music_0dB":
        return _over(audio, music(to_stream_format(audio).duration_ms, seed=seed), 0.0)
    raise ValueError(f"unknown condition {label!r}; choose from {', '.join(CONDITIONS)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m workbench.bench.window_false_starts",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0, help="minutes of talk per condition")
    ap.add_argument("--conditions", nargs="*", default=list(CONDITIONS), choices=CONDITIONS)
    ap.add_argument("--music-windows", type=int, default=60, help="windows of music alone (0: none)")
    ap.add_argument("--every", type=int, default=1, help="take every n-th recording (a quicker sample)")
    ap.add_argument("--cache", default=str(CACHE), help="where the synthesized talk is kept")
    ap.add_argument("--sentences", nargs="*", help="only these sentences (a false start again, after a fix)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every false start")
    args = ap.parse_args(argv)
    from assistant.config import Settings
    from assistant.pipeline import build_parts

    clips = recordings(Voices(Path(args.cache)), args.minutes)[:: args.every]
    if args.sentences:
        clips = [c for c in clips if c[1] in set(args.sentences)]
    print(f"{len(clips)} recordings, {sum(a.duration_ms for *_, a in clips) / 60_000:.1f} min "
          f"({', '.join(VOICES)}; sentences from {TALK.name}, {OOD_SENTENCES.name}, voice_bench)", flush=True)
    settings = Settings()
    parts = build_parts(settings, wake=True, tts=False)
    print(f"asr: {parts.asr_choice}; window {settings.voice.follow_up_s:g} s", flush=True)
    for label in args.conditions:
        report(measure(parts, label, [(t, degrade(label, t, a)) for _, t, a in clips], args.verbose))
    if args.music_windows:
        report(music_alone(parts, args.music_windows, settings.voice.follow_up_s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
