"""The follow-up window's false-start count: what the window did with talk right after a reply.

The recognizer is scripted (it hears what the script says, whatever the audio); the rest is real: the
window's gate, the parser, the dialogue and its context, python-can's virtual bus and the simulated car.
"""

from __future__ import annotations

import numpy as np

from assistant.asr.fake import FakeRecognizer
from assistant.audio import AudioChunk, concat, silence
from assistant.pipeline import VoiceParts
from assistant.vad.fake import EnergySpeechDetector
from workbench.bench.window_false_starts import LEADS, measure, talk_sentences


def buzz(ms: float) -> AudioChunk:
    t = np.arange(int(16 * ms)) / 16000
    tone = AudioChunk.from_array((0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32))
    return concat([silence(400), tone, silence(200)])


def test_talk_the_window_acts_on_counts_as_a_false_start_and_the_rest_as_dropped() -> None:
    heard = [
        "what a lovely day",  # dropped: no template, no follow-up
        "and the driver side too",  # after the passenger seat heating: a follow-up that acts
        "how was your day",  # dropped
        "turn on the fog lights",  # a whole command: acted with no wake word
    ]
    assert LEADS[1] == "turn on the passenger seat heating"
    parts = VoiceParts(EnergySpeechDetector(), FakeRecognizer(list(heard)))
    count = measure(parts, "test", [(text, buzz(900)) for text in heard])
    assert (count.n, count.false_starts, count.dropped) == (4, 2, 2)
    assert (count.acted, count.frames, count.answered, count.asked) == (2, 2, 2, 0)
    assert count.examples[0].startswith("'and the driver side too' heard 'and the driver side too' -> ")
    assert "seat.heat" in count.examples[0] and "lights.set" in count.examples[1]
    assert 5.0 < count.seconds < 7.0


def test_the_talk_is_written_for_it_and_has_no_request_to_the_car() -> None:
    from assistant.nlu.templates import TemplateParser

    sentences = talk_sentences()
    assert len(sentences) >= 300 and len(set(sentences)) == len(sentences)
    templates = TemplateParser()
    # talk may hold words for the assistant itself ("excuse me" = say again, "no way" = no, from the
    # out-of-domain speech set), never a request to the car
    matched = [
        s for s in sentences
        if (m := templates.match_piece(s)) is not None and not m.command.intent.startswith("assistant.")
    ]
    assert matched == []
