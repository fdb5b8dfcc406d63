"""A scripted recognizer: returns the given texts, one per request, whatever the audio.

A script entry is a text, or a text and its n-best alternatives.
"""

from __future__ import annotations

from assistant.asr.base import Recognizer, Transcript, Word
from assistant.audio import AudioChunk


class FakeRecognizer(Recognizer):
    name = "fake"

    def __init__(self, texts: list[str | tuple[str, tuple[str, ...]]] | None = None) -> None:
        self.texts = list(texts or [])
        self.heard_ms: list[float] = []
        self._ms = 0.0

    def begin(self, context: AudioChunk | None = None) -> None:
        self._ms = 0.0

    def accept(self, chunk: AudioChunk) -> Transcript | None:
        self._ms += chunk.duration_ms
        return None

    def end(self) -> Transcript:
        self.heard_ms.append(self._ms)
        entry = self.texts.pop(0) if self.texts else ""
        text, alternatives = (entry, ()) if isinstance(entry, str) else entry
        return Transcript(text, True, tuple(Word(w, confidence=1.0) for w in text.split()), alternatives)
