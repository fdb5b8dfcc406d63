"""The orchestrator: fakes at the stage boundaries for its logic, real engines for bad input."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import numpy as np

from assistant.asr.fake import FakeRecognizer
from assistant.audio import AudioChunk, concat, silence, split
from assistant.config import Settings, VoiceSettings
from assistant.events import Commands, Rescored
from assistant.pipeline import VoiceParts, VoicePipeline
from assistant.runtime import Car, open_dialogue
from assistant.tts.fake import FakeSynthesizer
from assistant.vad.fake import EnergySpeechDetector
from assistant.voice_sim import mix_at_snr, noise_only
from assistant.wake.fake import FakeWakeDetector
from tests.assistant.conftest import Recorder, SpeechMaker


def buzz(ms: float) -> AudioChunk:
    t = np.arange(int(16 * ms)) / 16000
    return AudioChunk.from_array((0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32))


def fake_pipeline(
    car: Car, settings: Settings, texts: list[str], wake_at: list[float] | None = None, **voice: object
) -> tuple[VoicePipeline, Recorder, FakeSynthesizer]:
    import dataclasses

    tts = FakeSynthesizer()
    parts = VoiceParts(EnergySpeechDetector(), FakeRecognizer(texts), FakeWakeDetector(wake_at or []), tts)
    recorder = Recorder()
    v = dataclasses.replace(VoiceSettings(), **voice)
    pipeline = VoicePipeline(
        parts, open_dialogue(settings, car), v, recorder, wake=wake_at is not None, bridge=car.bridge
    )
    return pipeline, recorder, tts


def test_fake_stages_drive_the_car(car: Car, settings: Settings) -> None:
    pipeline, events, tts = fake_pipeline(car, settings, ["turn on the fog lights"], wake_at=[300])
    turns = pipeline.run(concat([silence(400), buzz(800), silence(200)]))
    assert [t.commands[0]["intent"] for t in turns] == ["lights.set"]
    assert turns[0].frames and turns[0].reply == "Fog lights on."
    assert tts.spoken == ["Fog lights on."]
    assert events.kinds()[:3] == ["wake", "speech_start", "endpoint"]
    assert car.bridge.state()["Vehicle.Body.Lights.Fog.Front.IsOn"] in (1, True)


def test_without_the_wake_word_nothing_is_heard(car: Car, settings: Settings) -> None:
    pipeline, events, _ = fake_pipeline(car, settings, ["turn on the fog lights"], wake_at=[])
    assert pipeline.run(concat([buzz(800), silence(600)])) == []
    assert "endpoint" not in events.kinds()


def test_push_to_talk_starts_a_request(car: Car, settings: Settings) -> None:
    pipeline, events, _ = fake_pipeline(car, settings, ["lock the doors"], wake_at=[])
    pipeline.push_to_talk()
    turns = pipeline.run(concat([silence(100), buzz(600), silence(100)]))
    assert turns and turns[0].wake is not None and turns[0].wake.name == "push_to_talk"
    assert turns[0].commands[0]["intent"] == "doors.lock"
    assert events.kinds()[0] == "push_to_talk"


def test_a_wake_word_with_no_request_after_it_times_out(car: Car, settings: Settings) -> None:
    pipeline, events, _ = fake_pipeline(car, settings, [], wake_at=[100], no_speech_s=1.0)
    turns = pipeline.run(silence(2000))
    assert len(turns) == 1 and turns[0].endpoint is not None and turns[0].endpoint.reason == "no_speech"
    assert turns[0].frames == [] and turns[0].reply == ""
    assert "timeout" in events.kinds()


def test_a_request_cut_off_mid_way_executes_nothing(car: Car, settings: Settings) -> None:
    before = car.bridge.state()
    pipeline, _, tts = fake_pipeline(car, settings, ["close the windows and"], wake_at=[100])
    turns = pipeline.run(concat([silence(200), buzz(900)]))
    assert turns[0].cut_off and turns[0].commands == [] and turns[0].frames == []
    assert turns[0].reply == "Sorry?" and tts.spoken == ["Sorry?"]
    assert car.bridge.state() == before


def test_speech_to_the_end_of_a_recording_is_a_cut_off(car: Car, settings: Settings) -> None:
    pipeline, _, _ = fake_pipeline(car, settings, ["open the window"], max_request_s=1.0)
    turns = pipeline.run(buzz(3000))
    assert turns[0].endpoint is not None and turns[0].endpoint.reason == "max_length"
    assert turns[0].cut_off and turns[0].frames == []


def test_a_hypothesis_the_templates_match_beats_a_confident_parse_of_the_best(
    car: Car, settings: Settings
) -> None:
    from assistant.nlu.templates import TemplateParser

    # "fogs" is pocketsphinx mishearing "pause" in noise; the language model reads fog lights in it
    misheard = ("fogs", ("boss", "pause"))
    pipeline, events, _ = fake_pipeline(car, settings, [misheard, ("fogs", ("boss",))])
    pipeline.parts.grammar = TemplateParser()
    turns = pipeline.run(concat([buzz(600), silence(700), buzz(600), silence(200)]))
    assert turns[0].text == "pause" and turns[0].commands[0]["intent"] == "media.control"
    assert ("fogs", "pause") in [(e.heard, e.chosen) for e in events.of(Rescored)]
    # no hypothesis in the grammar: the best one is parsed as it is
    assert turns[1].text == "fogs" and turns[1].commands[0]["intent"] == "lights.set"


def test_a_refused_number_is_not_swapped_for_a_hypothesis_without_its_minus(
    car: Car, settings: Settings
) -> None:
    from assistant.nlu.templates import TemplateParser

    heard = ("open the window minus fifty percent", ("open the window fifty percent",))
    pipeline, events, _ = fake_pipeline(car, settings, [heard])
    pipeline.parts.grammar = TemplateParser()
    turns = pipeline.run(concat([buzz(600), silence(200)]))
    assert turns[0].text == heard[0] and turns[0].commands == [] and turns[0].frames == []
    assert turns[0].reply == "The window opening can't go as low as -50, so I left it as it is."
    assert "rescored" not in events.kinds()


def test_a_cut_off_best_text_may_be_completed_never_shortened(car: Car, settings: Settings) -> None:
    script = [
        ("turn up the", ("turn up", "turn up the heat")),
        ("close the windows and", ("close the windows", "close the windows please")),
    ]
    pipeline, _, _ = fake_pipeline(car, settings, script)
    turns = pipeline.run(concat([buzz(600), silence(700), buzz(600), silence(200)]))
    assert turns[0].text == "turn up the heat" and not turns[0].cut_off
    assert turns[0].commands[0]["intent"] == "climate.adjust_temperature"
    assert turns[1].cut_off and turns[1].commands == [] and turns[1].frames == []
    assert turns[1].reply == "Sorry?"


def test_a_window_that_jams_after_the_reply_is_reported_aloud(settings: Settings) -> None:
    import dataclasses

    from assistant.config import SimSettings
    from assistant.runtime import open_car

    # a slow window, so that it is still on its way when it jams
    with open_car(dataclasses.replace(settings, sim=SimSettings(window_travel_s=5.0))) as car:
        _jam_after_the_reply(car, settings)


def _jam_after_the_reply(car: Car, settings: Settings) -> None:
    pipeline, events, tts = fake_pipeline(car, settings, ["open the driver window"])
    played: list[AudioChunk] = []
    pipeline.speak = lambda chunks: played.extend(chunks)
    assert car.sim is not None
    turns = pipeline.run(concat([buzz(600), silence(200)]))
    assert turns[0].reply == "Opening the driver window." and tts.spoken == [turns[0].reply]
    car.sim.jam("WinPosDriver")
    assert car.vehicle.settle(10)  # the window's confirm timeout is 6 s
    deadline = time.monotonic() + 5
    while len(tts.spoken) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    late = tts.spoken[1:]
    assert late and "driver window didn't confirm" in late[0]
    assert pipeline.notices and pipeline.notices[0].startswith(late[0])
    assert "notice" in events.kinds()
    pipeline.close()


def test_each_recording_is_heard_the_same_whatever_came_before(
    voice_parts: VoiceParts, car: Car, settings: Settings, speech: SpeechMaker
) -> None:
    request = mix_at_snr(speech("set the fan to three", wake=False), 10.0)
    heard = []
    for before in (None, noise_only(4000, -10.0, seed=5), speech("open the trunk", wake=False)):
        pipeline = VoicePipeline(voice_parts, open_dialogue(settings, car), wake=False, synthesize=False)
        if before is not None:
            pipeline.run(before)
        turns = pipeline.run(request)
        heard.append((turns[0].text, turns[0].alternatives))
        pipeline.close()
    # the best text, not the n-best's tail: pocketsphinx lists alternatives near NBEST_MARGIN or not
    # by state of its own that reset() does not clear (the same audio decoded twice in a row by the
    # recognizer alone lists 4, then 3, with the domain model of bf976ed too)
    assert heard[0][0] and heard[1][0] == heard[0][0] and heard[2][0] == heard[0][0]


class _Speaker:
    """Plays at real-time pace until stopped, like audio.Speaker."""

    def __init__(self) -> None:
        self.stop_event = threading.Event()
        self.played_ms = 0.0
        self.stopped = False

    def play(self, chunks: Iterator[AudioChunk]) -> None:
        self.stop_event.clear()
        for chunk in chunks:
            for piece in split(chunk, 50):
                if self.stop_event.is_set():
                    self.stopped = True
                    return
                time.sleep(0.05)
                self.played_ms += piece.duration_ms

    def stop(self) -> None:
        self.stop_event.set()


def test_the_wake_word_interrupts_a_reply(car: Car, settings: Settings) -> None:
    speaker = _Speaker()
    tts = FakeSynthesizer(ms_per_char=100)  # the help reply: seconds of audio
    parts = VoiceParts(
        EnergySpeechDetector(), FakeRecognizer(["help", "lock the doors"]), FakeWakeDetector([100, 2500]), tts
    )
    recorder = Recorder()
    pipeline = VoicePipeline(
        parts,
        open_dialogue(settings, car),
        VoiceSettings(),
        recorder,
        bridge=car.bridge,
        speak=speaker.play,
        stop_speaking=speaker.stop,
    )
    audio = concat([silence(150), buzz(600), silence(600)])
    for chunk in split(audio, 30):
        pipeline.feed(chunk)
    time.sleep(0.3)  # the reply is playing in its worker now
    for chunk in split(concat([silence(1300), buzz(500), silence(600)]), 30):
        pipeline.feed(chunk)
    pipeline.close()
    assert speaker.stopped and "barge_in" in recorder.kinds()
    assert [e.commands[0]["intent"] for e in recorder.of(Commands)] == [
        "assistant.help",
        "doors.lock",
    ]


def test_semantic_endpointing_commits_before_the_trailing_silence(
    voice_parts: VoiceParts, car: Car, settings: Settings, speech: SpeechMaker
) -> None:
    import dataclasses

    delays = {}
    for semantic in (False, True):
        v = dataclasses.replace(settings.voice, semantic_endpointing=semantic, trailing_silence_ms=500)
        pipeline = VoicePipeline(voice_parts, open_dialogue(settings, car), v, wake=False, synthesize=False)
        turns = pipeline.run(speech("turn on the fog lights", wake=False))
        assert turns[0].commands[0]["intent"] == "lights.set"
        delays[semantic] = (turns[0].endpoint.reason, turns[0].timings_ms["endpoint_delay"])
    assert delays[False][0] == "silence" and delays[False][1] >= 500
    assert delays[True][0] == "semantic" and delays[True][1] < 400


def test_silence_and_car_noise_give_no_command_and_no_frame(voice: tuple[VoicePipeline, Recorder]) -> None:
    pipeline, events = voice
    for audio in (silence(4000), noise_only(6000, -30.0), noise_only(6000, -15.0, seed=3)):
        pipeline.reset()
        turns = pipeline.run(audio)
        assert all(t.commands == [] and t.frames == [] for t in turns)
    assert "frame" not in events.kinds() and "commands" not in events.kinds()


def test_wake_word_then_only_a_cough_gets_no_command(
    voice: tuple[VoicePipeline, Recorder], said: Callable[[str], AudioChunk]
) -> None:
    pipeline, events = voice
    cough = noise_only(250, -18.0, seed=7)
    audio = concat([silence(300), said("Hey Jarvis."), silence(500), cough, silence(2500)])
    turns = pipeline.run(mix_at_snr(audio, 20.0))
    assert turns and turns[0].wake is not None
    assert all(t.commands == [] and t.frames == [] for t in turns)
    assert "frame" not in events.kinds()


def test_while_a_question_waits_the_answer_heard_is_not_outranked_by_a_follow_up(
    car: Car, settings: Settings
) -> None:
    from assistant.nlu.templates import TemplateParser

    # "the other one" is asked back (a window opening from a follow-up phrase); the yes is heard
    # with "and the rear ones too" among its alternatives, a follow-up phrase of the window asked about
    script = ["open the driver window", "the other one", ("yeah go ahead", ("and the rear ones too",))]
    pipeline, events, _ = fake_pipeline(car, settings, script)
    pipeline.parts.grammar = TemplateParser()
    gap = silence(700)
    turns = pipeline.run(concat([buzz(600), gap, buzz(600), gap, buzz(600), silence(200)]))
    assert turns[1].reply == "Do you want me to open the passenger window?"
    assert turns[2].text == "yeah go ahead" and "rescored" not in events.kinds()
    assert [c["intent"] for c in turns[2].commands] == ["assistant.confirm"]
