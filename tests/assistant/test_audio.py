"""WAV reading of odd formats, clear errors for unreadable files, chunking, resampling."""

from __future__ import annotations

import io
import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from assistant.audio import (
    AudioChunk,
    AudioFileError,
    concat,
    read_wav,
    resample,
    rms_dbfs,
    split,
    to_stream_format,
    write_wav,
)
from assistant.errors import AssistantError


def tone(rate: int, seconds: float = 0.5, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return 0.5 * np.sin(2 * np.pi * freq * t)


def riff(fmt_tag: int, channels: int, rate: int, bits: int, data: bytes, extensible: bool = False) -> bytes:
    block = channels * bits // 8
    if extensible:
        fmt = struct.pack("<HHIIHH", 0xFFFE, channels, rate, rate * block, block, bits)
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", fmt_tag) + b"\x00" * 14
    else:
        fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * block, block, bits)
    body = (
        b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def dominant_hz(chunk: AudioChunk) -> float:
    x = chunk.array().astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x))
    return float(np.argmax(spectrum) * chunk.rate / len(x))


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2])
def test_pcm16_any_rate_and_channels_becomes_16k_mono(tmp_path: Path, rate: int, channels: int) -> None:
    x = tone(rate)
    frames = np.repeat(x[:, None], channels, axis=1) if channels > 1 else x
    path = tmp_path / "a.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((frames * 32767).astype("<i2").tobytes())
    chunk = read_wav(path)
    assert (chunk.rate, chunk.width, chunk.channels) == (16000, 2, 1)
    assert abs(chunk.samples - 8000) <= 2
    assert abs(dominant_hz(chunk) - 440) < 5


@pytest.mark.parametrize(
    ("tag", "bits", "encode"),
    [
        (1, 8, lambda x: ((x * 127) + 128).astype(np.uint8).tobytes()),
        (
            1,
            24,
            lambda x: b"".join(int(v).to_bytes(3, "little", signed=True) for v in (x * 8388607).astype(int)),
        ),
        (1, 32, lambda x: (x * 2147483647).astype("<i4").tobytes()),
        (3, 32, lambda x: x.astype("<f4").tobytes()),
        (3, 64, lambda x: x.astype("<f8").tobytes()),
    ],
    ids=["u8", "s24", "s32", "f32", "f64"],
)
@pytest.mark.parametrize("extensible", [False, True], ids=["plain", "extensible"])
def test_odd_sample_formats_are_converted(
    tmp_path: Path, tag: int, bits: int, encode, extensible: bool
) -> None:
    x = tone(16000, 0.25)
    path = tmp_path / "odd.wav"
    path.write_bytes(riff(tag, 1, 16000, bits, encode(x), extensible))
    chunk = read_wav(path)
    assert chunk.samples == 4000
    assert np.max(np.abs(chunk.array().astype(float) / 32768 - x)) < 0.02


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"hello, this is text, not sound", "not a WAV file"),
        (b"fLaC" + bytes(100), "FLAC"),
        (b"RIFF\x10\x00\x00\x00WAVEfmt ", "no 'fmt ' chunk"),
        (riff(1, 1, 16000, 16, b"")[:36], "no 'data' chunk"),
        (riff(0x55, 1, 16000, 16, bytes(100)), "compressed WAV (MP3)"),
        (riff(7, 1, 8000, 8, bytes(100)), "mu-law"),
        (riff(1, 1, 16000, 12, bytes(100)), "12-bit PCM"),
        (riff(1, 0, 16000, 16, bytes(100)), "implausible header"),
    ],
    ids=["empty", "text", "flac", "no-fmt", "no-data", "mp3", "mulaw", "12bit", "no-channels"],
)
def test_unreadable_files_are_named_with_the_reason(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(data)
    with pytest.raises(AudioFileError) as info:
        read_wav(path)
    assert str(path) in str(info.value) and reason in str(info.value)
    assert isinstance(info.value, AssistantError) and info.value.code == "audio_file"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="no such file"):
        read_wav(tmp_path / "nope.wav")


def test_truncated_data_keeps_whole_frames(tmp_path: Path) -> None:
    data = riff(1, 2, 16000, 16, (np.ones(200) * 1000).astype("<i2").tobytes())
    path = tmp_path / "cut.wav"
    path.write_bytes(data[:-3])  # the header promises more than is there
    assert read_wav(path).samples == 99  # 397 bytes: 99 whole stereo frames


def test_write_then_read_round_trip(tmp_path: Path) -> None:
    chunk = AudioChunk.from_array(tone(16000, 0.1).astype(np.float32))
    write_wav(tmp_path / "x.wav", chunk)
    assert read_wav(tmp_path / "x.wav").audio == chunk.audio
    assert read_wav(io.BytesIO((tmp_path / "x.wav").read_bytes())).audio == chunk.audio


def test_split_keeps_stream_time_and_all_samples() -> None:
    chunk = AudioChunk.from_array(np.zeros(16000, dtype=np.int16))
    blocks = list(split(chunk, 30))
    assert [b.timestamp_ms for b in blocks[:3]] == [0.0, 30.0, 60.0]
    assert sum(b.samples for b in blocks) == 16000
    assert concat(blocks).audio == chunk.audio


def test_resample_and_levels() -> None:
    assert len(resample(np.zeros(22050), 22050, 16000)) == 16000
    stereo = AudioChunk(8000, 2, 2, np.zeros(1600, dtype="<i2").tobytes())
    assert to_stream_format(stereo).samples == 1600
    assert rms_dbfs(np.zeros(10, dtype=np.int16)) == pytest.approx(-120)
    assert rms_dbfs(np.full(10, 32767, dtype=np.int16)) == pytest.approx(0, abs=0.01)
