"""Every catalog intent spoken: piper speech -> wake word -> VAD/ASR -> parser -> vehicle -> CAN frames
confirmed by the simulated controller -> a spoken reply, clean and in car noise at 10 dB SNR."""

from __future__ import annotations

import pytest

from assistant.catalog import INTENTS
from assistant.pipeline import VoicePipeline
from tests.assistant.conftest import Recorder, SpeechMaker, is_speech_like

# (what the driver says, the commands expected, whether CAN frames must go out). Phrasings that
# pocketsphinx hears reliably in 10 dB car noise; how often it mishears others is what
# `python -m workbench.voice_bench accuracy` measures, not what this test is for.
SPOKEN: list[tuple[str, list[tuple[str, dict[str, object]]], bool]] = [
    ("driver window down halfway", [("window.open", {"window": "driver", "amount": 50})], True),
    ("close all windows", [("window.close", {"window": "all"})], True),
    ("open the sunroof", [("sunroof.open", {})], True),
    ("close the sunroof", [("sunroof.close", {})], True),
    ("set the temperature to twenty two degrees", [("climate.set_temperature", {"value": 22})], True),
    (
        "raise the temperature by two degrees",
        [("climate.adjust_temperature", {"direction": "up", "amount": 2})],
        True,
    ),
    ("set the fan to three", [("climate.set_fan", {"level": 3})], True),
    ("turn on the air conditioning", [("climate.ac", {"state": "on"})], True),
    ("turn on the front defroster", [("climate.defrost", {"target": "front", "state": "on"})], True),
    ("turn on recirculation", [("climate.recirculation", {"state": "on"})], True),
    ("turn on the driver seat heating", [("seat.heat", {"seat": "driver"})], True),
    ("fog lights on", [("lights.set", {"light": "fog_lights", "state": "on"})], True),
    ("lock the doors", [("doors.lock", {"door": "all"})], True),
    ("unlock all the doors", [("doors.unlock", {"door": "all"})], True),
    ("open the trunk", [("trunk.open", {})], True),
    ("close the trunk", [("trunk.close", {})], True),
    ("set the wipers to high", [("wipers.set", {"mode": "high"})], True),
    ("fold the mirrors", [("mirrors.fold", {})], True),
    ("unfold the mirrors", [("mirrors.unfold", {})], True),
    ("volume to twenty", [("media.volume", {"level": 20})], True),
    ("mute the audio", [("media.mute", {})], True),
    ("unmute the audio", [("media.unmute", {})], True),
    ("next song", [("media.control", {"action": "next"})], True),
    ("switch to bluetooth", [("media.source", {"source": "bluetooth"})], True),
    ("tune to ninety five point three FM", [("radio.tune", {"frequency": 95.3, "band": "fm"})], True),
    ("is the trunk open", [("vehicle.query", {"subject": "trunk"})], False),
    ("cancel", [("assistant.cancel", {})], False),
    ("yes", [("assistant.confirm", {})], False),
    ("no thanks", [("assistant.deny", {})], False),
    ("undo that", [("assistant.undo", {})], False),
    ("help", [("assistant.help", {})], False),
    ("repeat that", [("assistant.repeat", {})], False),
    ("why did you do that", [("assistant.why", {})], False),
]


def test_every_catalog_intent_is_spoken() -> None:
    assert {intent for _, cmds, _ in SPOKEN for intent, _ in cmds} == set(INTENTS)


@pytest.mark.parametrize("snr", [None, 10.0], ids=["clean", "noise10dB"])
@pytest.mark.parametrize(("text", "expected", "actuates"), SPOKEN, ids=[s[0] for s in SPOKEN])
def test_spoken_request_moves_the_car_and_is_answered(
    voice: tuple[VoicePipeline, Recorder],
    speech: SpeechMaker,
    text: str,
    expected: list[tuple[str, dict[str, object]]],
    actuates: bool,
    snr: float | None,
) -> None:
    pipeline, events = voice
    turns = pipeline.run(speech(text, snr=snr))  # run() adapts to the recording: no order dependence
    assert len(turns) == 1, [t.text for t in turns]
    turn = turns[0]
    assert turn.wake is not None and turn.wake.name == "hey_jarvis"
    got = [(c["intent"], c["slots"]) for c in turn.commands]
    assert got == expected, f"heard {turn.text!r}"
    decision = turn.commands[0].get("decision", {})
    if decision.get("outcome") == "asked":
        # weak evidence for a safety function in noise ("unlock all the four": the templates do not read
        # it) is asked back, not done (issue 10); the spoken yes carries it out
        assert snr is not None and decision["risk"] == "safety", decision
        assert turn.frames == [] and turn.reply.startswith("Do you want me to"), turn.reply
        answer = pipeline.run(speech("yes", snr=snr))
        assert [t.text for t in answer] == ["yes"]
        turn = answer[0]
    assert turn.turn is not None
    if actuates:
        assert turn.frames, "no CAN frame went out"
        assert all(f.direction == "tx" for f in turn.frames)
        # a window or the sunroof is answered on its way ("moving") and confirmed when it arrives
        actions = [a.settled(10) for a in turn.turn.actions]
        assert [a.status for a in actions] == ["done"], turn.reply
        assert all(a.confirmed for a in actions), "the simulated controller did not confirm"
    else:
        assert turn.frames == []
    assert turn.reply and turn.reply_audio is not None
    ok, why = is_speech_like(turn.reply_audio, len(turn.reply.split()))
    assert ok, why
    kinds = events.kinds()
    assert kinds.index("wake") < kinds.index("endpoint") < kinds.index("reply_audio")
