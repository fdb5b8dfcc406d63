"""Wake-word detection: the ``WakeDetector`` stage and its engines (microWakeWord; a fake for tests)."""

from assistant.wake.base import ENGINES, Detection, WakeDetector, WakeError, load_wake_detector

__all__ = ["ENGINES", "Detection", "WakeDetector", "WakeError", "load_wake_detector"]
