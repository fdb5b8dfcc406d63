"""The engine registries: the one way to an engine, and the one list of names the CLI and config offer."""

from __future__ import annotations

import argparse
import importlib

import pytest

from assistant import cli
from assistant.asr.base import REGISTRY as ASR
from assistant.asr.base import Recognizer
from assistant.asr.fake import FakeRecognizer
from assistant.asr.whisper import MODELS as WHISPER_MODELS
from assistant.config import ConfigError, GpioSettings, NluSettings, VoiceSettings, settings_from_args
from assistant.nlu.base import REGISTRY as NLU
from assistant.nlu.base import Parser
from assistant.registry import Registry
from assistant.tts.base import REGISTRY as TTS
from assistant.tts.base import Synthesizer
from assistant.vad.base import REGISTRY as VAD
from assistant.vad.base import SpeechDetector
from assistant.wake.base import REGISTRY as WAKE
from assistant.wake.base import WakeDetector
from assistant.wake.micro import WAKE_WORDS
from firmware_bridge.gpio import PIN_FACTORIES


@pytest.mark.parametrize(
    ("registry", "base"),
    [(ASR, Recognizer), (NLU, Parser), (TTS, Synthesizer), (VAD, SpeechDetector), (WAKE, WakeDetector)],
)
def test_every_registered_engine_is_a_class_of_its_stage(registry: Registry, base: type) -> None:
    for name, target in registry.engines.items():
        module, _, cls = target.partition(":")
        assert issubclass(getattr(importlib.import_module(module), cls), base), name


def test_choices_offer_the_real_engines_and_hide_the_fakes() -> None:
    assert ASR.choices == ("auto", "vosk", "pocketsphinx", "whisper")
    assert NLU.choices == ("slm", "templates")
    assert "fake" not in WAKE.choices and "fake" not in TTS.choices
    # hidden is not unloadable: the scripted fake is still built by name, for tests
    assert isinstance(ASR.load("fake", texts=["open the window"]), FakeRecognizer)


def test_a_registry_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        ASR.engines["mine"] = "my.module:Mine"  # type: ignore[index]


def test_an_unknown_engine_names_the_choices() -> None:
    choices = "auto, vosk, pocketsphinx, whisper"
    with pytest.raises(ConfigError, match=rf"^unknown ASR engine 'kaldi'; choose one of: {choices}$"):
        ASR.load("kaldi")


def _choices(parser: argparse.ArgumentParser, command: str, flag: str) -> tuple[str, ...]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    action = next(a for a in sub.choices[command]._actions if flag in a.option_strings)
    return tuple(action.choices or ())


def test_the_cli_and_the_config_offer_what_the_registries_hold() -> None:
    ap = cli.build_argparser()
    assert _choices(ap, "parse", "--nlu") == NLU.choices
    assert _choices(ap, "run", "--asr") == ASR.choices
    assert _choices(ap, "run", "--wake-word") == WAKE_WORDS
    assert NluSettings.__dataclass_fields__["engine"].metadata["choices"] == NLU.choices
    assert VoiceSettings.__dataclass_fields__["asr_engine"].metadata["choices"] == ASR.choices
    assert GpioSettings.__dataclass_fields__["pin_factory"].metadata["choices"] == PIN_FACTORIES
    assert VoiceSettings.__dataclass_fields__["whisper_model"].metadata["choices"] == WHISPER_MODELS
    with pytest.raises(ConfigError, match="is not one of auto, vosk, pocketsphinx, whisper"):
        settings_from_args(argparse.Namespace(), environ={"CAR_ASSISTANT_VOICE_ASR_ENGINE": "fake"})
