"""Voice activity detection and endpointing: where a request starts and ends."""

from assistant.vad.base import ENGINES, Endpoint, Endpointer, SpeechDetector, load_speech_detector

__all__ = ["ENGINES", "Endpoint", "Endpointer", "SpeechDetector", "load_speech_detector"]
