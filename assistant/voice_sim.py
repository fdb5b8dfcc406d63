"""Bench audio: car-like noise, mixing at a signal-to-noise ratio, spoken requests made with piper.

Used by ``car-assistant simulate``, the audio tests and the voice benchmark;
nothing here is on the live path.

The noise is low-frequency heavy like a cabin at speed: brown (1/f^2) road
rumble, engine harmonics around 30-120 Hz that drift slowly, and a little
broadband wind hiss, every part seeded so a run can be repeated.
"""

from __future__ import annotations

import numpy as np

from assistant.audio import RATE, AudioChunk, concat, silence, to_stream_format
from assistant.tts.base import Synthesizer


def car_noise(ms: float, seed: int = 0, rate: int = RATE) -> np.ndarray:
    """Float samples of cabin noise, RMS about 0.1."""
    rng = np.random.default_rng(seed)
    n = int(rate * ms / 1000)
    white = rng.standard_normal(n)
    # brown noise, leaky so it does not wander off: road rumble below ~200 Hz
    brown = np.zeros(n)
    acc = 0.0
    leak = 0.995
    for i, w in enumerate(white[: min(n, 10 * rate)]):
        acc = leak * acc + w
        brown[i] = acc
    if n > 10 * rate:  # long runs: repeat the first ten seconds of rumble, the hum and hiss stay fresh
        brown[10 * rate :] = np.resize(brown[: 10 * rate], n - 10 * rate)
    brown /= np.std(brown) + 1e-9
    t = np.arange(n) / rate
    rpm_hz = 32.0 + 4.0 * np.sin(2 * np.pi * 0.07 * t + rng.uniform(0, 6.28))
    phase = 2 * np.pi * np.cumsum(rpm_hz) / rate
    engine = sum(np.sin(k * phase + rng.uniform(0, 6.28)) / k for k in (1, 2, 3, 4))
    hiss = rng.standard_normal(n)
    mix = 1.0 * brown + 0.35 * engine / np.std(engine) + 0.08 * hiss
    return (0.1 * mix / np.std(mix)).astype(np.float32)


def mix_at_snr(speech: AudioChunk, snr_db: float, seed: int = 0) -> AudioChunk:
    """``speech`` (16 kHz) with car noise added so that speech RMS / noise RMS = ``snr_db``.

    The speech level is measured over its voiced part (samples above -40 dBFS
    relative to its peak), so leading and trailing silence do not flatter it.
    """
    x = to_stream_format(speech).array().astype(np.float32) / 32768.0
    noise = car_noise(1000.0 * len(x) / RATE, seed)
    active = x[np.abs(x) > 0.01 * (np.max(np.abs(x)) + 1e-9)]
    speech_rms = float(np.sqrt(np.mean(active**2))) if len(active) else 1e-4
    noise_rms = float(np.sqrt(np.mean(noise**2)))
    gain = speech_rms / (noise_rms * 10 ** (snr_db / 20))
    y = x + gain * noise
    peak = float(np.max(np.abs(y)))
    if peak > 0.99:
        y *= 0.99 / peak
    return AudioChunk.from_array(y, RATE)


def noise_only(ms: float, level_dbfs: float = -30.0, seed: int = 0) -> AudioChunk:
    x = car_noise(ms, seed)
    x *= 10 ** (level_dbfs / 20) / (np.sqrt(np.mean(x**2)) + 1e-9)
    return AudioChunk.from_array(x, RATE)


def speak(synthesizer: Synthesizer, text: str) -> AudioChunk:
    """``text`` spoken by ``synthesizer``, as 16 kHz mono."""
    return to_stream_format(concat([to_stream_format(c) for c in synthesizer.synthesize(text)]))


def request_audio(
    synthesizer: Synthesizer,
    text: str,
    wake_phrase: str | None = "Hey Jarvis.",
    lead_ms: float = 400.0,
    gap_ms: float = 500.0,
    tail_ms: float = 200.0,
) -> AudioChunk:
    """A spoken request as a driver gives it: [wake phrase, a pause,] the request, a little silence."""
    parts = [silence(lead_ms)]
    if wake_phrase:
        parts += [speak(synthesizer, wake_phrase), silence(gap_ms)]
    parts += [speak(synthesizer, text), silence(tail_ms)]
    return concat(parts)


# -- judging a bench drive ---------------------------------------------------------------------

Reading = tuple[tuple[str, tuple[tuple[str, object], ...]], ...]
"""Commands as compared: (intent, sorted slots) in spoken order; confidence left out."""


def reading(commands: list[dict[str, object]]) -> Reading:
    """``[{"intent": ..., "slots": {...}}, ...]`` (Command.to_json) as a comparable value."""
    out = []
    for c in commands:
        slots = c.get("slots") or {}
        assert isinstance(slots, dict)
        out.append((str(c["intent"]), tuple(sorted(slots.items()))))
    return tuple(out)


def verdict(asked: Reading, done: Reading) -> str:
    """"right" when the commands are the script's, "missed" when none came for some asked, else "wrong"."""
    if done == asked:
        return "right"
    return "missed" if asked and not done else "wrong"


def show(commands: Reading) -> str:
    return ", ".join(f"{i}{{{', '.join(f'{k}={v}' for k, v in s)}}}" for i, s in commands) or "(none)"


def request_of(at_ms: float, starts_ms: list[float]) -> int:
    """Index of the scripted request whose stretch of the drive ``at_ms`` falls in."""
    index = 0
    for i, start in enumerate(starts_ms):
        if at_ms >= start:
            index = i
    return index
