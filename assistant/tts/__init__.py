"""Text to speech: the ``Synthesizer`` stage and its engines (piper; a fake for tests)."""

from assistant.tts.base import ENGINES, Synthesizer, TtsError, load_synthesizer

__all__ = ["ENGINES", "Synthesizer", "TtsError", "load_synthesizer"]
