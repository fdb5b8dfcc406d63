"""microWakeWord models bundled with pymicro-wakeword (hey_jarvis, okay_nabu, hey_mycroft, alexa)."""

from __future__ import annotations

from typing import Any

from assistant.audio import AudioChunk, to_stream_format
from assistant.wake.base import Detection, WakeDetector, WakeError

WAKE_WORDS = ("hey_jarvis", "okay_nabu", "hey_mycroft", "alexa")


class MicroWakeDetector(WakeDetector):
    """A streaming TFLite wake-word model on 10 ms feature frames.

    ``cutoff`` 0 keeps the model's own threshold (0.97 for hey_jarvis, with a
    sliding mean over 5 outputs). After a detection the detector stays quiet
    for ``refractory_ms`` so one utterance gives one wake.
    """

    def __init__(self, model: str = "hey_jarvis", cutoff: float = 0.0, refractory_ms: float = 1500.0) -> None:
        if model not in WAKE_WORDS:
            raise WakeError(f"no bundled wake word {model!r}; choose one of: {', '.join(WAKE_WORDS)}")
        try:
            from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model
        except ImportError as err:
            raise WakeError("pymicro-wakeword is not installed; run: pip install -e .") from err
        try:
            self._model: Any = MicroWakeWord.from_builtin(Model(model))
        except Exception as err:
            raise WakeError(f"cannot load the wake word model {model}: {err}") from err
        self._features: Any = MicroWakeWordFeatures()
        self._features_cls = MicroWakeWordFeatures
        self.name = model
        self.cutoff = cutoff or float(self._model.probability_cutoff)
        self.refractory_ms = refractory_ms
        self._t_ms = 0.0
        self._quiet_until = 0.0
        self.last_probability = 0.0

    def process(self, chunk: AudioChunk) -> Detection | None:
        chunk = to_stream_format(chunk)
        hit: Detection | None = None
        end_ms = chunk.timestamp_ms + chunk.duration_ms
        for features in self._features.process_streaming(chunk.audio):
            prob = self._model.process_streaming_prob(features)
            if prob is None:
                continue
            self.last_probability = prob
            if hit is None and prob > self.cutoff and end_ms >= self._quiet_until:
                hit = Detection(self.name, end_ms, float(prob))
        if hit is not None:
            self._quiet_until = end_ms + self.refractory_ms
            # the sliding window still holds the wake word; clear it so it cannot fire twice
            self._model._probabilities.clear()
        return hit

    def reset(self) -> None:
        self._model.reset()
        self._features = self._features_cls()
        self._quiet_until = 0.0
