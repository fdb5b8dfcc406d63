"""The follow-up window's language model: pocketsphinx hears the window with a model that knows
follow-up phrasings ("and the rear one too", "the other one as well"), a request after the wake
word with the domain model alone; and out-of-domain talk in the window still does nothing.

Real piper speech through the real pipeline (wake word, silero, pocketsphinx, parser, simulated car);
the window's gate (a posterior floor, a yes or a no only for a question) with a scripted recogniser.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from assistant.asr.base import Transcript, Word
from assistant.asr.domain import follow_up_lm, follow_up_sentences
from assistant.asr.fake import FakeRecognizer
from assistant.asr.pocketsphinx import FOLLOW_UP_SEARCH, PocketsphinxRecognizer
from assistant.audio import AudioChunk, concat, silence
from assistant.config import Settings
from assistant.context import classify
from assistant.pipeline import (
    WINDOW_FOLLOW_UP_POSTERIOR,
    WINDOW_MIN_COVERAGE,
    WINDOW_MIN_POSTERIOR,
    VoicePipeline,
    word_coverage,
)
from assistant.runtime import Car
from tests.assistant.conftest import Recorder, SpeechMaker
from tests.assistant.test_pipeline import buzz, fake_pipeline

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


def test_the_follow_up_model_is_built_from_the_phrasings_the_context_resolves(tmp_path: Path) -> None:
    sentences = follow_up_sentences()
    # the answers to a question ("yes please", "no thanks") are the rest
    assert sum(classify(s) is not None for s in sentences) / len(sentences) > 0.85
    assert follow_up_sentences() == sentences  # seeded: the same model every build
    lm = follow_up_lm(cache=tmp_path)
    assert lm.built and not follow_up_lm(cache=tmp_path).built
    assert {"ones", "well", "same", "also", "too", "other"} <= set(lm.words)
    assert lm.arpa.name.startswith("follow-up-") and "\n\\data\\\n" in lm.arpa.read_text(encoding="utf-8")


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


# -- the window's gate, with a scripted recogniser ---------------------------------------------------


class Scripted(FakeRecognizer):
    """Hears the script's texts with the script's posteriors, whatever the audio."""

    def __init__(self, script: list[tuple[str, float]]) -> None:
        super().__init__([text for text, _ in script])
        self.posteriors = [p for _, p in script]

    def end(self) -> Transcript:
        return dataclasses.replace(super().end(), posterior=self.posteriors.pop(0))


@pytest.mark.parametrize(("posterior", "undone"), [(0.0, False), (0.02, False), (0.3, True)])
def test_words_heard_with_a_low_posterior_in_the_window_are_dropped(
    car: Car, settings: Settings, posterior: float, undone: bool
) -> None:
    # "I can't remember the last time it snowed here" in the window, heard as "undo" with a posterior
    # of 0.0 (python -m workbench.bench.window_false_starts -v): the heating went off again. (A lone
    # "undo" is no longer taken in the window at any posterior, test_rescoring: "undo that" is.)
    pipeline, _, tts = fake_pipeline(car, settings, [], wake_at=[100])
    script = [("turn on the passenger seat heating", 0.3), ("undo that", posterior)]
    pipeline.parts.recognizer = Scripted(script)
    turns = pipeline.run(concat([silence(200), buzz(700), silence(600), buzz(900), silence(600)]))
    assert turns[1].follow_up and turns[1].text == "undo that"
    assert ([c["intent"] for c in turns[1].commands] == ["assistant.undo"]) is undone
    assert bool(turns[1].reply) is undone and bool(turns[1].frames) is undone
    heating = car.bridge.state()["Vehicle.Cabin.Seat.Row1.PassengerSide.HeatingLevel"]
    assert (heating == 0) is undone, heating
    if not undone:
        log = pipeline.dialogue.recorder.log
        assert log is not None
        detail = log.read().entries[-1]["decisions"][0]["detail"]
        assert detail["posterior"] == posterior and detail["min_posterior"] == WINDOW_MIN_POSTERIOR
    pipeline.close()


@pytest.mark.parametrize("posterior", [0.02, 0.005])
def test_a_follow_up_in_the_window_has_a_lower_posterior_floor_than_a_command(
    car: Car, settings: Settings, posterior: float
) -> None:
    # "not that one the rear left", said in the window, was heard right with a posterior of 0.02
    # (voice_bench followup); a follow-up must also fit the live context's commands
    pipeline, _, _ = fake_pipeline(car, settings, [], wake_at=[100])
    pipeline.parts.recognizer = Scripted([("turn on the passenger seat heating", 0.3),
                                          ("and the driver side too", posterior)])
    turns = pipeline.run(concat([silence(200), buzz(700), silence(600), buzz(900), silence(600)]))
    assert turns[1].follow_up and turns[1].text == "and the driver side too"
    acted = posterior >= WINDOW_FOLLOW_UP_POSTERIOR
    assert ([c["slots"] for c in turns[1].commands] == [{"seat": "driver"}]) is acted
    assert bool(turns[1].frames) is acted
    pipeline.close()


@pytest.mark.parametrize("said", ["okay", "no", "right"])
def test_a_yes_or_a_no_in_the_window_is_talk_unless_a_question_waits(
    car: Car, settings: Settings, said: str
) -> None:
    # passengers say "okay" and "right" to each other; with no question it was answered "There's
    # nothing to confirm." (a yes with a question pending: test_follow_up.py)
    pipeline, _, tts = fake_pipeline(car, settings, ["lock the doors", said], wake_at=[100])
    turns = pipeline.run(concat([silence(200), buzz(700), silence(600), buzz(500), silence(600)]))
    assert turns[1].follow_up and turns[1].text == said
    assert (turns[1].commands, turns[1].reply, turns[1].frames) == ([], "", [])
    assert tts.spoken == [turns[0].reply]
    pipeline.close()


class Timed(FakeRecognizer):
    """Hears the script's texts, its words spread evenly over the script's milliseconds."""

    def __init__(self, script: list[tuple[str, float]]) -> None:
        super().__init__([text for text, _ in script])
        self.spans = [ms for _, ms in script]

    def end(self) -> Transcript:
        heard = super().end()
        words = heard.text.split()
        step = self.spans.pop(0) / len(words)
        timed = tuple(Word(w, i * step, (i + 1) * step, 1.0) for i, w in enumerate(words))
        return dataclasses.replace(heard, words=timed)


@pytest.mark.parametrize(("span_ms", "acted"), [(250.0, False), (850.0, True)])
def test_a_command_whose_words_span_a_little_of_the_speech_in_the_window_is_dropped(
    car: Car, settings: Settings, span_ms: float, acted: bool
) -> None:
    # "the temperature dropped a lot last night" heard as "the locks on": the words took 0.3 of the
    # speech, the rest was silence and noise to the recogniser (window_false_starts -v)
    pipeline, _, tts = fake_pipeline(car, settings, [], wake_at=[100])
    # (said here as "lock the doors", which the language model reads surely: the gate is what is tested)
    pipeline.parts.recognizer = Timed([("turn on the fog lights", 700.0), ("lock the doors", span_ms)])
    turns = pipeline.run(concat([silence(200), buzz(700), silence(600), buzz(900), silence(600)]))
    assert turns[1].follow_up and turns[1].text == "lock the doors"
    assert ([c["intent"] for c in turns[1].commands] == ["doors.lock"]) is acted
    assert bool(turns[1].frames) is acted and bool(turns[1].reply) is acted
    coverage = word_coverage(turns[1])
    assert coverage is not None and (coverage >= WINDOW_MIN_COVERAGE) is acted, coverage
    pipeline.close()


def test_a_correction_said_with_sorry_is_heard_in_the_window(
    voice: tuple[VoicePipeline, Recorder], speech: SpeechMaker
) -> None:
    # the window's model knew no "sorry": it heard "all sorry i meant the drivers", no follow-up
    assert any(s.startswith(("sorry i meant", "oh sorry i meant")) for s in follow_up_sentences())
    pipeline, _ = voice
    correction = speech("oh sorry, i meant the driver's", wake=False)
    turns = pipeline.run(
        concat([speech("open the passenger window"), silence(800), correction, silence(WINDOW_S * 1000)])
    )
    assert [c["intent"] for c in turns[0].commands] == ["window.open"]
    assert turns[1].follow_up and [(c["intent"], c["slots"]) for c in turns[1].commands] == [
        ("assistant.undo", {}), ("window.open", {"window": "driver"})
    ], turns[1].text
