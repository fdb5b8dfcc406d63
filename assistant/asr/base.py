"""The speech-recognition stage: audio chunks in, partial and final ``Transcript`` out.

Engines stream: ``begin()`` a request, ``accept()`` each 16 kHz mono int16
chunk (a partial transcript comes back when it changed), ``end()`` for the
final one. Engines are registered by name and imported lazily.
"""

from __future__ import annotations

import importlib
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.audio import AudioChunk
from assistant.errors import AssistantError
from assistant.registry import Registry


class AsrError(AssistantError):
    """Speech recognition failed."""

    code = "asr"


@dataclass(frozen=True)
class Word:
    text: str
    start_ms: float = 0.0
    end_ms: float = 0.0
    confidence: float | None = None
    """Posterior probability of the word at its place, in [0, 1], when the engine gives one."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text, "start_ms": self.start_ms, "end_ms": self.end_ms}
        if self.confidence is not None:
            out["confidence"] = round(self.confidence, 3)
        return out


@dataclass(frozen=True)
class Transcript:
    """What was heard so far (``final=False``) or in the whole request."""

    text: str
    final: bool = True
    words: tuple[Word, ...] = ()
    alternatives: tuple[str, ...] = ()
    """Other likely texts (n-best), best first, without ``text``; the pipeline may pick one the parser
    understands when ``text`` has no command."""
    posterior: float | None = None
    """Probability of the whole text, in [0, 1], when the engine gives one (lattice posterior, or
    what is left of it after a test against a general-English decoding)."""

    @property
    def confidence(self) -> float | None:
        """The whole text's posterior, else its least sure word's, else None."""
        if self.posterior is not None:
            return self.posterior
        confs = [w.confidence for w in self.words if w.confidence is not None]
        return min(confs) if confs else None


class Recognizer(ABC):
    """A streaming speech recognizer for one request at a time."""

    name: str = ""

    @abstractmethod
    def begin(self, context: AudioChunk | None = None) -> None:
        """Start a new request (drops anything heard before).

        ``context`` is the audio just before the request (cabin noise, the wake
        word); an engine may adapt to the channel with it, it is not transcribed.
        """

    @abstractmethod
    def accept(self, chunk: AudioChunk) -> Transcript | None:
        """Feed 16 kHz mono int16 audio; the partial transcript when it changed, else None."""

    @abstractmethod
    def end(self) -> Transcript:
        """The final transcript of the request begun last."""

    def follow_up(self, on: bool) -> None:  # noqa: B027  (engines with one language model)
        """The requests begun from now on are said in the follow-up window after a reply (``on``), with
        no wake word, or after a wake word (``False``); an engine with a language model for the window
        switches to it."""

    def reset(self, channel: AudioChunk | None = None) -> None:  # noqa: B027  (engines without adaptation)
        """Forget what was learned about the channel (between unrelated recordings); with ``channel``
        (audio of the recording to come), learn it from that instead."""


REGISTRY = Registry(
    "ASR",
    {
        "vosk": "assistant.asr.vosk:VoskRecognizer",
        "pocketsphinx": "assistant.asr.pocketsphinx:PocketsphinxRecognizer",
        "whisper": "assistant.asr.whisper:WhisperRecognizer",
        "fake": "assistant.asr.fake:FakeRecognizer",
    },
    also=("auto",),
    hidden=frozenset({"fake"}),
)
ENGINES = REGISTRY.engines

VOSK_EN_MODEL = "vosk-model-small-en-us-0.15"
FETCH_SCRIPT = "deploy/fetch_vosk_model.sh"


def default_vosk_model_dir() -> Path:
    """Where deploy/fetch_vosk_model.sh puts the English model ($XDG_DATA_HOME/car-assistant/...)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "car-assistant" / VOSK_EN_MODEL


def choose_engine(name: str, vosk_model: str = "") -> tuple[str, str]:
    """The engine to use for ``name`` (``auto``: vosk when its English model is installed) and why."""
    if name != "auto":
        return name, "configured"
    model = Path(vosk_model) if vosk_model else default_vosk_model_dir()
    if (model / "am").is_dir() or (model / "final.mdl").exists():
        try:
            importlib.import_module("vosk")
            return "vosk", f"English model found at {model}"
        except ImportError:
            return "pocketsphinx", "vosk model found but the vosk package is not installed"
    return "pocketsphinx", f"no vosk English model at {model} (run {FETCH_SCRIPT} on a networked machine)"


def load_recognizer(name: str, **options: Any) -> Recognizer:
    engine: Recognizer = REGISTRY.load(name, **options)
    return engine
