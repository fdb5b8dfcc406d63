"""The voice benchmark's other voices: espeak-ng and flite, spoken for real (both installed by .ci/run)."""

from __future__ import annotations

import pytest

from workbench.voice_bench import other_voice


@pytest.mark.parametrize("voice", ["flite:slt", "flite:awb,speed=0.9", "espeak-ng:en-us+f2,speed=0.92"])
def test_other_voices_speak_at_the_pipelines_rate(voice: str) -> None:
    audio = other_voice("open the passenger window", voice)
    assert audio.rate == 16000 and 800 < audio.duration_ms < 4000
    assert float(abs(audio.array()).max()) > 1000  # speech, not silence


def test_a_slower_voice_is_longer() -> None:
    plain = other_voice("turn on the fog lights", "flite:rms")
    slow = other_voice("turn on the fog lights", "flite:rms,speed=0.8")
    assert slow.duration_ms == pytest.approx(plain.duration_ms / 0.8, rel=0.02)


@pytest.mark.parametrize(
    ("voice", "says"),
    [
        ("flite:nobody", "flite has the voices"),  # flite would speak in its default voice
        ("flite:slt,wpm=150", "flite:NAME[,speed=F]"),
        ("festival:kal", "espeak-ng:NAME"),
        ("espeak-ng:en-us,speed=fast", "espeak-ng:NAME"),
        ("espeak-ng:en-us,speed=0", "speed must be within"),
        ("flite:slt,speed=nan", "speed must be within"),
        ("flite:awb_time", "flite has the voices"),  # it speaks only the time of day
    ],
)
def test_a_voice_it_cannot_speak_is_refused_with_the_forms_it_can(voice: str, says: str) -> None:
    with pytest.raises(ValueError) as err:
        other_voice("lock the doors", voice)
    assert says in str(err.value) and voice in str(err.value)
