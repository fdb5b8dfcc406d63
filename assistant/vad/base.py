"""Voice activity: a speech probability per chunk, and the endpointer that turns it into request ends.

The ``Endpointer`` is plain bookkeeping over stream time, so it is tested
with numbers rather than audio: speech starts after ``start_ms`` of speech,
ends after ``trailing_silence_ms`` of silence, or is cut at ``max_ms``; a
request that never starts times out after ``no_speech_ms``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal

from assistant.audio import AudioChunk
from assistant.registry import Registry


class SpeechDetector(ABC):
    """A voice activity detector on 16 kHz mono int16 chunks of any length."""

    name: str = ""

    @abstractmethod
    def process(self, chunk: AudioChunk) -> float:
        """Speech probability in [0, 1] for ``chunk`` (the last complete window in it)."""

    @abstractmethod
    def reset(self) -> None:
        """Start a new stream."""


EndpointReason = Literal["silence", "max_length", "no_speech", "semantic", "wake"]
"""Why a request ended."""


@dataclass(frozen=True)
class Endpoint:
    """Why and when a request ended."""

    reason: EndpointReason
    """"wake": a new wake word was heard while the request was still being listened to."""
    at_ms: float
    """Stream time of the decision."""
    speech_start_ms: float | None
    speech_end_ms: float | None
    """Stream time of the last chunk that held speech (None: no speech at all)."""


class Endpointer:
    """Decides, chunk by chunk, when the request that began at ``begin(t)`` is over."""

    def __init__(
        self,
        threshold: float = 0.5,
        trailing_silence_ms: float = 400.0,
        max_ms: float = 8000.0,
        no_speech_ms: float = 4000.0,
        start_ms: float = 60.0,
    ) -> None:
        self.threshold = threshold
        self.trailing_silence_ms = trailing_silence_ms
        self.max_ms = max_ms
        self.no_speech_ms = no_speech_ms
        self.start_ms = start_ms
        self.begin(0.0)

    def begin(self, t_ms: float) -> None:
        self.begun_ms = t_ms
        self.speech_start_ms: float | None = None
        self.speech_end_ms: float | None = None
        self._run_ms = 0.0
        self._run_start: float | None = None

    @property
    def in_speech(self) -> bool:
        return self.speech_start_ms is not None

    def update(self, chunk_start_ms: float, chunk_ms: float, probability: float) -> Endpoint | None:
        end = chunk_start_ms + chunk_ms
        if probability >= self.threshold:
            if self._run_start is None:
                self._run_start = chunk_start_ms
            self._run_ms += chunk_ms
            if self.speech_start_ms is None and self._run_ms >= self.start_ms:
                self.speech_start_ms = self._run_start
            if self.speech_start_ms is not None:
                self.speech_end_ms = end
        else:
            self._run_ms = 0.0
            self._run_start = None
        if self.speech_start_ms is None:
            if end - self.begun_ms >= self.no_speech_ms:
                return Endpoint("no_speech", end, None, None)
            return None
        if end - self.speech_start_ms >= self.max_ms:
            return Endpoint("max_length", end, self.speech_start_ms, self.speech_end_ms)
        if self.speech_end_ms is not None and end - self.speech_end_ms >= self.trailing_silence_ms:
            return Endpoint("silence", end, self.speech_start_ms, self.speech_end_ms)
        return None


REGISTRY = Registry(
    "VAD",
    {
        "silero": "assistant.vad.silero:SileroSpeechDetector",
        "energy": "assistant.vad.fake:EnergySpeechDetector",
    },
)
ENGINES = REGISTRY.engines


def load_speech_detector(name: str, **options: Any) -> SpeechDetector:
    engine: SpeechDetector = REGISTRY.load(name, **options)
    return engine
