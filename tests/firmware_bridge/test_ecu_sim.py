"""The simulated body controller: drive scenarios, media, run_ecu_sim."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import can
import pytest
from can.interfaces.virtual import VirtualBus

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



PARK = "keyframes:\n  - {t_s: 0, speed_kmh: 0, gear: park}\n"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        # a ValueError traceback
        ("keyframes:\n  - {t_s: 0, speed_kmh: fast, gear: drive}\n", ":2: keyframe 0: speed_kmh must be"),
        # accepted: a nan time is never reached, so the car stayed parked for the whole drive
        (
            PARK + "  - {t_s: .nan, speed_kmh: 50, gear: drive}\n",
            ":3: keyframe 1: t_s must be a finite number, got nan",
        ),
        # accepted, the last one kept
        ("loop: true\nloop: false\n" + PARK, ":2: 'loop' is given twice"),
        # accepted: bool('no') is True
        ("loop: 'no'\n" + PARK, ":1: loop must be true or false"),
    ],
)
def test_a_bad_scenario_is_one_error_naming_file_and_line(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BridgeConfigError) as caught:
        load_scenario(path)
    assert str(caught.value).startswith(f"{path}{error}"), caught.value


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


@pytest.mark.parametrize(
    ("frame_id", "data"),
    [
        (0x323, b"\x03"),  # MEDIA_SOURCE_CMD: source 3, none of the DBC's choices (the review's frame)
        (0x300, b"\x00\x7f"),  # WINDOW_CMD: driver window to 127 %, beyond the DBC's 0..100
        (0x300, b"\x07\x10"),  # WINDOW_CMD: window selector 7, no such window
        (0x301, b""),  # LOCK_CMD with no payload
    ],
)
def test_bad_command_frame_is_ignored_counted_and_the_controller_lives_on(
    bridge: CanBridge, sim: BodyControllerSim, sniffer: can.BusABC, frame_id: int, data: bytes
) -> None:
    before = bridge.state()
    sniffer.send(can.Message(arbitration_id=frame_id, is_extended_id=False, data=data))
    deadline = time.monotonic() + 2
    while sim.rejected < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sim.rejected == 1
    time.sleep(0.2)  # a few status periods: the controller must still be talking
    assert sim.health() == ()
    assert bridge.state()["Vehicle.Cabin.Infotainment.Media.Source"] == before[
        "Vehicle.Cabin.Infotainment.Media.Source"
    ]
    assert bridge.state()["Vehicle.Cabin.Door.Row1.DriverSide.Window.Position"] == 0
    # and it still carries out a good command
    result = bridge.actuate({"Vehicle.Cabin.Infotainment.Media.Source": "usb"})
    assert result.ok


def test_simulator_refuses_a_real_bus_unless_asked_for_a_bench(caplog: pytest.LogCaptureFixture) -> None:
    real = BridgeConfig(interface="socketcan", channel="can0")
    with pytest.raises(BridgeConfigError, match="only on the virtual interface"):
        BodyControllerSim(real)
    bench = BodyControllerSim(real, bench=True)  # built, not started: no socketcan needed here
    assert bench.bench


def test_simulator_on_a_bench_bus_warns_loudly(
    config: BridgeConfig, caplog: pytest.LogCaptureFixture
) -> None:
    import dataclasses

    vcan = dataclasses.replace(config, interface="socketcan", channel="vcan-bench")
    virtual_bus = can.Bus(interface="virtual", channel=config.channel)
    with BodyControllerSim(vcan, bench=True, bus=virtual_bus, **FAST):  # type: ignore[arg-type]
        pass
    assert any(
        r.levelname == "WARNING" and "SIMULATED BODY CONTROLLER ON socketcan:vcan-bench" in r.getMessage()
        for r in caplog.records
    )


LOW_BEAM = "Vehicle.Body.Lights.Beam.Low.IsOn"


class _OneBadRead(VirtualBus):  # type: ignore[misc]
    """A virtual bus whose first receive fails, as a flaky adapter's does."""

    failed = False

    def _recv_internal(self, timeout: float | None) -> tuple[can.Message | None, bool]:
        if not self.failed:
            self.failed = True
            raise can.CanOperationError("one bad read")
        return super()._recv_internal(timeout)  # type: ignore[no-any-return]


def test_the_simulator_keeps_listening_after_a_receive_error(
    config: BridgeConfig, caplog: pytest.LogCaptureFixture
) -> None:
    # python-can's Notifier stops its thread on an error no listener handles: the simulated car went
    # deaf after one bad read and every later command timed out
    bus = _OneBadRead(channel=config.channel)
    with BodyControllerSim(config, bus=bus, **FAST), CanBridge(config) as bridge:  # type: ignore[arg-type]
        assert bridge.wait_ready(2.0)
        assert LOW_BEAM in bridge.writable()
        time.sleep(0.3)  # past the failed read and its pause
        assert bus.failed
        result = bridge.actuate({"Vehicle.Body.Lights.Beam.Low.IsOn": 1 - bool(bridge.value(LOW_BEAM))})
        assert result.ok, result
    assert any("CAN receive failed" in r.getMessage() for r in caplog.records)
