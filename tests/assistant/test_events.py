"""The pipeline's typed events: what the service log, ``listen --events`` and the timeline print."""

from __future__ import annotations

import json

import pytest

from assistant import events as ev
from assistant.cli.voice import _timeline

LOCK = {"intent": "doors.lock", "slots": {}}


def test_every_event_kind_is_named_once() -> None:
    kinds = [t.kind for t in ev.EVENT_TYPES]
    assert len(kinds) == len(set(kinds)) == 18


@pytest.mark.parametrize(
    ("event", "data"),
    [
        (ev.WakeDetected(1.0, "hey_jarvis", 0.93), {"name": "hey_jarvis", "probability": 0.93}),
        (ev.PushToTalk(1.0), {}),
        (ev.EndpointDetected(1.0, "semantic", 312.0), {"reason": "semantic", "after_speech_ms": 312.0}),
        (ev.Transcript(1.0, "lock the doors", None), {"text": "lock the doors", "confidence": None}),
        (ev.Commands(1.0, (LOCK,)), {"commands": [LOCK]}),
        (ev.Reply(1.0, "Done."), {"text": "Done."}),
        (ev.Reply(1.0, "", unanswered=True), {"text": "", "unanswered": True}),
        (ev.FollowUpClosed(1.0, ev.WindowEnd.PUSH_TO_TALK), {"reason": "push_to_talk"}),
    ],
)  # fmt: skip
def test_data_is_the_events_own_fields_as_json(event: ev.Event, data: dict[str, object]) -> None:
    assert event.data() == data
    assert json.loads(json.dumps(event.data())) == data
    assert repr(event.data()) == repr(data)  # listen --events prints the dict as it is


def test_the_window_end_reason_prints_as_its_value(capsys: pytest.CaptureFixture[str]) -> None:
    _timeline(ev.FollowUpClosed(4500.0, ev.WindowEnd.SILENCE))
    _timeline(ev.PartialTranscript(4600.0, "lock"))  # too chatty: not shown
    _timeline(ev.Rescored(4700.0, "fogs", "pause"))
    assert capsys.readouterr().out.splitlines() == [
        "     4.50s  follow_up_end closed (silence)",
        "     4.70s  rescored     heard=fogs chosen=pause",
    ]
