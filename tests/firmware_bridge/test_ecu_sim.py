"""The simulated body controller: drive scenarios, media, run_ecu_sim."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from firmware_bridge import BodyControllerSim, BridgeConfig, BridgeConfigError, CanBridge, run_ecu_sim
from firmware_bridge.ecu_sim import load_scenario
from tests.firmware_bridge.conftest import FAST

SPEED = "Vehicle.Speed"
GEAR = "Vehicle.Powertrain.Transmission.SelectedGear"
TRACK = "Vehicle.Cabin.Infotainment.Media.TrackNumber"


def _wait_for(bridge: CanBridge, name: str, value: object, timeout_s: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if bridge.value(name) == value:
            return True
        time.sleep(0.01)
    return False


def test_city_drive_interpolates_speed_and_holds_gear() -> None:
    city = load_scenario("city_drive")
    assert city.at(0) == (0, "park")
    assert city.at(1) == (0, "park")
    assert city.at(6) == (25, "drive")
    assert city.at(17) == (50, "drive")
    assert city.at(6 + 62) == (25, "drive")  # it loops
    assert load_scenario("parked").at(1000) == (0, "park")


def test_scenario_errors_name_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("keyframes:\n  - {t_s: 0, speed_kmh: 0, gear: overdrive}\n", encoding="utf-8")
    with pytest.raises(BridgeConfigError, match="overdrive"):
        load_scenario(path)
    with pytest.raises(BridgeConfigError, match="city_drive, parked"):
        load_scenario("autobahn")


def test_drive_scenario_speed_and_gear_reach_the_bridge_state(tmp_path: Path, config: BridgeConfig) -> None:
    path = tmp_path / "pull_away.yaml"
    path.write_text(
        "keyframes:\n"
        "  - {t_s: 0, speed_kmh: 0, gear: park}\n"
        "  - {t_s: 0.2, speed_kmh: 0, gear: drive}\n"
        "  - {t_s: 1.2, speed_kmh: 42.5, gear: drive}\n",
        encoding="utf-8",
    )
    with BodyControllerSim(config, scenario=path, **FAST) as sim, CanBridge(config) as bridge:  # type: ignore[arg-type]
        assert _wait_for(bridge, SPEED, 42.5)
        assert bridge.value(GEAR) == "drive"
        sim.set_drive(88.25, "reverse")
        assert _wait_for(bridge, GEAR, "reverse")
        # 42.5 -> 88.25 km/h from one frame to the next is no car's acceleration: heard, not believed
        assert bridge.reported()[SPEED].value == 88.25
        assert SPEED not in bridge.state()
        assert _wait_for(bridge, SPEED, 88.25)


def test_next_track_moves_the_track_number_and_wraps(bridge: CanBridge) -> None:
    current = bridge.value(TRACK)
    assert isinstance(current, int)
    assert bridge.actuate({TRACK: (current + 1) % 256}).confirmed == {TRACK: current + 1}
    assert bridge.actuate({TRACK: 255}).ok
    assert bridge.actuate({TRACK: (255 + 1) % 256}).confirmed == {TRACK: 0}


def test_fault_controls_check_their_names(sim: BodyControllerSim) -> None:
    with pytest.raises(ValueError, match="WINDOW_STATUS"):
        sim.ignore("WINDOW_STATUS")
    with pytest.raises(ValueError, match="WinPos"):
        sim.jam("WinPos")


def test_run_ecu_sim_prints_one_line_per_command(config: BridgeConfig) -> None:
    lines: list[str] = []
    runner = threading.Thread(
        target=run_ecu_sim, args=(config, 1.0, lines.append), kwargs={"window_travel_s": 0.3}
    )
    runner.start()
    try:
        with CanBridge(config) as bridge:
            assert bridge.wait_ready(2.0)
            assert bridge.actuate({"Vehicle.Cabin.Door.Row1.DriverSide.Window.Position": 20}).ok
            assert bridge.actuate({"Vehicle.Body.Lights.Hazard.IsSignaling": 1}).ok
    finally:
        runner.join(timeout=3.0)
    assert not runner.is_alive()
    assert "Ctrl-C" in lines[0]
    assert len(lines) == 3
    assert lines[1].endswith("rx 0x300 WINDOW_CMD WinSelect=driver WinTargetPos=20")
    assert lines[2].endswith("rx 0x304 LIGHT_CMD LightSelect=hazard LightReq=1")
