"""A scripted synthesizer: a speech-like tone burst per sentence, and a record of what it was asked."""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np

from assistant.audio import RATE, AudioChunk
from assistant.tts.base import Synthesizer


class FakeSynthesizer(Synthesizer):
    name = "fake"

    def __init__(self, ms_per_char: float = 60.0) -> None:
        self.ms_per_char = ms_per_char
        self.spoken: list[str] = []

    def load(self) -> None:
        pass

    def synthesize(self, text: str) -> Iterator[AudioChunk]:
        for sentence in [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]:
            self.spoken.append(sentence)
            n = int(RATE * self.ms_per_char * len(sentence) / 1000)
            t = np.arange(n) / RATE
            # a 200 Hz buzz with a 4 Hz syllable envelope: non-silent, speech-like in level
            wave = 0.3 * np.sin(2 * np.pi * 200 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2)
            yield AudioChunk.from_array(wave.astype(np.float32), RATE)
