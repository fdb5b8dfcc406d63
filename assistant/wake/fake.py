"""A scripted wake detector: fires at given stream times (tests, --no-wake file runs)."""

from __future__ import annotations

from assistant.audio import AudioChunk
from assistant.wake.base import Detection, WakeDetector


class FakeWakeDetector(WakeDetector):
    name = "fake"

    def __init__(self, at_ms: list[float] | None = None) -> None:
        self.at_ms = sorted(at_ms or [])
        self._next = 0

    def process(self, chunk: AudioChunk) -> Detection | None:
        end = chunk.timestamp_ms + chunk.duration_ms
        if self._next < len(self.at_ms) and end >= self.at_ms[self._next]:
            self._next += 1
            return Detection("fake", end)
        return None

    def reset(self) -> None:
        self._next = 0
