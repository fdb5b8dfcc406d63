"""Audio fixtures: the real engines loaded once per session, piper speech made once per session.

Speech is cached in memory for the session and on disk in pytest's cache
(.pytest_cache/d/audio-speech), keyed by the text and the voice, so reruns
skip synthesis.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest

from assistant.audio import AudioChunk, read_wav, write_wav
from assistant.config import Settings
from assistant.events import Event, PipelineEvent
from assistant.pipeline import VoiceParts, VoicePipeline, build_parts
from assistant.runtime import Car, open_dialogue
from assistant.tts.piper import PiperSynthesizer
from assistant.voice_sim import mix_at_snr, request_audio, speak

SpeechMaker = Callable[..., AudioChunk]


@pytest.fixture(scope="session")
def synth() -> PiperSynthesizer:
    # no sampling noise: the same text gives the same audio in every session, so results repeat
    s = PiperSynthesizer(noise_scale=0.0, noise_w_scale=0.0)
    s.load()
    return s


@pytest.fixture(scope="session")
def speech(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, synth: PiperSynthesizer
) -> SpeechMaker:
    """speech(text, wake=True, snr=None): a driver's request as 16 kHz audio, optionally in car noise."""
    memo: dict[tuple[str, bool], AudioChunk] = {}
    cache = getattr(request.config, "cache", None)
    disk = Path(cache.mkdir("audio-speech")) if cache is not None else tmp_path_factory.mktemp("speech")

    def make(text: str, wake: bool = True, snr: float | None = None, seed: int = 0) -> AudioChunk:
        key = (text, wake)
        if key not in memo:
            digest = hashlib.sha256(f"v2-det|{text}|{wake}".encode()).hexdigest()[:20]
            path = disk / f"{digest}.wav"
            if path.exists():
                memo[key] = read_wav(path)
            else:
                memo[key] = request_audio(synth, text, "Hey Jarvis." if wake else None)
                write_wav(path, memo[key])
        clean = memo[key]
        return clean if snr is None else mix_at_snr(clean, snr, seed)

    return make


@pytest.fixture(scope="session")
def said(synth: PiperSynthesizer) -> Callable[[str], AudioChunk]:
    memo: dict[str, AudioChunk] = {}

    def make(text: str) -> AudioChunk:
        if text not in memo:
            memo[text] = speak(synth, text)
        return memo[text]

    return make


@pytest.fixture(scope="session")
def voice_parts(synth: PiperSynthesizer) -> VoiceParts:
    """Real wake word, silero VAD, pocketsphinx with the domain LM, piper: loaded once."""
    parts = build_parts(Settings(), tts=False)
    parts.synthesizer = synth
    return parts


E = TypeVar("E", bound=PipelineEvent)


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def of(self, kind: type[E]) -> list[E]:
        """The recorded events of one type, in order."""
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def voice(voice_parts: VoiceParts, car: Car, settings: Settings) -> Iterator[tuple[VoicePipeline, Recorder]]:
    """A pipeline with the real engines on this test's simulated car, and its recorded events."""
    recorder = Recorder()
    pipeline = VoicePipeline(
        voice_parts, open_dialogue(settings, car), settings.voice, recorder, bridge=car.bridge
    )
    yield pipeline, recorder
    pipeline.close()


def is_speech_like(audio: AudioChunk, words: int) -> tuple[bool, str]:
    """Non-silent, mostly voiced to silero, and about as long as ``words`` spoken words."""
    from assistant.audio import to_stream_format
    from assistant.vad.silero import SileroSpeechDetector

    x = to_stream_format(audio)
    samples = x.array().astype(np.float32) / 32768.0
    seconds = len(samples) / 16000
    rms = float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0
    vad = SileroSpeechDetector()
    probs = [
        vad.process(AudioChunk(16000, 2, 1, x.audio[i : i + 1024]))
        for i in range(0, len(x.audio) - 1024, 1024)
    ]
    voiced = float(np.mean(np.array(probs) > 0.5)) if probs else 0.0
    ok = rms > 0.02 and voiced > 0.4 and 0.12 * words <= seconds <= 0.2 + 0.8 * words
    return ok, f"{seconds:.2f} s for {words} words, rms {rms:.3f}, voiced {voiced:.2f}"
