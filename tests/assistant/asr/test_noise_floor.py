"""The noise floor pocketsphinx hears its audio over (assistant/asr/pocketsphinx.py NoiseFloor)."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.asr.pocketsphinx import (
    FLOOR_DECAY_DB_PER_S,
    FLOOR_LOWEST_DBFS,
    FLOOR_START_DBFS,
    NOISE_FLOOR_DB,
    NoiseFloor,
)
from assistant.audio import AudioChunk


def chunk(x: np.ndarray) -> AudioChunk:
    return AudioChunk.from_array(x.astype(np.float32))


def db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12))


def tone(seconds: float, dbfs: float) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    return np.sqrt(2) * 10 ** (dbfs / 20) * np.sin(2 * np.pi * 220 * t)


def samples(c: AudioChunk) -> np.ndarray:
    return c.array().astype(np.float32) / 32768.0


def test_digital_silence_after_speech_gets_a_floor_under_its_level() -> None:
    floor = NoiseFloor()
    floor(chunk(tone(0.5, -16.0)))
    out = samples(floor(chunk(np.zeros(1600))))  # 0.1 s of digital zeros
    assert db(out) == pytest.approx(-16.0 - NOISE_FLOOR_DB, abs=1.0)
    assert np.count_nonzero(out) > 0.9 * len(out)


def test_the_level_rises_at_once_and_falls_slowly_no_lower_than_the_bound() -> None:
    floor = NoiseFloor()
    assert floor.level_dbfs == FLOOR_START_DBFS
    floor(chunk(tone(0.1, -6.0)))
    assert floor.level_dbfs == pytest.approx(-6.0, abs=0.5)
    floor(chunk(np.zeros(16000)))  # a second of silence
    assert floor.level_dbfs == pytest.approx(-6.0 - FLOOR_DECAY_DB_PER_S, abs=0.5)
    floor(chunk(np.zeros(16000 * 60)))
    assert floor.level_dbfs == FLOOR_LOWEST_DBFS


def test_audio_with_its_own_noise_above_the_floor_passes_unchanged() -> None:
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 10 ** (-45 / 20), 3 * 16000)  # a cabin's noise, 25 dB under the speech
    x = noise.copy()
    x[16000:32000] += tone(1.0, -20.0)
    floor = NoiseFloor()
    assert floor(chunk(x)).audio == chunk(x).audio
    assert floor.quiet_dbfs < -40.0  # it knows the cabin's noise


def test_speech_over_digital_silence_is_filled_up_to_the_floor_only() -> None:
    x = np.zeros(3 * 16000)
    x[16000:32000] = tone(1.0, -20.0)
    out = samples(NoiseFloor()(chunk(x)))
    added = out - samples(chunk(x))
    # after the speech the floor follows its level: about NOISE_FLOOR_DB under its loudest 20 ms
    assert db(added[32000:33600]) == pytest.approx(-20.0 - NOISE_FLOOR_DB, abs=1.5)
    assert db(added) < -20.0 - NOISE_FLOOR_DB + 1.0


def test_the_same_audio_after_reset_gives_the_same_samples() -> None:
    x = chunk(np.concatenate([np.zeros(800), tone(0.3, -18.0), np.zeros(800)]))
    floor = NoiseFloor()
    first = floor(x).audio
    floor.reset()
    assert floor(x).audio == first
    assert NoiseFloor(seed=1)(x).audio != first


def test_loudest_reads_the_loudest_20_ms() -> None:
    x = np.concatenate([tone(0.2, -30.0), tone(0.02, -10.0), tone(0.2, -30.0)])
    assert NoiseFloor.loudest(chunk(x)) == pytest.approx(-10.0, abs=1.5)
    assert NoiseFloor.loudest(chunk(np.zeros(3200))) == FLOOR_LOWEST_DBFS
    assert NoiseFloor.loudest(chunk(np.zeros(10))) == FLOOR_LOWEST_DBFS
