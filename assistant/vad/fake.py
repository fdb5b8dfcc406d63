"""A level-threshold detector: speech is anything above ``threshold_dbfs`` (tests, fallbacks)."""

from __future__ import annotations

from assistant.audio import AudioChunk, rms_dbfs, to_stream_format
from assistant.vad.base import SpeechDetector


class EnergySpeechDetector(SpeechDetector):
    name = "energy"

    def __init__(self, threshold_dbfs: float = -40.0) -> None:
        self.threshold_dbfs = threshold_dbfs

    def process(self, chunk: AudioChunk) -> float:
        return 1.0 if rms_dbfs(to_stream_format(chunk).array()) > self.threshold_dbfs else 0.0

    def reset(self) -> None:
        pass
