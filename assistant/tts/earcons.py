"""Short earcons made in code: wake heard (rising), done (one soft tone), error (falling), follow-up
window open (two quick soft taps on one note: "go on", distinct from the wake word's rise)."""

from __future__ import annotations

import numpy as np

from assistant.audio import RATE, AudioChunk


def _tone(freqs: list[float], ms: float, level: float = 0.25) -> np.ndarray:
    parts = []
    for f in freqs:
        n = int(RATE * ms / 1000)
        t = np.arange(n) / RATE
        # 5 ms raised-cosine edges: no clicks
        ramp = min(n // 2, int(RATE * 0.005))
        env = np.ones(n)
        env[:ramp] = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
        env[n - ramp:] = env[:ramp][::-1]
        parts.append(level * env * np.sin(2 * np.pi * f * t))
    return np.concatenate(parts).astype(np.float32)


def earcon(kind: str) -> AudioChunk:
    """``wake``, ``done``, ``error`` or ``follow_up``, 16 kHz mono."""
    shapes = {
        "wake": ([660.0, 880.0], 70.0, 0.25),
        "done": ([880.0], 90.0, 0.25),
        "error": ([440.0, 330.0], 110.0, 0.25),
        # quieter: it follows the reply that was just said
        "follow_up": ([784.0, 0.0, 784.0], 50.0, 0.15),
    }
    if kind not in shapes:
        raise ValueError(f"no earcon {kind!r}; known: {', '.join(shapes)}")
    freqs, ms, level = shapes[kind]
    return AudioChunk.from_array(_tone(freqs, ms, level), RATE)
