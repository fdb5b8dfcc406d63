"""The dialogue's handling of bad input, yes/no, repeat, cancel and help, on the scripted bridge."""

from __future__ import annotations

import pytest

from assistant.dialogue import Dialogue
from assistant.nlu.templates import TemplateParser
from assistant.vehicle.vehicle import Vehicle
from tests.vehicle.fakes import FakeBridge


@pytest.fixture(scope="module")
def parser() -> TemplateParser:
    return TemplateParser()


@pytest.fixture
def bridge() -> FakeBridge:
    return FakeBridge()


@pytest.fixture
def dialogue(parser: TemplateParser, bridge: FakeBridge) -> Dialogue:
    return Dialogue(parser, Vehicle(bridge))


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_gets_a_polite_reply_and_no_frames(
    dialogue: Dialogue, bridge: FakeBridge, text: str
) -> None:
    turn = dialogue.handle(text)
    assert turn.reply == "I didn't catch that."
    assert turn.commands == () and bridge.sent == []


def test_overlong_text_is_refused(dialogue: Dialogue, bridge: FakeBridge) -> None:
    turn = dialogue.handle("open the window " * 40)
    assert turn.reply == "That was too long for me. Please say it more briefly."
    assert turn.error is not None and "500" in turn.error
    assert bridge.sent == []


def test_out_of_catalog_request(dialogue: Dialogue, bridge: FakeBridge) -> None:
    turn = dialogue.handle("what's the weather like in paris")
    assert turn.commands == ()
    assert turn.reply == "Sorry, I can't help with that."
    assert bridge.sent == []


def test_out_of_range_value_is_clamped_and_said(dialogue: Dialogue, bridge: FakeBridge) -> None:
    turn = dialogue.handle("set the temperature to 45")
    assert bridge.values["Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature"] == 28
    assert "28 degrees is the highest I can set." in turn.reply


def test_confirmation_flow(dialogue: Dialogue, bridge: FakeBridge) -> None:
    bridge.values["Vehicle.Speed"] = 70.0
    bridge.values["Vehicle.Body.Lights.Beam.Low.IsOn"] = 1
    first = dialogue.handle("turn off the headlights")
    assert first.reply == "You're driving. Turn off the headlights? Say yes or no."
    assert bridge.sent == []
    second = dialogue.handle("yes")
    assert second.actions[0].status == "done"
    assert bridge.values["Vehicle.Body.Lights.Beam.Low.IsOn"] == 0


def test_deny_and_nothing_to_confirm(dialogue: Dialogue, bridge: FakeBridge) -> None:
    assert dialogue.handle("yes").reply == "There's nothing to confirm."
    bridge.values["Vehicle.Speed"] = 70.0
    dialogue.handle("turn off the headlights")
    assert dialogue.handle("no").reply == "Okay, I'll leave it."
    assert bridge.sent == []


def test_repeat_help_cancel(dialogue: Dialogue) -> None:
    assert dialogue.handle("repeat that").reply == "I haven't said anything yet."
    said = dialogue.handle("turn on the air conditioning").reply
    assert dialogue.handle("repeat that").reply == said
    assert "windows" in dialogue.handle("help").reply
    assert dialogue.handle("cancel").reply == "Okay, cancelled."


def test_undo_with_nothing_to_undo(dialogue: Dialogue) -> None:
    assert dialogue.handle("undo").reply == "There's nothing to undo."


def test_a_failing_bus_is_spoken_and_the_next_request_served(dialogue: Dialogue, bridge: FakeBridge) -> None:
    bridge.fail_send = True
    assert dialogue.handle("turn on the fog lights").reply == (
        "I couldn't reach the car's controller, so nothing changed."
    )
    assert bridge.values["Vehicle.Body.Lights.Fog.Front.IsOn"] == 0
    bridge.fail_send = False
    assert dialogue.handle("turn on the fog lights").actions[0].status == "done"
