"""Every catalog intent end to end: command -> guards -> DBC-encoded frames on a real
python-can virtual bus -> the simulated body controller -> confirmed by a decoded status frame."""

from __future__ import annotations

import dataclasses

import pytest

from assistant.catalog import INTENTS
from assistant.config import Settings, SimSettings
from assistant.dialogue import Dialogue
from assistant.nlu.base import Command
from assistant.nlu.templates import TemplateParser
from assistant.runtime import Car, open_car

# One command per actuating intent, chosen to change the simulated car's start state.
ACTUATING: list[tuple[str, dict[str, object]]] = [
    ("window.open", {"window": "passenger", "amount": 50}),
    ("window.close", {"window": "all"}),
    ("sunroof.open", {"amount": 20}),
    ("sunroof.close", {}),
    ("climate.set_temperature", {"value": 24, "zone": "driver"}),
    ("climate.adjust_temperature", {"direction": "down", "amount": 2}),
    ("climate.set_fan", {"level": 5}),
    ("climate.ac", {"state": "on"}),
    ("climate.defrost", {"target": "rear", "state": "on"}),
    ("climate.recirculation", {"state": "on"}),
    ("seat.heat", {"seat": "passenger", "level": 3}),
    ("lights.set", {"light": "interior", "state": "on"}),
    ("lights.set", {"light": "fog_lights", "state": "on"}),
    ("doors.lock", {}),
    ("doors.unlock", {"door": "driver"}),
    ("trunk.open", {}),
    ("trunk.close", {}),
    ("wipers.set", {"mode": "intermittent"}),
    ("mirrors.fold", {}),
    ("mirrors.unfold", {}),
    ("media.volume", {"level": 20}),
    ("media.mute", {}),
    ("media.unmute", {}),
    ("media.control", {"action": "next"}),
    ("media.source", {"source": "usb"}),
    ("radio.tune", {"frequency": 101.1, "band": "fm"}),
]
DIALOGUE_ONLY = {i for i in INTENTS if i.startswith("assistant.")} | {"vehicle.query"}


def test_the_table_covers_every_actuating_intent() -> None:
    assert {i for i, _ in ACTUATING} == set(INTENTS) - DIALOGUE_ONLY


@pytest.mark.parametrize(
    ("intent", "slots"), ACTUATING, ids=[f"{i}-{j}" for j, (i, _) in enumerate(ACTUATING)]
)
def test_intent_is_confirmed_by_a_status_frame(car: Car, intent: str, slots: dict[str, object]) -> None:
    action = car.vehicle.execute(Command(intent, slots)).settled(10)  # type: ignore[arg-type]
    assert action.status == "done", action.reply
    assert action.targets and action.confirmed == pytest.approx(action.targets)
    tx = [f for f in action.frames if f.direction == "tx"]
    rx = [f for f in action.frames if f.direction == "rx"]
    gpio_only = set(action.targets) == {"Vehicle.Cabin.Light.IsDomeOn"}
    if gpio_only:
        assert car.bridge.state()["Vehicle.Cabin.Light.IsDomeOn"] == 1
    else:
        assert tx and rx
        assert all(f.message.endswith("_CMD") for f in tx)
    for signal, target in action.targets.items():
        assert car.bridge.state()[signal] == pytest.approx(target)


def test_a_window_is_answered_as_it_starts_and_followed_to_its_end(car: Car) -> None:
    import time

    t0 = time.monotonic()
    action = car.vehicle.execute(Command("window.open", {"window": "driver"}))
    answered = time.monotonic() - t0
    assert action.status == "moving" and action.reply == "Opening the driver window."
    assert car.vehicle.machines["window.driver"].busy
    final = action.settled(5)
    ended = time.monotonic() - t0
    assert final.status == "done" and final.confirmed == pytest.approx(final.targets)
    assert not car.vehicle.machines["window.driver"].busy
    assert answered < ended - 0.1  # 0.3 s travel in the test car
    tx_time = min(f.timestamp for f in final.frames if f.direction == "tx")
    rx_time = max(f.timestamp for f in final.frames if f.direction == "rx")
    assert rx_time - tx_time >= 0.25


def test_windows_already_there_do_not_hold_the_reply_for_the_others(settings: Settings) -> None:
    import time

    with open_car(dataclasses.replace(settings, sim=SimSettings(window_travel_s=3.0))) as car:
        assert car.vehicle.execute(Command("window.open", {"window": "driver"})).settled(10).status == "done"
        t0 = time.monotonic()
        action = car.vehicle.execute(Command("window.open", {"window": "all"}))
        assert action.status == "moving" and time.monotonic() - t0 < 1.5  # not the 3 s travel
        assert action.settled(10).status == "done"


def test_a_window_re_targeted_on_its_way_is_left_to_the_newer_request(settings: Settings) -> None:
    with open_car(dataclasses.replace(settings, sim=SimSettings(window_travel_s=3.0))) as car:
        said: list[str] = []
        car.vehicle.listen(said.append)
        opening = car.vehicle.execute(Command("window.open", {"window": "driver"}))
        closing = car.vehicle.execute(Command("window.close", {"window": "driver"}))
        assert opening.status == "moving"
        assert closing.settled(10).status == "done" and opening.settled(10).status == "replaced"
        assert said == [] and not car.vehicle.machines["window.driver"].faulted


def test_a_window_that_jams_on_its_way_is_reported_later(settings: Settings) -> None:
    # a slow window, so that it is still on its way when it jams
    with open_car(dataclasses.replace(settings, sim=SimSettings(window_travel_s=5.0))) as car:
        _jam_on_the_way(car)


def _jam_on_the_way(car: Car) -> None:
    assert car.sim is not None
    said: list[str] = []
    car.vehicle.listen(said.append)
    signal = "Vehicle.Cabin.Door.Row1.DriverSide.Window.Position"
    action = car.vehicle.execute(Command("window.open", {"window": "driver"}))
    assert action.status == "moving"
    car.sim.jam("WinPosDriver")
    final = action.settled(10)  # the window's confirm timeout is 6 s
    assert final.status == "timeout" and said == [final.reply]
    assert "driver window didn't confirm" in final.reply
    assert car.vehicle.machines["window.driver"].faulted
    assert 0 < car.bridge.state()[signal] < 100  # where it stopped, not where it was asked to go


def test_a_turn_with_a_window_settles_with_the_whole_story(car: Car) -> None:
    dialogue = Dialogue(TemplateParser(), car.vehicle)
    turn = dialogue.handle("open the windows and turn on the air conditioning")
    assert [a.status for a in turn.actions] == ["moving", "done"]
    assert turn.reply.startswith("Opening ") and turn.reply.endswith(". Air conditioning on.")
    settled = turn.settled(5)
    assert [a.status for a in settled.actions] == ["done", "done"] and settled.reply == turn.reply
    assert any(f.message == "WINDOW_CMD" for f in settled.frames)


def test_sentence_to_confirmed_frames(car: Car) -> None:
    dialogue = Dialogue(TemplateParser(), car.vehicle)
    turn = dialogue.handle("open the trunk and turn on the air conditioning")
    assert [c.intent for c in turn.commands] == ["trunk.open", "climate.ac"]
    assert [a.status for a in turn.actions] == ["done", "done"]
    assert turn.reply == "The trunk is open. Air conditioning on."
    messages = [f.message for f in turn.frames if f.direction == "tx"]
    assert messages[0] == "TRUNK_CMD" and "HVAC_FUNC_CMD" in messages
    assert car.bridge.state()["Vehicle.Body.Trunk.Rear.IsOpen"] == 1


def test_guard_refusal_sends_nothing(car: Car) -> None:
    assert car.sim is not None
    car.sim.set_drive(50.0, "drive")
    sent: list[object] = []
    car.bridge.subscribe(lambda f: sent.append(f) if f.direction == "tx" else None)
    # wait until the bridge has seen the new speed
    import time

    deadline = time.monotonic() + 2
    while car.bridge.state().get("Vehicle.Speed") != 50.0 and time.monotonic() < deadline:
        time.sleep(0.02)
    action = car.vehicle.execute(Command("trunk.open"))
    assert action.status == "refused"
    assert action.reply == "I can't open the trunk while driving."
    assert sent == []
    assert car.vehicle.execute(Command("doors.unlock")).status == "refused"


def test_silent_controller_times_out_and_state_is_not_faked(car: Car) -> None:
    assert car.sim is not None
    car.sim.ignore("TRUNK_CMD")
    action = car.vehicle.execute(Command("trunk.open"))
    assert action.status == "timeout"
    assert action.reply == "The trunk didn't confirm in time, so it may not have changed."
    assert car.bridge.state()["Vehicle.Body.Trunk.Rear.IsOpen"] == 0
    # the assistant keeps serving the next request
    assert car.vehicle.execute(Command("climate.ac", {"state": "on"})).status == "done"


def test_undo_restores_the_previous_values(car: Car) -> None:
    dialogue = Dialogue(TemplateParser(), car.vehicle)
    before = car.bridge.state()["Vehicle.Cabin.HVAC.FanLevel"]
    dialogue._one(Command("climate.set_fan", {"level": 6}))
    assert car.bridge.state()["Vehicle.Cabin.HVAC.FanLevel"] == 6
    undo = dialogue._one(Command("assistant.undo"))
    assert undo.status == "done" and undo.reply == "Undone."
    assert car.bridge.state()["Vehicle.Cabin.HVAC.FanLevel"] == before
