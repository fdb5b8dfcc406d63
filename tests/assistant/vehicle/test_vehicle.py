"""Vehicle planning, guards, clamping and failures, against the scripted bridge."""

from __future__ import annotations

import json

import pytest

from assistant.nlu.base import Command
from assistant.vehicle.actuation import CheckedBridge, ReportingBridge
from assistant.vehicle.guards import GuardLimits
from assistant.vehicle.machines import Switch, Travel
from assistant.vehicle.signals import Kind, load_signals
from assistant.vehicle.vehicle import Request, Status, Vehicle
from firmware_bridge import BridgeConfig, CanBridge
from tests.assistant.vehicle.fakes import FakeBridge, FakeClock

SPEED = "Vehicle.Speed"
DRV_TEMP = "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature"
PAS_TEMP = "Vehicle.Cabin.HVAC.Station.Row1.Passenger.Temperature"
TRUNK = "Vehicle.Body.Trunk.Rear.IsOpen"
DRV_WINDOW = "Vehicle.Cabin.Door.Row1.DriverSide.Window.Position"
LOW_BEAM = "Vehicle.Body.Lights.Beam.Low.IsOn"
LOCKS = [
    f"Vehicle.Cabin.Door.{row}.{side}.IsLocked"
    for row in ("Row1", "Row2")
    for side in ("DriverSide", "PassengerSide")
]


def cmd(intent: str, **slots: object) -> Command:
    return Command(intent, slots)  # type: ignore[arg-type]


@pytest.fixture
def bridge() -> FakeBridge:
    return FakeBridge()


@pytest.fixture
def car(bridge: FakeBridge) -> Vehicle:
    return Vehicle(bridge)


def test_relative_temperature_resolves_from_current_state(car: Vehicle, bridge: FakeBridge) -> None:
    action = car.execute(cmd("climate.adjust_temperature", direction="up", amount=2))
    assert action.status == "done"
    assert bridge.values[DRV_TEMP] == 23.0
    assert bridge.values[PAS_TEMP] == 23.0
    assert action.reply == "Temperature set to 23 degrees."


def test_relative_temperature_for_one_zone(car: Vehicle, bridge: FakeBridge) -> None:
    car.execute(cmd("climate.adjust_temperature", direction="down", zone="passenger"))
    assert bridge.values[PAS_TEMP] == 20.0
    assert bridge.values[DRV_TEMP] == 21.0


def test_out_of_range_temperature_is_clamped_and_said(car: Vehicle, bridge: FakeBridge) -> None:
    action = car.execute(cmd("climate.set_temperature", value=45))
    assert bridge.values[DRV_TEMP] == 28
    assert action.reply == "Temperature set to 28 degrees. 28 degrees is the highest I can set."


def test_fahrenheit_is_converted(car: Vehicle, bridge: FakeBridge) -> None:
    car.execute(cmd("climate.set_temperature", value=72, unit="fahrenheit"))
    assert bridge.values[DRV_TEMP] == 22.0


def test_fan_up_clamps_at_max(car: Vehicle, bridge: FakeBridge) -> None:
    bridge.values["Vehicle.Cabin.HVAC.FanLevel"] = 7
    action = car.execute(cmd("climate.set_fan", direction="up"))
    assert bridge.values["Vehicle.Cabin.HVAC.FanLevel"] == 7
    assert "highest" in action.reply


def test_trunk_guard_refuses_while_driving(car: Vehicle, bridge: FakeBridge) -> None:
    bridge.values[SPEED] = 50.0
    action = car.execute(cmd("trunk.open"))
    assert action.status == "refused"
    assert action.reply == "I can't open the trunk while driving."
    assert bridge.sent == []
    assert bridge.values[TRUNK] == 0


def test_trunk_closes_while_driving(car: Vehicle, bridge: FakeBridge) -> None:
    bridge.values[TRUNK] = 1
    bridge.values[SPEED] = 50.0
    assert car.execute(cmd("trunk.close")).status == "done"


def test_unlock_guard_uses_configured_speed(bridge: FakeBridge) -> None:
    bridge.values[SPEED] = 15.0
    assert Vehicle(bridge).execute(cmd("doors.unlock")).status == "refused"
    assert Vehicle(bridge, GuardLimits(unlock_max_speed_kmh=20)).execute(cmd("doors.unlock")).status == "done"
    assert Vehicle(bridge).execute(cmd("doors.lock")).status == "done"


def test_mirrors_guard(car: Vehicle, bridge: FakeBridge) -> None:
    bridge.values[SPEED] = 30.0
    assert car.execute(cmd("mirrors.fold")).reply == "I can't fold or unfold the mirrors while driving."


def test_missing_speed_fails_safe(car: Vehicle, bridge: FakeBridge) -> None:
    del bridge.values[SPEED]
    assert car.execute(cmd("trunk.open")).status == "refused"


def test_window_groups(car: Vehicle, bridge: FakeBridge) -> None:
    action = car.execute(cmd("window.open", window="rear", amount=50))
    assert bridge.sent[-1] == {
        "Vehicle.Cabin.Door.Row2.DriverSide.Window.Position": 50,
        "Vehicle.Cabin.Door.Row2.PassengerSide.Window.Position": 50,
    }
    assert action.reply == "I've opened the rear windows 50 percent."
    assert car.machines["window.rear_left"].state is Travel.OPEN
    assert car.machines["window.driver"].state is Travel.CLOSED


def test_timeout_is_reported_and_state_not_faked(car: Vehicle, bridge: FakeBridge) -> None:
    bridge.silent.add(TRUNK)
    action = car.execute(cmd("trunk.open"))
    assert action.status == "timeout"
    assert action.reply == "The trunk didn't confirm in time, so it may not have changed."
    assert bridge.values[TRUNK] == 0
    assert car.machines["trunk"].faulted


def test_send_failure_is_spoken(car: Vehicle, bridge: FakeBridge) -> None:
    bridge.fail_send = True
    action = car.execute(cmd("lights.set", light="fog_lights", state="on"))
    assert action.status == "failed"
    assert action.reply == "I couldn't reach the car's controller, so nothing changed."
    assert car.machines["light.fog_lights"].state is Switch.FAULT
    bridge.fail_send = False
    assert car.execute(cmd("lights.set", light="fog_lights", state="on")).status == "done"
    assert car.machines["light.fog_lights"].state is Switch.ON


def test_radio_band_inferred_and_checked(car: Vehicle, bridge: FakeBridge) -> None:
    car.execute(cmd("radio.tune", frequency=91.3))
    assert bridge.values["Vehicle.Cabin.Infotainment.Media.Radio.Frequency"] == 91300
    assert bridge.values["Vehicle.Cabin.Infotainment.Media.Radio.Band"] == "fm"
    car.execute(cmd("radio.tune", frequency=770, band="am"))
    assert bridge.values["Vehicle.Cabin.Infotainment.Media.Radio.Band"] == "am"
    refused = car.execute(cmd("radio.tune", frequency=150, band="fm"))
    assert refused.status == "refused"
    assert refused.reply == "150 isn't a frequency on the FM band."


def test_next_track_wraps(car: Vehicle, bridge: FakeBridge) -> None:
    bridge.values["Vehicle.Cabin.Infotainment.Media.TrackNumber"] = 255
    car.execute(cmd("media.control", action="next"))
    assert bridge.values["Vehicle.Cabin.Infotainment.Media.TrackNumber"] == 0


def test_headlights_off_while_driving_asks_first(car: Vehicle, bridge: FakeBridge) -> None:
    bridge.values[SPEED] = 80.0
    action = car.execute(cmd("lights.set", light="headlights", state="off"))
    assert action.status == "confirm"
    assert bridge.sent == []
    assert action.question is not None
    assert car.confirm(action.question).status == "done"
    assert bridge.values[LOW_BEAM] == 0


def test_queries_answer_from_state(car: Vehicle, bridge: FakeBridge) -> None:
    assert car.execute(cmd("vehicle.query", subject="windows")).reply == "All windows are closed."
    bridge.values[DRV_WINDOW] = 40
    assert car.execute(cmd("vehicle.query", subject="windows")).reply == "Open: the driver window 40 percent."
    assert car.execute(cmd("vehicle.query", subject="doors")).reply == "All doors are locked."
    assert bridge.sent == []


@pytest.mark.parametrize(
    "subject",
    ["windows", "doors", "trunk", "sunroof", "climate", "lights", "wipers", "seat_heating", "media"],
)
def test_every_query_subject_answers(car: Vehicle, subject: str) -> None:
    action = car.execute(cmd("vehicle.query", subject=subject))
    assert action.status == "answered"
    assert action.reply.endswith(".") and "don't know" not in action.reply


def test_radio_without_frequency_keeps_the_station_or_starts_the_band(
    car: Vehicle, bridge: FakeBridge
) -> None:
    bridge.values["Vehicle.Cabin.Infotainment.Media.Source"] = "usb"
    assert car.execute(cmd("radio.tune")).reply == "Tuned to FM 99.5."
    assert bridge.values["Vehicle.Cabin.Infotainment.Media.Source"] == "radio"
    assert car.execute(cmd("radio.tune", band="am")).reply == "Tuned to AM 530."


# -- the one gate: every actuation, whatever asked for it, passes the guards and the asks ----------


def test_apply_asks_for_headlights_off_whatever_the_intent(car: Vehicle, bridge: FakeBridge) -> None:
    """An undo (or any caller of apply) gets the same question as a fresh request."""
    bridge.values[SPEED] = 50.0
    bridge.values[LOW_BEAM] = 1
    action = car.apply("assistant.undo", Request({"light.headlights": 0}))
    assert action.status == "confirm"
    assert action.reply == "You're driving. Turn off the headlights? Say yes or no."
    assert bridge.sent == [] and bridge.values[LOW_BEAM] == 1


def test_a_yes_counts_once(car: Vehicle, bridge: FakeBridge) -> None:
    bridge.values[SPEED] = 50.0
    question = car.execute(cmd("lights.set", light="headlights", state="off")).question
    assert question is not None
    assert car.confirm(question).status == "done"
    bridge.values[LOW_BEAM] = 1
    again = car.confirm(question)
    assert again.status == "expired" and bridge.values[LOW_BEAM] == 1
    assert len(bridge.sent) == 1


def test_a_question_lapses_after_its_time(bridge: FakeBridge) -> None:
    clock = FakeClock()
    car = Vehicle(bridge, GuardLimits(question_timeout_s=5.0), clock=clock)
    bridge.values[SPEED] = 50.0
    bridge.values[LOW_BEAM] = 1
    question = car.execute(cmd("lights.set", light="headlights", state="off")).question
    assert question is not None
    clock.advance(5.5)
    action = car.confirm(question)
    assert action.status == "expired"
    assert action.reply == "That question has lapsed, so I left it. Ask me again if you still want it."
    assert bridge.sent == [] and bridge.values[LOW_BEAM] == 1


def test_a_withdrawn_or_copied_question_answers_nothing(car: Vehicle, bridge: FakeBridge) -> None:
    import dataclasses

    bridge.values[SPEED] = 50.0
    question = car.execute(cmd("lights.set", light="headlights", state="off")).question
    assert question is not None
    assert car.confirm(dataclasses.replace(question)).status == "expired"
    car.withdraw(question)
    assert car.confirm(question).status == "expired"
    assert bridge.sent == []


def test_the_yes_is_checked_against_the_speed_at_the_yes(bridge: FakeBridge) -> None:
    """Asked at 8 km/h (unlocking still allowed), answered at 30: the unlock guard refuses then."""
    car = Vehicle(bridge)
    bridge.values[SPEED] = 8.0
    action = car.apply("assistant.undo", Request({"light.headlights": 0, "lock.driver": 0}))
    assert action.status == "confirm" and action.question is not None
    bridge.values[SPEED] = 30.0
    answered = car.confirm(action.question)
    assert answered.status == "refused"
    assert answered.reply == "I can't unlock the doors while the car is moving."
    assert bridge.sent == []


def test_a_yes_lets_through_its_question_but_no_guard(car: Vehicle, bridge: FakeBridge) -> None:
    bridge.values[SPEED] = 50.0
    question = car.execute(cmd("lights.set", light="headlights", state="off")).question
    assert question is not None
    action = car.apply("x", Request({"light.headlights": 0, "trunk": 1}), yes_to=question)
    assert action.status == "refused" and action.reply == "I can't open the trunk while driving."
    assert bridge.sent == []


# -- a partial send: replies and undo from what the car confirmed, signal by signal ----------------


def test_partial_send_reports_what_the_car_confirmed(car: Vehicle, bridge: FakeBridge) -> None:
    for lock in LOCKS:
        bridge.values[lock] = 0
    bridge.fail_send_after = 2
    action = car.execute(cmd("doors.lock", door="all"))
    assert action.status == "failed"
    assert action.reply == (
        "I've locked the front doors. I couldn't send the command for the rear doors, so they didn't change."
    )
    assert set(action.confirmed) == set(LOCKS[:2]) and set(action.unsent) == set(LOCKS[2:])
    assert action.previous == {LOCKS[0]: 0, LOCKS[1]: 0}
    assert car.machines["lock.driver"].state is Switch.ON
    assert car.machines["lock.rear_left"].state is Switch.FAULT


def test_partial_timeout_names_both_halves(car: Vehicle, bridge: FakeBridge) -> None:
    bridge.silent.add("Vehicle.Cabin.Door.Row2.PassengerSide.Window.Position")
    action = car.execute(cmd("window.open", window="rear")).settled(5)
    assert action.status == "timeout"
    assert action.reply == (
        "I've opened the rear left window. "
        "The rear right window didn't confirm in time, so it may not have changed."
    )
    assert action.previous == {"Vehicle.Cabin.Door.Row2.DriverSide.Window.Position": 0}


def test_undo_restores_only_what_changed(car: Vehicle, bridge: FakeBridge) -> None:
    """A change to something already there is not 'previous': nothing to put back."""
    bridge.values["Vehicle.Cabin.HVAC.IsAirConditioningActive"] = 1
    assert car.execute(cmd("climate.ac", state="on")).previous == {}
    assert car.execute(cmd("climate.ac", state="off")).previous == {
        "Vehicle.Cabin.HVAC.IsAirConditioningActive": 1
    }


def test_status_is_an_enum_said_as_its_plain_value_in_json(car: Vehicle) -> None:
    action = car.execute(cmd("doors.lock"))
    assert action.status is Status.DONE
    assert json.dumps(action.to_json()).count('"status": "done"') == 1
    assert type(action.to_json()["status"]) is str  # noqa: E721 - a str subclass would leak the enum
    assert car.execute(cmd("trunk.open")).status is Status.DONE
    assert {s.value for s in Status} >= {"done", "moving", "refused", "timeout", "failed", "confirm"}


def test_the_bridge_protocols_describe_what_can_bridge_has() -> None:
    # firmware_bridge imports nothing of ours: the vehicle's protocols must still fit its bridge
    bridge = CanBridge(BridgeConfig(channel="protocol-check"))
    assert isinstance(bridge, ReportingBridge) and isinstance(bridge, CheckedBridge)
    assert callable(bridge.state) and callable(bridge.actuate)
    # a fake with neither part still drives the vehicle; they are simply not used
    assert not isinstance(FakeBridge(), ReportingBridge) and not isinstance(FakeBridge(), CheckedBridge)
    assert Vehicle(FakeBridge()).health_checks == []


def test_signal_kinds_are_an_enum() -> None:
    specs = load_signals()
    assert specs[TRUNK].kind is Kind.BOOL and specs[DRV_TEMP].kind is Kind.NUMBER
    assert {s.kind for s in specs.values()} <= set(Kind)
