"""Recordings of any length: read in blocks, several requests heard as several, an empty one refused."""

from __future__ import annotations

import json
import tracemalloc
import wave
from pathlib import Path

import numpy as np
import pytest

from assistant.asr.fake import FakeRecognizer
from assistant.audio import AudioFileError, WavStream, concat, read_wav, silence, write_wav
from assistant.cli import main
from assistant.config import Settings, VoiceSettings
from assistant.pipeline import VoiceParts, VoicePipeline
from assistant.runtime import Car, open_dialogue
from assistant.vad.fake import EnergySpeechDetector
from assistant.wake.fake import FakeWakeDetector
from tests.assistant.cli.test_voice import channel
from tests.assistant.conftest import SpeechMaker


def _noise_wav(path: Path, seconds: float, rate: int, channels: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        for _ in range(int(seconds)):  # written a second at a time: the test itself stays small
            w.writeframes((rng.standard_normal((rate, channels)) * 2000).astype("<i2").tobytes())


@pytest.mark.parametrize("rate, channels", [(44100, 2), (48000, 1), (8000, 1), (22050, 2), (16000, 1)])
def test_blocks_are_the_whole_file_converted(tmp_path: Path, rate: int, channels: int) -> None:
    path = tmp_path / "x.wav"
    _noise_wav(path, 3, rate, channels)
    whole = read_wav(path).array()
    blocks = list(WavStream(path).blocks(30))
    assert np.array_equal(np.concatenate([b.array() for b in blocks]), whole)
    assert all(b.samples == 480 for b in blocks[:-1])
    assert [b.timestamp_ms for b in blocks[:3]] == [0.0, 30.0, 60.0]


def test_a_long_file_is_listened_to_in_little_memory(tmp_path: Path, car: Car, settings: Settings) -> None:
    path = tmp_path / "long.wav"
    _noise_wav(path, 180, 48000, 2)  # 3 minutes, 35 MB; read whole, the old reader peaked near 350 MB
    size = path.stat().st_size
    parts = VoiceParts(EnergySpeechDetector(), FakeRecognizer(), FakeWakeDetector([]))
    pipeline = VoicePipeline(parts, open_dialogue(settings, car), VoiceSettings(), bridge=car.bridge)
    tracemalloc.start()
    try:
        stream = WavStream(path)
        turns = pipeline.run_stream(stream.blocks())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        pipeline.close()
    assert turns == []  # no wake word in noise
    assert stream.duration_ms == 180_000
    assert peak < size / 10, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB file"


def test_a_request_is_capped_at_the_maximum_length_in_a_stream(car: Car, settings: Settings) -> None:
    from tests.assistant.test_pipeline import buzz

    texts = ["turn on the fog lights", "lock the doors"]
    parts = VoiceParts(EnergySpeechDetector(), FakeRecognizer(texts), FakeWakeDetector([300]))
    pipeline = VoicePipeline(
        parts, open_dialogue(settings, car), VoiceSettings(max_request_s=4.0), bridge=car.bridge
    )
    from assistant.audio import split

    turns = pipeline.run_stream(split(concat([silence(400), buzz(12_000), silence(500)]), 30))
    pipeline.close()
    assert turns[0].endpoint is not None and turns[0].endpoint.reason == "max_length"
    assert turns[0].endpoint.at_ms - turns[0].endpoint.speech_start_ms <= 4030  # type: ignore[operator]


def test_a_wake_word_while_listening_starts_a_request_of_its_own(car: Car, settings: Settings) -> None:
    from tests.assistant.test_pipeline import buzz

    # two requests back to back: the pause between them is shorter than the trailing silence
    texts = ["turn on the fog lights hey jarvis", "lock the doors"]
    parts = VoiceParts(EnergySpeechDetector(), FakeRecognizer(texts), FakeWakeDetector([300, 1700]))
    pipeline = VoicePipeline(
        parts, open_dialogue(settings, car), VoiceSettings(trailing_silence_ms=1000), bridge=car.bridge
    )
    turns = pipeline.run(concat([silence(400), buzz(1000), silence(200), buzz(900), silence(300)]))
    pipeline.close()
    assert len(turns) == 2
    first, second = turns
    assert first.endpoint is not None and first.endpoint.reason == "wake"
    assert first.cut_off and first.turn is None and first.frames == [] and first.reply == ""
    assert second.commands[0]["intent"] == "doors.lock"
    assert car.bridge.state()["Vehicle.Body.Lights.Fog.Front.IsOn"] in (0, False)


def test_an_empty_wav_is_refused() -> None:
    import io

    empty = io.BytesIO()
    write_wav_to = wave.open(empty, "wb")
    write_wav_to.setnchannels(1)
    write_wav_to.setsampwidth(2)
    write_wav_to.setframerate(16000)
    write_wav_to.close()
    empty.seek(0)
    with pytest.raises(AudioFileError, match="holds no audio"):
        read_wav(empty)


def test_an_empty_wav_is_refused_before_streaming(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    write_wav(path, silence(0))
    with pytest.raises(AudioFileError, match=r"empty\.wav: the WAV holds no audio"):
        WavStream(path)


def test_listen_json_carries_every_request_and_refuses_an_empty_file(
    tmp_path: Path, request: pytest.FixtureRequest, speech: SpeechMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    empty, back_to_back, spaced = (tmp_path / n for n in ("empty.wav", "b2b.wav", "spaced.wav"))
    write_wav(empty, silence(0))
    fog, lock = speech("turn on the fog lights", wake=True), speech("lock the doors", wake=True)
    write_wav(back_to_back, concat([fog, lock]))  # 0.6 s between: shorter than the trailing silence
    write_wav(spaced, concat([fog, silence(2500), lock]))
    rc = main(
        [
            "listen", "--json", "--trailing-silence-ms", "1500", "--no-semantic", *channel(request),
            str(empty), str(back_to_back), str(spaced),
        ]
    )
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rc == 1  # the empty file
    assert "holds no audio" in out[0]["error"]
    b2b = out[1]
    assert [t["endpoint"] for t in b2b["turns"]] == ["wake", "silence"]
    assert b2b["turns"][0]["cut_off"] and b2b["turns"][0]["commands"] == []  # cut short by the next wake
    assert [c["intent"] for c in b2b["commands"]] == ["doors.lock"]
    both = out[2]
    assert both["requests"] == 2
    assert [[c["intent"] for c in t["commands"]] for t in both["turns"]] == [["lights.set"], ["doors.lock"]]
    assert both["text"] == " / ".join(t["text"] for t in both["turns"])
    first, second = both["turns"]
    assert first["wake_ms"] < first["speech_ms"][0] < first["endpoint_ms"] < second["wake_ms"]
    assert "timings_ms" not in both and "eos_to_frame" in second["timings_ms"]
