"""Speech recognition: the streaming ``Recognizer`` stage and its engines (vosk, pocketsphinx; a fake)."""

from assistant.asr.base import ENGINES, AsrError, Recognizer, Transcript, Word, choose_engine, load_recognizer

__all__ = ["ENGINES", "AsrError", "Recognizer", "Transcript", "Word", "choose_engine", "load_recognizer"]
