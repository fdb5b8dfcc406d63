"""The speech-output stage: text in, audio chunks out, one sentence at a time."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

from assistant.audio import AudioChunk
from assistant.errors import AssistantError
from assistant.registry import Registry


class TtsError(AssistantError):
    """Speech synthesis failed."""

    code = "tts"


class Synthesizer(ABC):
    """A text-to-speech engine: ``load()`` once, then ``synthesize()`` per reply."""

    name: str = ""

    @abstractmethod
    def load(self) -> None:
        """Load the voice (seconds); safe to call twice."""

    @abstractmethod
    def synthesize(self, text: str) -> Iterator[AudioChunk]:
        """Audio for ``text``, one chunk per sentence, each yielded as soon as it is made."""


REGISTRY = Registry(
    "TTS",
    {
        "piper": "assistant.tts.piper:PiperSynthesizer",
        "fake": "assistant.tts.fake:FakeSynthesizer",
    },
    hidden=frozenset({"fake"}),
)
ENGINES = REGISTRY.engines


def load_synthesizer(name: str, **options: Any) -> Synthesizer:
    engine: Synthesizer = REGISTRY.load(name, **options)
    return engine
