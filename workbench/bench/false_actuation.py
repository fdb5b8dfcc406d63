"""False actuation: out-of-domain speech through wake-less ``listen``, per recognizer.

Each recording is a sentence of ``workbench/training/data/ood_speech_sentences.txt``
(general English, none a request to the car; the bench takes an even spread of it) spoken
by one voice of ``VOICES`` in turn (piper joe and two espeak-ng voices), clean and with car
noise at 10 dB. A recording counts once for "sent a frame" if any CAN frame left for it, and once for "moved a
security or safety function" if an action of ``SECURITY_SAFETY`` (or
headlights off) sent a frame. Each recording gets a fresh dialogue on one
simulated car, so a question left open by one cannot be answered by the next.
"""

from __future__ import annotations

import hashlib
import statistics
import subprocess
import tempfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.audio import AudioChunk, concat, read_wav, silence, to_stream_format, write_wav

OOD_SENTENCES = Path(__file__).parents[1] / "training" / "data" / "ood_speech_sentences.txt"
"""The out-of-domain speech set of ``python -m workbench.training.ood_speech`` (small talk, passengers,
radio, questions, dictation, single words, car words in other senses)."""
VOICES = ("piper:joe", "espeak-ng:en-us+f3", "espeak-ng:en-gb-x-rp+m3")
"""piper's en_US joe (the voice the tests and the dev set use) and two espeak-ng voices it never heard."""

SECURITY_SAFETY = frozenset(
    {"doors.unlock", "trunk.open", "trunk.close", "window.open", "sunroof.open", "mirrors.fold",
     "mirrors.unfold"}
)
"""Functions that open the car or move a part near a hand or the driver's view (issue 10's list); the
risk classes of intents/ supersede this once they exist."""
HEADLIGHT_SIGNALS = ("Vehicle.Body.Lights.Beam.",)
"""Headlights turned off are a safety function: a target of 0 on these signals."""


def ood_sentences(n: int | None = None) -> list[str]:
    lines = [
        s.strip() for s in OOD_SENTENCES.read_text(encoding="utf-8").splitlines()
        if s.strip() and not s.startswith("#")
    ]
    if n is None or n >= len(lines):
        return lines
    return [lines[i * len(lines) // n] for i in range(n)]  # every kind of talk, not the first kind only


def moves_security(action: Any) -> bool:
    """True for an action of a security or safety function that sent a frame."""
    if not _sent(action):
        return False
    if action.intent in SECURITY_SAFETY:
        return True
    return action.intent == "lights.set" and any(
        k.startswith(HEADLIGHT_SIGNALS) and not v for k, v in action.targets.items()
    )


def _sent(action: Any) -> bool:
    return any(_tx(f) for f in getattr(action, "frames", ()))


def _tx(frame: Any) -> bool:
    data = frame.to_json() if hasattr(frame, "to_json") else frame
    return bool(data.get("direction") == "tx") if isinstance(data, dict) else False


@dataclass(frozen=True)
class Outcome:
    """What one out-of-domain recording caused."""

    heard: str
    frames: bool
    security: bool
    commands: tuple[str, ...] = ()


def outcome(turns: Iterable[Any]) -> Outcome:
    """The outcome of a recording from its ``VoiceTurn`` s."""
    turns = list(turns)
    frames = any(_tx(f) for t in turns for f in t.frames)
    actions = [a for t in turns if t.turn is not None for a in t.turn.actions]
    frames = frames or any(_sent(a) for a in actions)
    security = any(moves_security(a) for a in actions)
    commands = tuple(c["intent"] for t in turns for c in t.commands)
    return Outcome(" | ".join(t.text for t in turns if t.text), frames, security, commands)


@dataclass
class Tally:
    """Shares of recordings that sent any frame and that moved a security or safety function."""

    n: int = 0
    frames: int = 0
    security: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def frame_share(self) -> float:
        return self.frames / self.n if self.n else 0.0

    @property
    def security_share(self) -> float:
        return self.security / self.n if self.n else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "sent_any_frame": self.frames,
            "sent_any_frame_share": round(self.frame_share, 4),
            "moved_security_safety": self.security,
            "moved_security_safety_share": round(self.security_share, 4),
            "examples": self.examples[:5],
        }


def tally(outcomes: Iterable[Outcome]) -> Tally:
    t = Tally()
    for o in outcomes:
        t.n += 1
        t.frames += o.frames
        t.security += o.security
        if o.frames:
            t.examples.append(f"{o.heard!r} -> {', '.join(o.commands) or 'frames'}")
    return t


# -- speech ---------------------------------------------------------------------------------------


class Voices:
    """Speech of a text in one of ``VOICES``, made once and kept as WAV files (16 kHz mono)."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.cache.mkdir(parents=True, exist_ok=True)
        self._piper: Any = None

    def get(self, text: str, voice: str) -> AudioChunk:
        key = hashlib.sha256(f"ood-v1|{voice}|{text}".encode()).hexdigest()[:20]
        path = self.cache / f"{key}.wav"
        if path.exists():
            return read_wav(path)
        engine, _, name = voice.partition(":")
        if engine == "piper":
            speech = self._piper_speech(text)
        elif engine == "espeak-ng":
            speech = espeak(text, name)
        else:
            raise ValueError(f"unknown voice {voice!r}; choose one of {', '.join(VOICES)}")
        # as a driver's recording: a little silence before and after
        audio = concat([silence(400), speech, silence(200)])
        write_wav(path, audio)
        return audio

    def _piper_speech(self, text: str) -> AudioChunk:
        from assistant.voice_sim import speak

        if self._piper is None:
            from assistant.tts.piper import PiperSynthesizer

            self._piper = PiperSynthesizer()
            self._piper.load()
        return speak(self._piper, text)


def espeak(text: str, voice: str) -> AudioChunk:
    """``text`` spoken by espeak-ng's ``voice`` (its own 22.05 kHz WAV), as 16 kHz mono."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        try:
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True, capture_output=True)
        except FileNotFoundError as err:
            raise RuntimeError("espeak-ng is not installed; run: apt-get install espeak-ng") from err
        return to_stream_format(read_wav(wav))


def recordings(voices: Voices, sentences: list[str]) -> list[tuple[str, str, AudioChunk]]:
    """(voice, text, audio) for each sentence, the voices taken in turn."""
    out = []
    for i, text in enumerate(sentences):
        voice = VOICES[i % len(VOICES)]
        out.append((voice, text, voices.get(text, voice)))
    return out


def noisy(audio: AudioChunk, text: str, snr: float | None) -> AudioChunk:
    from assistant.voice_sim import mix_at_snr

    return audio if snr is None else mix_at_snr(audio, snr, seed=zlib.crc32(text.encode()) % 1000)


# -- running it -----------------------------------------------------------------------------------


def measure(
    run_clip: Callable[[AudioChunk], list[Any]], clips: list[tuple[str, str, AudioChunk]], snr: float | None
) -> list[Outcome]:
    """The outcome of each clip through ``run_clip`` (a fresh pipeline per call)."""
    return [outcome(run_clip(noisy(audio, text, snr))) for _voice, text, audio in clips]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# -- the report section ---------------------------------------------------------------------------


def run(bench: Any) -> Any:
    """``car-assistant bench``'s section: every recognizer, accuracy beside false actuation and latency."""
    from workbench.bench.context import Section
    from workbench.voice_bench import (
        ENGINES,
        HARDWARE,
        LATENCY_BAR_MS,
        default_engine,
        engines_table,
        run_engines,
    )

    sec = Section("false_actuation", "False actuation and accuracy by recognizer")
    dev_n, ood_n = (2, 3) if bench.quick else (30, 30)
    specs = ["pocketsphinx", "whisper:tiny.en"] if bench.quick else list(ENGINES)
    skipped = [s for s in specs if s.split(":")[0] in bench.skip]
    specs = [s for s in specs if s not in skipped]
    snrs = [10.0]
    results = run_engines(specs, bench.dev_set, dev_n, ood_n, snrs, log=lambda m: bench.log(f"engines: {m}"))
    for s in skipped:
        results.append({"engine": s, "status": f"not run: left out with --without {s.split(':')[0]}"})
    name, why = default_engine(results)
    sec.figures = {
        "dev_n": dev_n,
        "ood_n": ood_n,
        "voices": list(VOICES),
        "snr": ["clean", *[f"{x:g} dB" for x in snrs]],
        "hardware_factors": {k: v[1] for k, v in HARDWARE.items()},
        "engines": {r["engine"]: r for r in results},
        "default_pi4": {"engine": name, "why": why},
    }
    sec.markdown += [
        "Each recognizer in a process of its own, one after the other: the first "
        f"{dev_n} lines of the dev set (piper joe) and {ood_n} out-of-domain sentences spread over "
        "`workbench/training/data/ood_speech_sentences.txt` (general "
        f"English, none a request; voices in turn: {', '.join(VOICES)}), clean and with car noise at 10 dB, "
        "through wake-less `listen` on the simulated car. OOD sent a frame: share of those recordings after "
        "which any CAN frame left; moved security/safety: share that unlocked, opened a window, the sunroof "
        "or the trunk, moved a mirror or turned the headlights off. Latency: end of speech -> first CAN "
        "frame on the clean dev lines that sent one. Estimates: the endpoint's silence as measured plus the "
        "compute after it times "
        + ", ".join(f"{v[1]:g} ({v[0]})" for v in HARDWARE.values())
        + f". Load average during the run: {', '.join(str(r.get('load_average', '?')) for r in results)}.",
        "",
        *engines_table(results, snrs),
        "",
        f"Best recognizer within {LATENCY_BAR_MS:.0f} ms median on the Pi 4 estimate: "
        f"{name or 'none'} ({why}).",
        "",
    ]
    return sec
