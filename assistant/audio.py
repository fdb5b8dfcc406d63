"""Audio in and out: the chunk type every stage passes, WAV files, resampling, sound devices.

Every stage works on 16 kHz mono 16-bit PCM (``RATE``, ``WIDTH``,
``CHANNELS``); WAV files of any rate, width and channel count are converted
on reading. Fields are named as in the wyoming protocol (rate, width,
channels). Microphone and speaker go through sounddevice (PortAudio), imported
only when a device is opened, so file modes need neither.
"""

from __future__ import annotations

import io
import logging
import queue
import struct
import threading
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from assistant.errors import AssistantError

log = logging.getLogger(__name__)

RATE = 16000
"""Samples per second every stage expects."""
WIDTH = 2
"""Bytes per sample (int16)."""
CHANNELS = 1


class AudioError(AssistantError):
    """Audio input or output failed."""

    code = "audio"


class AudioFileError(AudioError, ValueError):
    """A WAV file that cannot be read; the message names the file and the reason."""

    code = "audio_file"


class AudioDeviceError(AudioError, OSError):
    """No usable microphone or speaker, or one that went away; the message lists the devices."""

    code = "audio_device"


@dataclass(frozen=True)
class AudioChunk:
    """A block of PCM audio (little-endian signed integers, interleaved channels)."""

    rate: int
    """Samples per second."""
    width: int
    """Bytes per sample."""
    channels: int
    audio: bytes
    timestamp_ms: float = 0.0
    """Stream time of the first sample, milliseconds since the stream started."""

    @property
    def samples(self) -> int:
        return len(self.audio) // (self.width * self.channels)

    @property
    def duration_ms(self) -> float:
        return 1000.0 * self.samples / self.rate

    def array(self) -> np.ndarray:
        """int16 samples (mono 16-bit chunks only)."""
        if self.width != 2 or self.channels != 1:
            raise AudioError(f"expected mono 16-bit audio, got width={self.width} channels={self.channels}")
        return np.frombuffer(self.audio, dtype="<i2")

    @staticmethod
    def from_array(samples: np.ndarray, rate: int = RATE, timestamp_ms: float = 0.0) -> AudioChunk:
        """Mono chunk from int16 samples, or floats in [-1, 1] (clipped)."""
        if samples.dtype.kind == "f":
            # 32768 both ways, so int16 -> float -> int16 is lossless
            samples = np.clip(np.round(samples * 32768.0), -32768, 32767)
        return AudioChunk(rate, 2, 1, samples.astype("<i2").tobytes(), timestamp_ms)


def resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Float samples at ``dst_rate`` (polyphase filter: no aliasing from 22.05/44.1/48 kHz down to 16 kHz)."""
    x = samples.astype(np.float32)
    if src_rate == dst_rate or len(x) == 0:
        return x
    from scipy.signal import resample_poly

    g = gcd(src_rate, dst_rate)
    out: np.ndarray = resample_poly(x, dst_rate // g, src_rate // g).astype(np.float32)
    return out


def to_stream_format(chunk: AudioChunk) -> AudioChunk:
    """``chunk`` as 16 kHz mono int16 (mixes channels down, resamples)."""
    if chunk.rate == RATE and chunk.width == WIDTH and chunk.channels == CHANNELS:
        return chunk
    x = _decode_pcm(chunk.audio, chunk.width, False, chunk.channels, "audio chunk")
    mono = x.mean(axis=1) if x.ndim == 2 else x
    return AudioChunk.from_array(resample(mono, chunk.rate, RATE), RATE, chunk.timestamp_ms)


def split(chunk: AudioChunk, ms: float = 30.0) -> Iterator[AudioChunk]:
    """``chunk`` cut into blocks of ``ms`` (the last may be shorter), with stream timestamps."""
    step = max(1, int(chunk.rate * ms / 1000)) * chunk.width * chunk.channels
    for start in range(0, len(chunk.audio), step):
        offset_ms = 1000.0 * start / (chunk.rate * chunk.width * chunk.channels)
        yield AudioChunk(chunk.rate, chunk.width, chunk.channels, chunk.audio[start:start + step],
                         chunk.timestamp_ms + offset_ms)


def silence(ms: float, rate: int = RATE) -> AudioChunk:
    return AudioChunk(rate, 2, 1, bytes(2 * int(rate * ms / 1000)))


def concat(chunks: list[AudioChunk]) -> AudioChunk:
    """One chunk from chunks of the same format (converted to 16 kHz mono if they differ)."""
    if not chunks:
        return silence(0)
    first = chunks[0]
    if any((c.rate, c.width, c.channels) != (first.rate, first.width, first.channels) for c in chunks):
        chunks = [to_stream_format(c) for c in chunks]
        first = chunks[0]
    return AudioChunk(first.rate, first.width, first.channels, b"".join(c.audio for c in chunks),
                      first.timestamp_ms)


def rms_dbfs(samples: np.ndarray) -> float:
    """Level in dB relative to int16 full scale; -120 for digital silence."""
    x = samples.astype(np.float64) / 32768.0
    rms = float(np.sqrt(np.mean(x * x))) if len(x) else 0.0
    return float(20.0 * np.log10(max(rms, 1e-6)))


# -- WAV files ---------------------------------------------------------------------------------

_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE


def read_wav(source: str | Path | BinaryIO) -> AudioChunk:
    """A WAV file as 16 kHz mono int16.

    Reads PCM 8/16/24/32-bit, IEEE float 32/64-bit and WAVE_FORMAT_EXTENSIBLE
    at any rate and channel count; anything else raises ``AudioFileError``
    naming the file and what is wrong with it.
    """
    name = str(source) if isinstance(source, (str, Path)) else getattr(source, "name", "<stream>")
    try:
        data = Path(source).read_bytes() if isinstance(source, (str, Path)) else source.read()
    except FileNotFoundError as err:
        raise AudioFileError(f"{name}: no such file") from err
    except OSError as err:
        raise AudioFileError(f"{name}: cannot read ({err.strerror or err})") from err
    fmt, pcm = _riff_chunks(data, name)
    tag, channels, rate, width = _check_fmt(fmt, name)
    frame = width * channels
    usable = len(pcm) - len(pcm) % frame
    if usable == 0:
        raise AudioFileError(f"{name}: the WAV holds no audio (its data chunk is empty)")
    x = _decode_pcm(pcm[:usable], width, tag == _FLOAT, channels, name)
    mono = x.mean(axis=1) if x.ndim == 2 else x
    return AudioChunk.from_array(resample(mono, rate, RATE), RATE)


def _check_fmt(fmt: bytes, name: str) -> tuple[int, int, int, int]:
    """Format tag, channels, rate and sample width of a 'fmt ' chunk this module can read."""
    if len(fmt) < 16:
        raise AudioFileError(f"{name}: the 'fmt ' chunk is {len(fmt)} bytes, a WAV header needs 16")
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == _EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack("<H", fmt[24:26])[0]
    if tag not in (_PCM, _FLOAT):
        kinds = {2: "ADPCM", 6: "A-law", 7: "mu-law", 0x55: "MP3", 0x11: "IMA ADPCM"}
        raise AudioFileError(
            f"{name}: compressed WAV ({kinds.get(tag, f'format tag {tag:#x}')}) is not supported; "
            "convert it to PCM, e.g. sox IN.wav -e signed -b 16 OUT.wav"
        )
    if channels < 1 or rate < 1000 or rate > 384000:
        raise AudioFileError(f"{name}: implausible header ({channels} channels at {rate} Hz)")
    if tag == _FLOAT and bits not in (32, 64):
        raise AudioFileError(f"{name}: {bits}-bit float samples are not supported (32 or 64 are)")
    if tag == _PCM and bits not in (8, 16, 24, 32):
        raise AudioFileError(f"{name}: {bits}-bit PCM is not supported (8, 16, 24 or 32 are)")
    return tag, channels, rate, bits // 8


STREAM_READ_MS = 1000.0
"""Source audio ``WavStream`` decodes at a time (ms): memory stays flat however long the file."""


class WavStream:
    """A WAV file read as 16 kHz mono int16 blocks, a second at a time (``blocks()``).

    The header is checked on opening (``AudioFileError`` as ``read_wav`` gives it), so a bad file
    fails before any audio is used; an empty one too. ``read_wav`` holds a file and about ten times
    its size while converting; this holds about one ``STREAM_READ_MS`` of it.
    """

    def __init__(self, path: str | Path) -> None:
        self.name = str(path)
        try:
            with open(path, "rb") as f:
                fmt, self._offset, self._size = _riff_layout(f, self.name)
        except FileNotFoundError as err:
            raise AudioFileError(f"{self.name}: no such file") from err
        except IsADirectoryError as err:
            raise AudioFileError(f"{self.name}: is a directory, not a WAV file") from err
        except OSError as err:
            raise AudioFileError(f"{self.name}: cannot read ({err.strerror or err})") from err
        self.path = Path(path)
        self._tag, self._channels, self._rate, self._width = _check_fmt(fmt, self.name)
        frame = self._width * self._channels
        self._size -= self._size % frame
        if self._size == 0:
            raise AudioFileError(f"{self.name}: the WAV holds no audio (its data chunk is empty)")

    @property
    def duration_ms(self) -> float:
        return 1000.0 * self._size / (self._width * self._channels * self._rate)

    def blocks(self, block_ms: float = 30.0) -> Iterator[AudioChunk]:
        """The audio as 16 kHz mono int16 chunks of ``block_ms`` (the last may be shorter)."""
        step = max(1, int(RATE * block_ms / 1000))
        frame = self._width * self._channels
        resampler = _Resampler(self._rate, RATE)
        down = resampler.down
        per_read = max(down, int(self._rate * STREAM_READ_MS / 1000) // down * down)
        pending = np.zeros(0, np.float32)
        done = 0  # output samples yielded
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            left = self._size
            while True:
                raw = f.read(min(left, per_read * frame)) if left > 0 else b""
                left -= len(raw)
                raw = raw[: len(raw) - len(raw) % frame]
                last = not raw or left <= 0
                x = _decode_pcm(raw, self._width, self._tag == _FLOAT, self._channels, self.name)
                mono = x.mean(axis=1) if x.ndim == 2 else x
                pending = np.concatenate([pending, resampler.push(mono, final=last)])
                whole = len(pending) if last else len(pending) - len(pending) % step
                for start in range(0, whole, step):
                    piece = pending[start : start + step]
                    yield AudioChunk.from_array(piece, RATE, 1000.0 * (done + start) / RATE)
                done += whole
                pending = pending[whole:]
                if last:
                    return


class _Resampler:
    """Polyphase resampling in pieces, equal to ``resample`` on the whole signal (to float precision).

    Each piece is resampled with ``pad`` input samples of history and look-ahead around it, more
    than the filter's half length, and only its own output kept; pieces start on multiples of
    ``down`` so their outputs line up with the whole signal's.
    """

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        g = gcd(src_rate, dst_rate)
        self.up, self.down = dst_rate // g, src_rate // g
        half = -(-10 * max(self.up, self.down) // self.up) + 1  # resample_poly's half length, input samples
        self.pad = -(-half // self.down) * self.down
        self._buf = np.zeros(0, np.float32)
        self._history = 0  # samples at the start of _buf already resampled

    def push(self, x: np.ndarray, final: bool = False) -> np.ndarray:
        if self.up == self.down == 1:
            return x.astype(np.float32)
        self._buf = np.concatenate([self._buf, x.astype(np.float32)])
        ready = len(self._buf) - self._history
        if final:
            n = ready
        else:
            n = (ready - self.pad) // self.down * self.down
            if n <= 0:
                return np.zeros(0, np.float32)
        end = self._history + n
        segment = self._buf if final else self._buf[: end + self.pad]
        y = resample(segment, self.down, self.up)
        first = self._history * self.up // self.down
        out = y[first:] if final else y[first : end * self.up // self.down]
        keep = min(self.pad, end)
        self._buf = self._buf[end - keep :]
        self._history = keep
        return out


def _riff_layout(f: BinaryIO, name: str) -> tuple[bytes, int, int]:
    """The 'fmt ' chunk, and where the 'data' chunk's samples start and how many bytes they are."""
    head = f.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        _riff_chunks(head, name)  # raises, saying why (empty, not a WAV, big-endian)
    total = f.seek(0, 2)
    pos = 12
    fmt: bytes | None = None
    data: tuple[int, int] | None = None
    while pos + 8 <= total:
        f.seek(pos)
        cid, size = f.read(4), struct.unpack("<I", f.read(4))[0]
        if cid == b"fmt ":
            fmt = f.read(min(size, 1024))
        elif cid == b"data":
            data = (pos + 8, min(size, total - pos - 8))  # a truncated file still gives what it has
            if fmt is not None:
                break
        pos += 8 + size + (size & 1)
    if fmt is None:
        raise AudioFileError(f"{name}: no 'fmt ' chunk; the header is damaged")
    if data is None:
        raise AudioFileError(f"{name}: no 'data' chunk; the file is truncated or damaged")
    return fmt, data[0], data[1]


def _riff_chunks(data: bytes, name: str) -> tuple[bytes, bytes]:
    if len(data) == 0:
        raise AudioFileError(f"{name}: the file is empty")
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RIFX") or data[8:12] != b"WAVE":
        head = data[:4]
        hint = {b"fLaC": " (it is FLAC)", b"OggS": " (it is Ogg)", b"ID3\x03": " (it is MP3)"}.get(head, "")
        raise AudioFileError(f"{name}: not a WAV file, no RIFF/WAVE header{hint}")
    if data[:4] == b"RIFX":
        raise AudioFileError(f"{name}: big-endian WAV (RIFX) is not supported")
    fmt: bytes | None = None
    pcm: bytes | None = None
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            fmt = body
        elif cid == b"data":
            pcm = body  # a truncated file still gives what it has
            if fmt is not None:
                break
        pos += 8 + size + (size & 1)
    if fmt is None:
        raise AudioFileError(f"{name}: no 'fmt ' chunk; the header is damaged")
    if pcm is None:
        raise AudioFileError(f"{name}: no 'data' chunk; the file is truncated or damaged")
    return fmt, pcm


def _decode_pcm(pcm: bytes, width: int, is_float: bool, channels: int, name: str) -> np.ndarray:
    """Float32 samples in [-1, 1], shape (n,) for mono or (n, channels)."""
    if is_float:
        x = np.frombuffer(pcm, dtype="<f4" if width == 4 else "<f8").astype(np.float32)
        x = np.nan_to_num(np.clip(x, -1.0, 1.0))
    elif width == 1:
        x = (np.frombuffer(pcm, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(pcm, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (np.where(v >= 1 << 23, v - (1 << 24), v)).astype(np.float32) / float(1 << 23)
    elif width == 4:
        x = np.frombuffer(pcm, dtype="<i4").astype(np.float32) / float(1 << 31)
    else:
        raise AudioFileError(f"{name}: {8 * width}-bit samples are not supported")
    return x.reshape(-1, channels) if channels > 1 else x


def write_wav(path: str | Path, chunk: AudioChunk) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(chunk.channels)
        w.setsampwidth(chunk.width)
        w.setframerate(chunk.rate)
        w.writeframes(chunk.audio)


def wav_bytes(chunk: AudioChunk) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(chunk.channels)
        w.setsampwidth(chunk.width)
        w.setframerate(chunk.rate)
        w.writeframes(chunk.audio)
    return buf.getvalue()


# -- sound devices -----------------------------------------------------------------------------


def _sounddevice() -> Any:
    try:
        import sounddevice
    except OSError as err:  # the Python package is there, the PortAudio library is not
        raise AudioDeviceError(
            f"PortAudio is not installed ({err}); install it (Debian: apt-get install libportaudio2) "
            "or use car-assistant listen FILE.wav / simulate"
        ) from err
    except ImportError as err:
        raise AudioDeviceError("sounddevice is not installed; run: pip install -e .") from err
    return sounddevice


def list_devices() -> str:
    """One line per sound device PortAudio sees, or a line saying there are none."""
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
    except Exception as err:
        return f"(cannot list devices: {err})"
    lines = [
        f"  {i}: {d['name']} (in {d['max_input_channels']}, out {d['max_output_channels']}, "
        f"{d['default_samplerate']:g} Hz)"
        for i, d in enumerate(devices)
    ]
    return "\n".join(lines) if lines else "  (no sound devices at all)"


def _device_arg(device: str) -> int | str | None:
    if not device:
        return None
    return int(device) if device.isdigit() else device


class Microphone:
    """16 kHz mono int16 blocks from an input device; ``read()`` returns the next block.

    A lost device (unplugged USB microphone) surfaces as ``AudioDeviceError``
    from ``read()``; the caller reports it and calls ``reopen()``.
    """

    def __init__(self, device: str = "", block_ms: float = 30.0) -> None:
        self.device = device
        self.block = int(RATE * block_ms / 1000)
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=200)
        self._stream: Any = None
        self._t_ms = 0.0

    def open(self) -> Microphone:
        sd = _sounddevice()
        try:
            devices = sd.query_devices()
            if not any(d["max_input_channels"] > 0 for d in devices):
                raise AudioDeviceError("no microphone found; sound devices:\n" + list_devices())

            def callback(indata: Any, frames: int, time_info: Any, status: Any) -> None:
                if status and status.input_overflow:
                    log.warning("microphone overflow: audio was dropped")
                try:
                    self._queue.put_nowait(bytes(indata))
                except queue.Full:
                    log.warning("audio queue full: the pipeline is falling behind")

            def finished() -> None:
                self._queue.put(AudioDeviceError("the microphone stream stopped (device lost?)"))

            self._stream = sd.RawInputStream(
                samplerate=RATE, channels=1, dtype="int16", blocksize=self.block,
                device=_device_arg(self.device), callback=callback, finished_callback=finished,
            )
            self._stream.start()
        except AudioDeviceError:
            raise
        except Exception as err:
            raise AudioDeviceError(
                f"cannot open microphone {self.device or '(default)'}: {err}; sound devices:\n"
                + list_devices()
            ) from err
        return self

    def read(self, timeout_s: float = 2.0) -> AudioChunk:
        try:
            item = self._queue.get(timeout=timeout_s)
        except queue.Empty as err:
            raise AudioDeviceError(f"no audio from the microphone for {timeout_s:g} s (lost?)") from err
        if isinstance(item, BaseException):
            raise item
        chunk = AudioChunk(RATE, 2, 1, item, self._t_ms)
        self._t_ms += chunk.duration_ms
        return chunk

    def reopen(self) -> None:
        self.close()
        self._queue = queue.Queue(maxsize=200)
        self.open()

    def close(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            try:
                stream.stop()
                stream.close()
            except Exception:  # a lost device may fail to close; it is gone either way
                log.debug("closing the microphone failed", exc_info=True)

    def __enter__(self) -> Microphone:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


class Speaker:
    """Plays chunks on an output device in a background thread; ``stop()`` cuts it short (barge-in)."""

    def __init__(self, device: str = "") -> None:
        self.device = device
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def check(self) -> None:
        sd = _sounddevice()
        if not any(d["max_output_channels"] > 0 for d in sd.query_devices()):
            raise AudioDeviceError("no speaker found; sound devices:\n" + list_devices())

    def play(self, chunks: Iterator[AudioChunk]) -> None:
        """Play ``chunks`` to the end or until ``stop()``; blocking (run it in a thread)."""
        sd = _sounddevice()
        self._stop.clear()
        with self._lock:
            stream = None
            try:
                for chunk in chunks:
                    if self._stop.is_set():
                        break
                    if stream is None:
                        stream = sd.RawOutputStream(samplerate=chunk.rate, channels=chunk.channels,
                                                    dtype="int16", device=_device_arg(self.device))
                        stream.start()
                    for piece in split(chunk, 50):
                        if self._stop.is_set():
                            break
                        stream.write(piece.audio)
            except Exception as err:
                raise AudioDeviceError(f"speaker failed: {err}; sound devices:\n" + list_devices()) from err
            finally:
                if stream is not None:
                    stream.abort() if self._stop.is_set() else stream.stop()
                    stream.close()

    def stop(self) -> None:
        self._stop.set()
