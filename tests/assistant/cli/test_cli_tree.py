"""One CLI tree (issue 11, item 4): every workbench command under car-assistant, one settings builder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from assistant import cli
from assistant.config import settings_from_args


def test_voice_bench_is_a_subcommand_that_hands_its_flags_on(monkeypatch: pytest.MonkeyPatch) -> None:
    import workbench.voice_bench

    seen: list[list[str]] = []

    def main(argv: list[str]) -> int:
        seen.append(argv)
        return 7

    monkeypatch.setattr(workbench.voice_bench, "main", main)
    assert cli.main(["voice-bench", "accuracy", "--nlu", "templates", "--snr", "5"]) == 7
    assert seen == [["accuracy", "--nlu", "templates", "--snr", "5"]]


def test_voice_bench_without_the_workbench_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "workbench.voice_bench", None)  # as if not installed
    assert cli.main(["voice-bench", "idle"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: voice-bench is part of the workbench")
    assert "pip install -e '.[bench]'" in err
    assert len(err.splitlines()) == 1


def test_one_builder_reads_every_subcommands_setting_flags(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("voice: {asr_engine: vosk, trailing_silence_ms: 900}\ncan: {channel: from-file}\n")
    ap = cli.build_argparser()
    args, _ = ap.parse_known_args(
        ["--config", str(config), "simulate", "--nlu", "templates", "--asr", "pocketsphinx",
         "--wake-word", "alexa", "--no-semantic", "--no-sim", "--can-channel", "from-flag"]
    )
    settings, source = settings_from_args(args, environ={"CAR_ASSISTANT_VOICE_WAKE_WORD": "okay_nabu"})
    assert source == str(config)
    assert (settings.nlu.engine, settings.voice.asr_engine, settings.voice.wake_word) == (
        "templates", "pocketsphinx", "alexa"
    )
    assert settings.voice.trailing_silence_ms == 900  # from the file: no flag given
    assert (settings.voice.semantic_endpointing, settings.can.simulate) == (False, False)
    assert settings.can.channel == "from-flag"
    # a subcommand without those flags (parse has no --asr) leaves the file's values
    args, _ = ap.parse_known_args(["--config", str(config), "parse", "x"])
    settings, _ = settings_from_args(args, environ={})
    assert (settings.voice.asr_engine, settings.can.channel) == ("vosk", "from-file")



def test_a_broken_plugin_leaves_the_runtime_commands_working(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.metadata

    class Broken:
        value = "broken.plugin:register"

        def load(self) -> object:
            def register(add: object) -> None:
                raise RuntimeError("plugin bug")

            return register

    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [Broken()])
    assert cli.main(["parse", "--json", "lock the doors"]) == 0
    assert '"doors.lock"' in capsys.readouterr().out
    # the workbench command it should have brought says why it is missing, in one line
    assert cli.main(["train"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: train is part of the workbench") and "plugin bug" in err
    assert len(err.splitlines()) == 1
