"""The simulated car and the scripted drive stay off a real bus; old values are said with their age."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from assistant import audio
from assistant.cli import main
from assistant.config import CanSettings, Settings, load_settings
from assistant.nlu.base import Command
from assistant.runtime import check_scripted_bus, simulator
from assistant.vehicle.signals import Value
from assistant.vehicle.vehicle import Vehicle
from firmware_bridge import BridgeConfigError, Reading
from tests.assistant.vehicle.fakes import FakeBridge

AC = "Vehicle.Cabin.HVAC.IsAirConditioningActive"
CLIMATE = (
    "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature",
    "Vehicle.Cabin.HVAC.Station.Row1.Passenger.Temperature",
    "Vehicle.Cabin.HVAC.FanLevel",
    AC,
)


def _socketcan(tmp_path: Path, simulate: bool | None = None) -> Path:
    cfg = tmp_path / "car.yaml"
    extra = "" if simulate is None else f", simulate: {str(simulate).lower()}"
    cfg.write_text(f"can: {{interface: socketcan, channel: can0{extra}}}\n", encoding="utf-8")
    return cfg


# -- the simulator never on a real bus by default (issue 9, item 7) ----------------------------------


def test_simulate_is_off_unless_asked_for(tmp_path: Path) -> None:
    assert CanSettings().simulate is False
    settings, _ = load_settings(_socketcan(tmp_path), environ={})
    with pytest.raises(BridgeConfigError, match="only on the virtual interface"):
        simulator(settings)


def test_simulator_on_socketcan_only_when_asked_for_a_bench(tmp_path: Path) -> None:
    settings, _ = load_settings(_socketcan(tmp_path, simulate=True), environ={})
    assert simulator(settings).bench  # built (not started): the bench asked for it by name


def test_virtual_bus_always_has_the_simulator() -> None:
    assert not simulator(Settings()).bench


def test_scripted_drive_refuses_a_real_bus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(Exception, match="only runs on the virtual bus"):
        check_scripted_bus(load_settings(_socketcan(tmp_path, simulate=True), environ={})[0])
    assert main(["--config", str(_socketcan(tmp_path)), "simulate"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the scripted drive only runs on the virtual bus, not socketcan:can0")
    assert len(err.strip().splitlines()) == 1


def test_start_without_a_microphone_never_plays_the_drive_on_a_real_bus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class NoMicrophone:
        def __enter__(self) -> None:
            raise audio.AudioDeviceError("no input device")

        def __exit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr(audio, "Microphone", NoMicrophone)
    assert main(["--config", str(_socketcan(tmp_path)), "start"]) == 1
    captured = capsys.readouterr()
    assert "only runs on the virtual bus" in captured.err
    assert "running the simulated bench drive" not in captured.out


# -- answers from old values say so (item 9) ---------------------------------------------------------


@dataclasses.dataclass
class AgingBridge(FakeBridge):
    """The scripted bridge with report ages: a value older than 1 s is no longer current."""

    ages: dict[str, float] = dataclasses.field(default_factory=dict)

    def state(self) -> dict[str, Value]:
        return {k: v for k, v in self.values.items() if self.ages.get(k, 0.0) <= 1.0}

    def reported(self) -> dict[str, Reading]:
        ages = {k: self.ages.get(k, 0.0) for k in self.values}
        return {k: Reading(v, ages[k], ages[k] <= 1.0) for k, v in self.values.items()}


@pytest.mark.parametrize(
    ("age_s", "said"),
    [
        (1.5, "a moment"),
        (40, "40 seconds"),
        (75, "75 seconds"),
        (100, "2 minutes"),
        (180, "3 minutes"),
        (3600, "60 minutes"),
        (3 * 3600, "3 hours"),
    ],
)
def test_stale_answer_says_how_old_it_is(age_s: float, said: str) -> None:
    bridge = AgingBridge(values={AC: 1}, ages={sig: age_s for sig in CLIMATE})
    action = Vehicle(bridge).execute(Command("vehicle.query", {"subject": "climate"}))
    assert action.reply == (
        f"Last reported {said} ago: driver side 21 degrees, passenger side 21 degrees, fan off, "
        "air conditioning on."
    )


def test_never_reported_value_is_not_made_up() -> None:
    bridge = AgingBridge()
    del bridge.values[AC]
    action = Vehicle(bridge).execute(Command("vehicle.query", {"subject": "climate"}))
    assert action.reply == "The car hasn't reported that yet."


def test_current_values_are_answered_plainly() -> None:
    action = Vehicle(AgingBridge(values={AC: 1})).execute(Command("vehicle.query", {"subject": "climate"}))
    assert action.reply == "Driver side 21 degrees, passenger side 21 degrees, fan off, air conditioning on."
