"""listen and simulate through the real CLI entry point; run without any sound device."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.audio import AudioChunk, concat, silence, write_wav
from assistant.cli import main
from tests.assistant.conftest import SpeechMaker


def channel(request: pytest.FixtureRequest) -> list[str]:
    return ["--can-channel", "cli-" + re.sub(r"[^A-Za-z0-9]+", "-", request.node.name)[-60:]]


def test_listen_json_one_object_per_file_in_order(
    tmp_path: Path, request: pytest.FixtureRequest, speech: SpeechMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    first, bad, second, quiet = (tmp_path / n for n in ("a.wav", "bad.wav", "b.wav", "quiet.wav"))
    write_wav(first, speech("turn on the fog lights", wake=False))
    bad.write_bytes(b"this is not a wav file")
    write_wav(second, speech("lock the doors", wake=False))
    write_wav(quiet, silence(1500))
    rc = main(
        ["listen", "--json", "--no-wake", *channel(request), str(first), str(bad), str(second), str(quiet)]
    )
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rc == 1  # one file could not be read
    assert [o["file"] for o in out] == [str(first), str(bad), str(second), str(quiet)]
    assert [(c["intent"], c["slots"]) for c in out[0]["commands"]] == [
        ("lights.set", {"light": "fog_lights", "state": "on"})
    ]
    assert out[0]["frames"] and out[0]["reply"] == "Fog lights on."
    assert {"endpoint_delay", "asr_final", "first_frame", "eos_to_frame"} <= set(out[0]["timings_ms"])
    assert "not a WAV file" in out[1]["error"] and out[1]["commands"] == []
    assert out[2]["commands"][0]["intent"] == "doors.lock"
    assert out[3] == {
        "file": str(quiet),
        "text": "",
        "commands": [],
        "frames": [],
        "reply": "",
        "timings_ms": {},
    }


def test_listen_with_the_wake_word_and_spoken_replies(
    tmp_path: Path, request: pytest.FixtureRequest, speech: SpeechMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    wav = tmp_path / "req.wav"
    write_wav(wav, speech("set the fan to three", wake=True, snr=15.0))
    rc = main(["listen", "--json", "--replies", str(tmp_path / "out"), *channel(request), str(wav)])
    result = json.loads(capsys.readouterr().out)
    assert rc == 0 and result["commands"][0]["slots"] == {"level": 3}
    assert Path(result["reply_wavs"][0]).exists() and "first_audio" in result["timings_ms"]


def test_simulate_a_short_drive(
    tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "drive.txt"
    script.write_text("# a bench drive\nturn on the air conditioning\n", encoding="utf-8")
    rc = main(
        [
            "simulate",
            "--script",
            str(script),
            "--snr",
            "20",
            "--out",
            str(tmp_path / "sim"),
            *channel(request),
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0
    assert "asr: pocketsphinx" in captured.err
    assert "wake" in captured.out and "CAN tx " in captured.out and "reply_audio" in captured.out, (
        captured.out
    )
    assert "1. asked 'turn on the air conditioning': climate.ac{state=on}" in captured.out
    assert "1 requests: 1 right (1 carried out and confirmed by the car), 0 wrong, 0 missed" in captured.out
    assert (tmp_path / "sim" / "drive.wav").exists() and (tmp_path / "sim" / "reply-01.wav").exists()


def test_run_without_a_microphone_is_one_clear_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import assistant.audio as audio

    class NoDevices:
        @staticmethod
        def query_devices() -> list[dict[str, object]]:
            return []

    monkeypatch.setattr(audio, "_sounddevice", lambda: NoDevices)
    rc = main(["run"])
    err = capsys.readouterr().err
    assert rc == 1 and err.startswith("error: no microphone found; sound devices:")
    assert "no sound devices at all" in err


def test_listen_text_output(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    said: Callable[[str], AudioChunk],
    capsys: pytest.CaptureFixture[str],
) -> None:
    wav = tmp_path / "x.wav"
    write_wav(wav, concat([silence(300), said("open the trunk"), silence(300)]))
    assert main(["listen", "--no-wake", *channel(request), str(wav)]) == 0
    out = capsys.readouterr().out
    assert "trunk.open" in out and "The trunk is open." in out


def test_run_reports_a_lost_microphone_and_reopens_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    import assistant.audio as audio
    import assistant.pipeline as pipeline_module
    from assistant.asr.fake import FakeRecognizer
    from assistant.pipeline import VoiceParts
    from assistant.vad.fake import EnergySpeechDetector
    from assistant.wake.fake import FakeWakeDetector

    class FlakyMicrophone:
        """Three blocks, then the device vanishes once, comes back on reopen, then Ctrl-C."""

        opened = 0
        reads = 0

        def __init__(self, device: str = "", block_ms: float = 30.0) -> None:
            pass

        def open(self) -> FlakyMicrophone:
            FlakyMicrophone.opened += 1
            return self

        def reopen(self) -> None:
            self.open()

        def close(self) -> None:
            pass

        def read(self, timeout_s: float = 2.0) -> AudioChunk:
            FlakyMicrophone.reads += 1
            if FlakyMicrophone.reads == 4:
                raise audio.AudioDeviceError("the microphone stream stopped (device lost?)")
            if FlakyMicrophone.reads > 8:
                raise KeyboardInterrupt
            return silence(30)

    class NoSpeaker:
        def __init__(self, device: str = "") -> None:
            pass

        def check(self) -> None:
            raise audio.AudioDeviceError("no speaker found")

    monkeypatch.setattr(audio, "Microphone", FlakyMicrophone)
    monkeypatch.setattr(audio, "Speaker", NoSpeaker)
    monkeypatch.setattr(
        pipeline_module,
        "build_parts",
        lambda settings, wake=True, tts=True: VoiceParts(
            EnergySpeechDetector(), FakeRecognizer(), FakeWakeDetector()
        ),
    )
    monkeypatch.setattr("time.sleep", lambda s: None)
    assert main(["run", *channel(request)]) == 0
    err = capsys.readouterr().err
    assert "audio device lost" in err and "microphone reopened" in err and "replies are printed only" in err
    assert FlakyMicrophone.opened == 2 and FlakyMicrophone.reads == 9


def test_simulate_counts_a_misheard_request_as_wrong_not_carried_out(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import assistant.pipeline as pipeline_module
    from assistant.asr.fake import FakeRecognizer
    from assistant.pipeline import VoiceParts
    from assistant.tts.fake import FakeSynthesizer
    from assistant.vad.fake import EnergySpeechDetector
    from assistant.wake.fake import FakeWakeDetector

    # the fake synthesizer speaks 60 ms a character: each request is 0.4 s of silence, "Hey Jarvis."
    # (0.66 s), 0.5 s, the request, 0.2 s, then 1.2 s of pause; the wake word fires after "Hey Jarvis."
    first = 400 + 660 + 500 + 60 * len("turn on the fog lights") + 200 + 1200
    wake_at = [1100, first + 1100]
    heard = ["turn on the fog lights", "unlock the doors"]  # the second is misheard
    monkeypatch.setattr(
        pipeline_module,
        "build_parts",
        lambda settings, wake=True, tts=True: VoiceParts(
            EnergySpeechDetector(), FakeRecognizer(heard), FakeWakeDetector(wake_at), FakeSynthesizer()
        ),
    )
    script = tmp_path / "drive.txt"
    script.write_text("turn on the fog lights\nlock the doors\n", encoding="utf-8")
    out_dir = str(tmp_path / "sim")
    args = ["simulate", "--script", str(script), "--no-noise", "--out", out_dir, *channel(request)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "2. asked 'lock the doors': doors.lock{door=all}" in out
    assert "heard 'unlock the doors': doors.unlock{door=all}" in out and "WRONG" in out
    assert "2 requests: 1 right (1 carried out and confirmed by the car), 1 wrong, 0 missed" in out
    assert main([*args, "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    verdicts = [(r["request"], r["verdict"], r["confirmed"]) for r in records]
    assert verdicts == [(1, "right", True), (2, "wrong", False)]
    assert records[1]["expected"] == [{"intent": "doors.lock", "slots": {"door": "all"}}]
    assert records[1]["done"] == [{"intent": "doors.unlock", "slots": {"door": "all"}}]


def test_verdicts() -> None:
    from assistant.voice_sim import reading, request_of, verdict

    lock = reading([{"intent": "doors.lock", "slots": {"door": "all"}, "confidence": 0.9}])
    unlock = reading([{"intent": "doors.unlock", "slots": {"door": "all"}}])
    assert verdict(lock, lock) == "right" and verdict((), ()) == "right"
    assert verdict(lock, unlock) == "wrong" and verdict((), unlock) == "wrong"
    assert verdict(lock, ()) == "missed"
    assert [request_of(t, [0.0, 4000.0, 9000.0]) for t in (10.0, 4000.0, 8999.0, 20000.0)] == [0, 1, 1, 2]
