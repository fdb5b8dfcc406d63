"""The wake stage: a stream of audio chunks in, a ``Detection`` when the wake word was said."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from assistant.audio import AudioChunk
from assistant.errors import AssistantError
from assistant.registry import Registry


class WakeError(AssistantError):
    """The wake-word detector could not be loaded or run."""

    code = "wake"


@dataclass(frozen=True)
class Detection:
    """The wake word (or the push-to-talk button) was heard."""

    name: str
    """Wake word model name (``hey_jarvis``) or ``push_to_talk``."""
    timestamp_ms: float
    """Stream time at which it was detected (the end of the wake word)."""
    probability: float = 1.0


class WakeDetector(ABC):
    """Feed every chunk (16 kHz mono int16); a detection comes back once per spoken wake word."""

    name: str = ""

    @abstractmethod
    def process(self, chunk: AudioChunk) -> Detection | None:
        """The detection that ``chunk`` completes, if any."""

    @abstractmethod
    def reset(self) -> None:
        """Forget the audio heard so far (after a detection, between files)."""


REGISTRY = Registry(
    "wake",
    {
        "micro": "assistant.wake.micro:MicroWakeDetector",
        "fake": "assistant.wake.fake:FakeWakeDetector",
    },
    hidden=frozenset({"fake"}),
)
ENGINES = REGISTRY.engines


def load_wake_detector(name: str, **options: Any) -> WakeDetector:
    engine: WakeDetector = REGISTRY.load(name, **options)
    return engine
