"""The simulated controller built from a car's DBC + mapping + physics file, for every kind of car.

The Ford runs on tests/data/ford_lincoln_base_pt_fixture.dbc (facts restated from opendbc, cited
there); the made-up car of tests/data/byoc_car.dbc has every command style and a CRC-sealed cyclic
command.  Each test runs the real bridge against the real simulator on a real virtual bus.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import can
import pytest

from firmware_bridge import BodyControllerSim, BridgeConfig, CanBridge, Frame, MappingError
from firmware_bridge.cars import find_car
from firmware_bridge.config import DEFAULT_ALLOWLIST, DEFAULT_MAPPING
from firmware_bridge.ecu_sim import PHYSICS_DIR, load_physics
from firmware_bridge.errors import CarCannotError
from tests.firmware_bridge.conftest import FAST

DATA = Path(__file__).resolve().parents[1] / "data"
FORD = find_car("ford")
FORD_DBC = DATA / "ford_lincoln_base_pt_fixture.dbc"
TRUNK = "Vehicle.Body.Trunk.Rear.IsOpen"
LOCK = "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked"
PASSENGER_LOCK = "Vehicle.Cabin.Door.Row1.PassengerSide.IsLocked"
GEAR = "Vehicle.Powertrain.Transmission.SelectedGear"
SPEED = "Vehicle.Speed"
TEMP = "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature"
WINDOW = "Vehicle.Cabin.Door.Row1.DriverSide.Window.Position"
SEAT = "Vehicle.Cabin.Seat.Row1.DriverSide.HeatingLevel"
BYOC_CMD_ID = 0x18FF4A21


def _tx(frames: Iterable[Frame]) -> list[Frame]:
    return [f for f in frames if f.direction == "tx"]


def _wait(predicate: Callable[[], bool], timeout_s: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


# -- the Ford ---------------------------------------------------------------------------------------


@pytest.fixture
def ford_config(channel: str) -> BridgeConfig:
    return BridgeConfig(
        channel=channel, dbc_path=FORD_DBC, mapping_path=FORD.mapping_path, allowlist_path=FORD.allowlist_path
    )


@pytest.fixture
def ford_sim(ford_config: BridgeConfig) -> Iterator[BodyControllerSim]:
    with BodyControllerSim(ford_config, travel_s={"liftgate": 0.2}, status_period_s=0.05) as sim:
        yield sim


@pytest.fixture
def ford(ford_config: BridgeConfig, ford_sim: BodyControllerSim) -> Iterator[CanBridge]:
    with CanBridge(ford_config) as bridge:
        assert bridge.wait_ready(2.0), "the simulated Ford sent no status"
        yield bridge


def test_the_ford_simulator_reads_its_physics_file() -> None:
    physics = load_physics(PHYSICS_DIR / "ford.yaml")
    assert physics.travel["liftgate"].seconds == 4.0
    assert physics.moves == {TRUNK: "liftgate"}


def test_simulated_ford_reports_through_its_value_tables(
    ford: CanBridge, ford_sim: BodyControllerSim
) -> None:
    state = ford.state()
    assert state[TRUNK] == 0  # DrStatTgate_B_Actl=Closed
    assert state[LOCK] == 0 and state[PASSENGER_LOCK] == 0  # Veh_Lock_Status=UNLOCK_ALL (physics file)
    assert state[GEAR] == "park"  # the scenario's park, as GearLvrPos_D_Actl=Park
    assert state[SPEED] == 0
    assert ford_sim.value("Locking_Systems_2_FD1.RollCodeUnlock") == 1234


def test_simulated_ford_liftgate_toggles_once_per_pulse(ford: CanBridge, ford_sim: BodyControllerSim) -> None:
    opened = ford.actuate({TRUNK: 1})
    assert opened.ok, opened
    pulses = [f.signals["Power_Liftgate_Rqst"] for f in _tx(opened.frames)]
    assert pulses[-1] == "Null" and set(pulses[:-1]) == {"Active"}
    assert ford_sim.value("DrStatTgate_B_Actl") == "Ajar"
    # already open: a second pulse would close it, so the bridge sends none and it stays open
    again = ford.actuate({TRUNK: 1})
    assert again.ok and _tx(again.frames) == []
    time.sleep(0.3)
    assert ford_sim.value("DrStatTgate_B_Actl") == "Ajar"
    closed = ford.actuate({TRUNK: 0})
    assert closed.ok, closed
    assert ford_sim.value("DrStatTgate_B_Actl") == "Closed"
    assert ford_sim.rejected == 0


def test_simulated_ford_liftgate_takes_its_travel_time(ford_config: BridgeConfig) -> None:
    with BodyControllerSim(ford_config, travel_s={"liftgate": 0.6}) as sim, CanBridge(ford_config) as bridge:
        assert bridge.wait_ready(2.0)
        started = time.monotonic()
        result = bridge.actuate({TRUNK: 1})
        assert result.ok, result
        assert sim.value(TRUNK) == "Ajar"
    # the status said Ajar only after the liftgate's travel, not when the pulse arrived
    assert time.monotonic() - started >= 0.6


def test_simulated_ford_locks_are_status_only(ford: CanBridge, ford_sim: BodyControllerSim) -> None:
    with pytest.raises(CarCannotError):
        ford.actuate({LOCK: 1})
    assert _tx(ford.recent_frames()) == []
    assert ford_sim.value("Veh_Lock_Status") == "UNLOCK_ALL"


# -- the made-up car: every command style, a CRC-sealed cyclic command --------------------------------


@pytest.fixture
def byoc_config(channel: str) -> BridgeConfig:
    return BridgeConfig(
        channel=channel,
        dbc_path=DATA / "byoc_car.dbc",
        mapping_path=DATA / "byoc_car.yaml",
        allowlist_path=DATA / "byoc_car_allowlist.yaml",
    )


@pytest.fixture
def byoc_sim(byoc_config: BridgeConfig) -> Iterator[BodyControllerSim]:
    # no physics file ships for this car: every actuator instant, the window switch at the default rate
    with BodyControllerSim(byoc_config, status_period_s=0.05) as sim:
        yield sim


@pytest.fixture
def byoc(byoc_config: BridgeConfig, byoc_sim: BodyControllerSim) -> Iterator[CanBridge]:
    with CanBridge(byoc_config) as bridge:
        assert bridge.wait_ready(2.0)
        yield bridge


def test_sealed_cyclic_command_is_verified_and_bad_frames_are_rejected(
    byoc: CanBridge, byoc_sim: BodyControllerSim
) -> None:
    result = byoc.actuate({TEMP: 23.5})
    assert result.ok, result
    assert byoc_sim.value("CabinTemp") == 23.5
    assert byoc_sim.rejected == 0
    good = _tx(result.frames)[-1].data
    bad_crc = bytes([good[0] ^ 1]) + good[1:]
    # a frame asking for 15 degC whose CRC was not recomputed: a forged or garbled command
    forged = bytearray(good)
    forged[2] = 10  # CabinTempReq raw 10 -> 15 degC
    with can.Bus(interface="virtual", channel=byoc.config.channel) as bus:
        for data in (bad_crc, bytes(forged), good):  # good: the counter already seen, a replay
            bus.send(can.Message(arbitration_id=BYOC_CMD_ID, is_extended_id=True, data=data))
        assert _wait(lambda: byoc_sim.rejected == 3)
    assert byoc_sim.rejections == {"checksum": 2, "counter": 1}
    time.sleep(0.1)
    assert byoc_sim.value("CabinTemp") == 23.5, "a rejected frame moved nothing"
    assert byoc_sim.health() == ()
    # and the next good frame, with its counter moved on, is obeyed
    assert byoc.actuate({TEMP: 20.0}).ok
    assert byoc_sim.value("CabinTemp") == 20.0


def test_press_opens_the_latch_and_toggle_flips_the_lock(
    byoc: CanBridge, byoc_sim: BodyControllerSim
) -> None:
    assert byoc.actuate({TRUNK: 1}).ok
    assert byoc_sim.value("LiftgateLatch") == "LATCH_OPENING"  # the first the map reads as open
    assert byoc.actuate({LOCK: 1}).ok
    assert byoc_sim.value("DriverLocked") == 1
    assert byoc.actuate({LOCK: 0}).ok
    assert byoc_sim.value("DriverLocked") == 0
    assert byoc_sim.rejected == 0


def test_press_until_moves_the_window_only_while_the_switch_is_held(
    byoc: CanBridge, byoc_sim: BodyControllerSim
) -> None:
    result = byoc.actuate({WINDOW: 60})
    assert result.ok, result
    switches = {f.signals["DriverWindowSwitch"] for f in _tx(result.frames)}
    assert switches == {"DOWN", "IDLE"}
    time.sleep(0.3)  # released: the window stays where it stopped
    assert abs(float(byoc_sim.value("DriverWindowPos")) - 60) <= 5
    assert byoc.actuate({WINDOW: 20}).ok
    assert abs(float(byoc_sim.value("DriverWindowPos")) - 20) <= 5


def test_multiplexed_command_and_status(byoc: CanBridge, byoc_sim: BodyControllerSim) -> None:
    assert byoc.actuate({SEAT: 2}).ok
    assert byoc_sim.value("SeatHeatDriver") == 2
    assert byoc.value(SEAT) == 2  # page 1 of BODY_STATUS
    assert byoc.value(PASSENGER_LOCK) == 0  # page 0


@pytest.mark.parametrize(
    ("command", "status"),
    [
        ("{linear: {scale: 1, offset: -0.5}}", "{linear: {scale: 1, offset: -1}}"),
        ('{math: "x - 0.5"}', '{math: "x - 1"}'),
    ],
)
def test_the_simulator_inverts_the_mappings_transforms(
    tmp_path: Path, byoc_config: BridgeConfig, command: str, status: str
) -> None:
    # the cabin temperature requested half a degree below the vehicle value, reported one above it
    text = (DATA / "byoc_car.yaml").read_text(encoding="utf-8")
    old = "signal: CabinTempReq}\n    status: {message: BODY_STATUS, signal: CabinTemp}"
    assert old in text
    new = (
        f"signal: CabinTempReq, transform: {command}}}\n"
        f"    status: {{message: BODY_STATUS, signal: CabinTemp, transform: {status}}}"
    )
    mapping = tmp_path / "byoc_transformed.yaml"
    mapping.write_text(text.replace(old, new), encoding="utf-8")
    config = dataclasses.replace(byoc_config, mapping_path=mapping)
    with BodyControllerSim(config, status_period_s=0.05) as sim, CanBridge(config) as bridge:
        assert bridge.wait_ready(2.0)
        result = bridge.actuate({TEMP: 22.0})
        assert result.ok, result
        assert [f.signals["CabinTempReq"] for f in _tx(result.frames)][0] == 21.5
        assert sim.value("CabinTemp") == 23.0
        assert bridge.value(TEMP) == 22.0


# -- the reference car: its wiring is the mapping's ------------------------------------------------------


def test_the_simulator_follows_the_mapping_not_a_restatement(tmp_path: Path, channel: str) -> None:
    # A car whose driver window is wired to the WINDOW_CMD selector the reference car uses for the
    # passenger's: the simulator, built from the same mapping, moves the status the mapping names.
    text = DEFAULT_MAPPING.read_text(encoding="utf-8")
    swapped = (
        text.replace("fixed: {WinSelect: driver}", "fixed: {WinSelect: TMP}")
        .replace("fixed: {WinSelect: passenger}", "fixed: {WinSelect: driver}")
        .replace("fixed: {WinSelect: TMP}", "fixed: {WinSelect: passenger}")
    )
    assert swapped != text
    mapping = tmp_path / "rewired.yaml"
    mapping.write_text(swapped, encoding="utf-8")
    config = BridgeConfig(channel=channel, mapping_path=mapping)
    physics = PHYSICS_DIR / "reference_car.yaml"
    with BodyControllerSim(config, physics=physics, **FAST) as sim, CanBridge(config) as bridge:  # type: ignore[arg-type]
        assert bridge.wait_ready(2.0)
        result = bridge.actuate({WINDOW: 30})
        assert result.ok, result
        assert [f.signals["WinSelect"] for f in _tx(result.frames)] == ["passenger"]
        assert sim.value("WinPosDriver") == 30
        assert sim.value("WinPosPassenger") == 0


# -- physics files: bad ones are refused with file:line ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("travel:\n  window: {seconds: 3}\nspeed: 4\n", 3, "unknown key(s) speed"),
        ("travel:\n  window: {seconds: -1}\n", 2, "seconds must be a number in 0..600"),
        ("travel:\n  window: {seconds: 3}\nmoves:\n  Vehicle.Cabin.Sunroof.Position: sunroof\n", 4,
         "travel 'sunroof' is not defined"),
    ],
)
def test_bad_physics_files_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = tmp_path / "car.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        load_physics(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("travel:\n  t: {seconds: 1}\nmoves:\n  Vehicle.Body.Hood.IsOpen: t\n", 4, "matches no actuator"),
        ("initial:\n  Vehicle.Cabin.HVAC.FanLevel: 99\n", 2, "no value of HVAC_STATUS.FanLevel reads as 99"),
        ("initial:\n  DOOR_STATUS.Nope: 1\n", 2, "neither a vehicle signal"),
        (
            "travel:\n  t: {seconds: 1, continuous: true}\n"
            "moves:\n  Vehicle.Body.Windshield.Front.Wiping.Mode: t\n",
            4,
            "only a number can travel continuously",
        ),
    ],
)
def test_physics_that_does_not_fit_the_car_is_refused(
    tmp_path: Path, config: BridgeConfig, text: str, line: int, message: str
) -> None:
    path = tmp_path / "car.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        BodyControllerSim(config, physics=path)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert message in str(caught.value)


def test_travel_override_must_name_a_travel_of_the_car(config: BridgeConfig) -> None:
    with pytest.raises(ValueError, match="'liftgate'.*window, sunroof, trunk, mirror"):
        BodyControllerSim(config, travel_s={"liftgate": 1.0})


def test_the_simulated_car_does_not_read_the_assistants_allowlist(byoc_config: BridgeConfig) -> None:
    # the reference car's allowlist names messages the byoc DBC lacks: the bridge would refuse it,
    # the car it talks to does not care what the assistant may write
    config = dataclasses.replace(byoc_config, allowlist_path=DEFAULT_ALLOWLIST)
    sim = BodyControllerSim(config)
    assert sim.value("CabinTemp") == 15.0
