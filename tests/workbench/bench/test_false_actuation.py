"""The false-actuation section: shares counted from what really left on a simulated car's bus.

The recognizer is scripted (it hears what the script says, whatever the audio), the rest is real: the
parser, the dialogue, the vehicle guards, python-can's virtual bus and the simulated body controller.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from assistant.asr.fake import FakeRecognizer
from assistant.audio import AudioChunk, concat, silence
from assistant.config import Settings
from assistant.pipeline import VoiceParts, VoicePipeline
from assistant.runtime import Car, open_dialogue
from assistant.vad.fake import EnergySpeechDetector
from workbench.bench.false_actuation import VOICES, Voices, measure, ood_sentences, recordings, tally
from workbench.voice_bench import default_engine


def buzz(ms: float) -> AudioChunk:
    t = np.arange(int(16 * ms)) / 16000
    tone = AudioChunk.from_array((0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32))
    return concat([silence(300), tone, silence(300)])


HEARD = [
    "what a lovely day",  # nothing
    "unlock the doors",  # frames, security
    "turn on the fog lights",  # frames
    "open the trunk",  # frames, security
    "turn on the headlights",  # frames
    "turn off the headlights",  # frames, safety
]


def test_shares_count_recordings_that_sent_frames_and_moved_security(car: Car, settings: Settings) -> None:
    parts = VoiceParts(EnergySpeechDetector(), FakeRecognizer(list(HEARD)))

    def run_clip(audio: AudioChunk) -> list[Any]:
        dialogue = open_dialogue(settings, car)
        v = settings.voice
        pipeline = VoicePipeline(parts, dialogue, v, wake=False, synthesize=False, bridge=car.bridge)
        turns = pipeline.run(audio)
        pipeline.close()
        return turns

    clips = [("piper:joe", text, buzz(700)) for text in HEARD]
    outcomes = measure(run_clip, clips, None)
    assert [o.heard for o in outcomes] == HEARD
    assert [(o.frames, o.security) for o in outcomes] == [
        (False, False), (True, True), (True, False), (True, True), (True, False), (True, True)
    ]
    t = tally(outcomes)
    assert (t.n, t.frames, t.security) == (6, 5, 3)
    assert (round(t.frame_share, 3), t.security_share) == (0.833, 0.5)
    assert t.to_json()["moved_security_safety_share"] == 0.5
    assert t.examples[0] == "'unlock the doors' -> doors.unlock"


def test_out_of_domain_speech_comes_in_every_voice(tmp_path: Any) -> None:
    sentences = ood_sentences(3)
    assert len(sentences) == 3 and not any(s.startswith("#") for s in sentences)
    assert len(ood_sentences()) >= 30
    voices = Voices(tmp_path)
    # espeak-ng only: piper's voice is exercised by every audio test already
    voices._piper_speech = lambda text: silence(500)  # type: ignore[method-assign]
    recs = recordings(voices, sentences)
    assert [v for v, _, _ in recs] == list(VOICES)
    for voice, text, audio in recs[1:]:
        assert voice.startswith("espeak-ng:") and audio.rate == 16000
        assert 0.12 * len(text.split()) < audio.duration_ms / 1000 < 0.2 + 0.8 * len(text.split()) + 0.6


def _result(name: str, acc: float, noisy: float, pi4_ms: float) -> dict[str, Any]:
    return {
        "engine": name,
        "status": "ran",
        "clean": {"frame_acc": acc, "estimates_ms": {"pi4": {"n": 5, "median": pi4_ms}}},
        "10dB": {"frame_acc": noisy},
    }


def test_the_default_is_the_most_accurate_within_the_latency_bar() -> None:
    results = [
        _result("pocketsphinx", 0.9, 0.7, 350.0),
        _result("whisper:tiny.en", 1.0, 0.97, 5000.0),
        {"engine": "vosk", "status": "not run: no model"},
    ]
    assert default_engine(results)[0] == "pocketsphinx"
    results[1]["clean"]["estimates_ms"]["pi4"]["median"] = 390.0
    assert default_engine(results)[0] == "whisper:tiny.en"
    assert default_engine([_result("pocketsphinx", 0.9, 0.7, 450.0)])[0] == ""
