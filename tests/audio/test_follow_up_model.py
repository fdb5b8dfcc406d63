"""The follow-up window's language model: pocketsphinx hears the window with a model that knows
follow-up phrasings ("and the rear one too", "the other one as well"), a request after the wake
word with the domain model alone; and out-of-domain talk in the window still does nothing.

Real piper speech through the real pipeline (wake word, silero, pocketsphinx, parser, simulated car).
"""

from __future__ import annotations

import pytest

from assistant.asr.pocketsphinx import FOLLOW_UP_SEARCH, PocketsphinxRecognizer
from assistant.audio import AudioChunk, concat, silence
from assistant.pipeline import VoicePipeline
from assistant.runtime import Car

from .conftest import Recorder, SpeechMaker

WINDOW_S = 4.0  # VoiceSettings.follow_up_s's default


def test_the_window_hears_with_the_follow_up_model_and_a_wake_word_request_with_the_domain_one(
    voice: tuple[VoicePipeline, Recorder], speech: SpeechMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, _ = voice
    recognizer = pipeline.parts.recognizer
    assert isinstance(recognizer, PocketsphinxRecognizer)
    searches: list[str] = []
    begin = recognizer.begin

    def spy(context: AudioChunk | None = None) -> None:
        begin(context)
        searches.append(recognizer.search)

    monkeypatch.setattr(recognizer, "begin", spy)
    audio = concat(
        [
            speech("turn on the front defroster"),
            silence(800),
            # the domain model alone hears "and the rear want to", and no alternative of it is a
            # follow-up: its sentences have no "one too"
            speech("and the rear one too", wake=False),
            silence(WINDOW_S * 1000 + 1500),
            speech("close the driver window"),
        ]
    )
    turns = pipeline.run(audio)
    got = [(t.follow_up, [(c["intent"], c["slots"]) for c in t.commands]) for t in turns]
    assert got == [
        (False, [("climate.defrost", {"target": "front", "state": "on"})]),
        (True, [("climate.defrost", {"target": "rear", "state": "on"})]),
        (False, [("window.close", {"window": "driver"})]),
    ], [t.text for t in turns]
    domain = searches[0]
    assert domain != FOLLOW_UP_SEARCH
    # after the wake word: the domain model; each window after a reply: the follow-up model
    assert searches == [domain, FOLLOW_UP_SEARCH, FOLLOW_UP_SEARCH, domain, FOLLOW_UP_SEARCH]


@pytest.mark.parametrize(
    "talk",
    [
        # passengers' talk near the follow-up phrasings the window's model favours
        "the other side of the river is much nicer",
        "a bit more salt would have made it perfect",
        "did you lock the back door at home",
    ],
)
def test_out_of_domain_talk_in_the_window_does_nothing(
    voice: tuple[VoicePipeline, Recorder], speech: SpeechMaker, car: Car, talk: str
) -> None:
    pipeline, events = voice
    before = car.bridge.state()
    turns = pipeline.run(concat([speech("turn on the passenger seat heating"), silence(800),
                                 speech(talk, wake=False), silence(WINDOW_S * 1000 + 500)]))
    assert [c["intent"] for c in turns[0].commands] == ["seat.heat"]
    window = turns[1:]
    assert window and all(t.follow_up for t in window), [t.text for t in turns]
    assert [(t.commands, t.frames, t.reply) for t in window] == [([], [], "")] * len(window), [
        t.text for t in window
    ]
    changed = {k for k, v in car.bridge.state().items() if before.get(k) != v and k != "Vehicle.Speed"}
    assert all("Seat" in k for k in changed), changed
    assert events.kinds().count("follow_up") == 1  # no window chained on the talk
