"""CanBridge against the simulated body controller on a real python-can virtual bus."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import can
import pytest

from firmware_bridge import (
    BodyControllerSim,
    BridgeConfig,
    BusOpenError,
    CanBridge,
    EncodeError,
    Frame,
    NotAllowedError,
    NotStartedError,
    SendError,
)
from firmware_bridge.config import DEFAULT_ALLOWLIST, DEFAULT_MAPPING
from firmware_bridge.mapping import load_mapping
from tests.firmware_bridge.conftest import received, vehicle_signals

WRITABLE = sorted(name for name, spec in vehicle_signals().items() if spec["writable"])
DRIVER_WINDOW = "Vehicle.Cabin.Door.Row1.DriverSide.Window.Position"
DRIVER_TEMP = "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature"
WIPERS = "Vehicle.Body.Windshield.Front.Wiping.Mode"
VOLUME = "Vehicle.Cabin.Infotainment.Media.Volume"
MUTED = "Vehicle.Cabin.Infotainment.Media.IsMuted"
BAND = "Vehicle.Cabin.Infotainment.Media.Radio.Band"
FREQUENCY = "Vehicle.Cabin.Infotainment.Media.Radio.Frequency"


def _other_value(spec: dict[str, Any], current: Any) -> Any:
    """A valid target that differs from ``current``, so the status frame must really change."""
    if spec["kind"] == "bool":
        return 1 - int(current)
    if spec["kind"] == "enum":
        return next(v for v in spec["values"] if v != current)
    return spec["max"] if current != spec["max"] else spec["min"]


@pytest.mark.parametrize("name", WRITABLE)
def test_actuation_round_trip_is_confirmed_by_a_decoded_status_frame(bridge: CanBridge, name: str) -> None:
    spec = vehicle_signals()[name]
    before = bridge.value(name)
    assert before is not None
    target = _other_value(spec, before)

    result = bridge.actuate({name: target})

    assert result.ok, result
    assert result.confirmed == {name: target}
    assert result.timed_out == ()
    assert bridge.value(name) == target
    m = bridge.mapping.signals[name]
    if m.gpio is not None:
        assert result.frames == ()
        return
    assert m.command is not None and m.status is not None
    tx = [f for f in result.frames if f.direction == "tx"]
    rx = [f for f in result.frames if f.direction == "rx"]
    assert [f.message for f in tx] == [m.command.message]
    assert tx[0].signals[m.command.signal] == target
    assert rx and rx[-1].message == m.status.message and rx[-1].signals[m.status.signal] == target
    if "Window" in name or "Sunroof" in name:
        # 0 -> 100 % takes the simulated travel time (0.3 s windows, 0.5 s sunroof).
        assert result.elapsed_s >= 0.25


def test_window_reports_intermediate_positions_while_travelling(bridge: CanBridge) -> None:
    seen: list[int] = []
    bridge.subscribe(
        lambda f: seen.append(int(f.signals["WinPosDriver"])) if f.message == "WINDOW_STATUS" else None
    )
    result = bridge.actuate({DRIVER_WINDOW: 100})
    assert result.ok
    assert any(0 < pos < 100 for pos in seen), seen


def test_targets_sharing_a_frame_go_out_as_one_frame(bridge: CanBridge) -> None:
    result = bridge.actuate({BAND: "am", FREQUENCY: 1008})
    assert result.ok, result
    tx = [f for f in result.frames if f.direction == "tx"]
    assert [(f.message, dict(f.signals)) for f in tx] == [
        ("RADIO_CMD", {"BandReq": "am", "FreqReqKHz": 1008})
    ]


def test_untargeted_signals_of_a_frame_keep_the_reported_value(bridge: CanBridge) -> None:
    assert bridge.actuate({MUTED: 1}).ok
    result = bridge.actuate({VOLUME: 20})
    assert result.ok
    tx = [f for f in result.frames if f.direction == "tx"]
    assert dict(tx[0].signals) == {"VolumeReq": 20, "MuteReq": 1}
    assert bridge.value(MUTED) == 1


def test_temperature_off_the_half_degree_grid_confirms_within_half_a_step(bridge: CanBridge) -> None:
    result = bridge.actuate({DRIVER_TEMP: 22.3})
    assert result.ok
    assert result.confirmed == {DRIVER_TEMP: 22.5}


def test_strict_encode_refuses_out_of_range_and_nothing_is_sent(
    bridge: CanBridge, sniffer: can.BusABC
) -> None:
    with pytest.raises(EncodeError) as caught:
        bridge.actuate({DRIVER_WINDOW: 50, DRIVER_TEMP: 30})
    text = str(caught.value)
    assert DRIVER_TEMP in text and "30" in text and "16" in text and "28" in text
    assert isinstance(caught.value, ValueError)
    assert received(sniffer) == []
    assert [f for f in bridge.recent_frames() if f.direction == "tx"] == []
    assert bridge.value(DRIVER_WINDOW) == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (WIPERS, "turbo"),
        (WIPERS, 2),
        (VOLUME, "loud"),
        (VOLUME, 31),
        (VOLUME, float("nan")),
        (FREQUENCY, 108100),
        ("Vehicle.Cabin.Light.IsDomeOn", 2),
    ],
)
def test_bad_values_are_refused_before_sending(
    bridge: CanBridge, sniffer: can.BusABC, name: str, value: object
) -> None:
    with pytest.raises(EncodeError, match=name.replace(".", r"\.")):
        bridge.actuate({name: value})  # type: ignore[dict-item]
    assert received(sniffer) == []


@pytest.mark.parametrize(
    "name", ["Vehicle.Speed", "Vehicle.Powertrain.Transmission.SelectedGear", "Vehicle.Cabin.Warp.Drive"]
)
def test_read_only_or_unknown_signal_is_refused_and_nothing_is_sent(
    bridge: CanBridge, sniffer: can.BusABC, name: str
) -> None:
    with pytest.raises(NotAllowedError, match=name.replace(".", r"\.")):
        bridge.actuate({DRIVER_WINDOW: 40, name: 1})
    assert received(sniffer) == []


def _allowlist_without(tmp_path: Path, line: str, replacement: str = "") -> Path:
    text = DEFAULT_ALLOWLIST.read_text(encoding="utf-8")
    assert line in text
    path = tmp_path / "allowlist.yaml"
    path.write_text(text.replace(line, replacement), encoding="utf-8")
    return path


def test_message_not_on_the_allowlist_is_refused_and_nothing_is_sent(
    tmp_path: Path, channel: str, sim: BodyControllerSim, sniffer: can.BusABC
) -> None:
    path = _allowlist_without(tmp_path, "  WIPER_CMD: [WiperModeReq]\n")
    with CanBridge(BridgeConfig(channel=channel, allowlist_path=path)) as bridge:
        with pytest.raises(NotAllowedError, match=r"WIPER_CMD is not on the allowlist"):
            bridge.actuate({WIPERS: "high", DRIVER_WINDOW: 10})
        assert WIPERS not in bridge.writable()
    assert received(sniffer) == []


def test_signal_not_on_the_allowlist_is_refused(
    tmp_path: Path, channel: str, sim: BodyControllerSim, sniffer: can.BusABC
) -> None:
    path = _allowlist_without(tmp_path, "[LightSelect, LightReq]", "[LightReq]")
    with CanBridge(BridgeConfig(channel=channel, allowlist_path=path)) as bridge:
        with pytest.raises(NotAllowedError, match="LightSelect"):
            bridge.actuate({"Vehicle.Body.Lights.Beam.Low.IsOn": 1})
    assert received(sniffer) == []


def test_ignored_command_times_out_and_state_is_unchanged(bridge: CanBridge, sim: BodyControllerSim) -> None:
    sim.ignore("WINDOW_CMD")
    result = bridge.actuate({DRIVER_WINDOW: 50, DRIVER_TEMP: 24}, timeout_s=0.3)
    assert not result.ok
    assert result.timed_out == (DRIVER_WINDOW,)
    assert result.confirmed == {DRIVER_TEMP: 24}
    assert 0.3 <= result.elapsed_s < 1.5
    assert [f.message for f in result.frames if f.direction == "tx"] == ["WINDOW_CMD", "HVAC_TEMP_CMD"]
    time.sleep(0.1)
    assert bridge.value(DRIVER_WINDOW) == 0


def test_jammed_actuator_never_reaches_target(bridge: CanBridge, sim: BodyControllerSim) -> None:
    sim.jam("TrunkOpen")
    result = bridge.actuate({"Vehicle.Body.Trunk.Rear.IsOpen": 1}, timeout_s=0.4)
    assert result.timed_out == ("Vehicle.Body.Trunk.Rear.IsOpen",)
    assert bridge.value("Vehicle.Body.Trunk.Rear.IsOpen") == 0


def test_mapping_confirm_timeout_is_used_without_an_override(
    tmp_path: Path, channel: str, sim: BodyControllerSim
) -> None:
    text = DEFAULT_MAPPING.read_text(encoding="utf-8").replace(
        "confirm_timeout_s: 1.5", "confirm_timeout_s: 0.2"
    )
    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_mapping(path).signals[WIPERS].confirm_timeout_s == 0.2
    sim.ignore("WIPER_CMD")
    with CanBridge(BridgeConfig(channel=channel, mapping_path=path)) as bridge:
        result = bridge.actuate({WIPERS: "auto"})
    assert result.timed_out == (WIPERS,)
    assert 0.2 <= result.elapsed_s < 1.0


class DeadTransmitterBus(can.BusABC):
    """A bus that receives nothing and fails every send, like a controller in bus-off."""

    def __init__(self) -> None:
        super().__init__(channel="dead")

    def send(self, msg: can.Message, timeout: float | None = None) -> None:
        raise can.CanOperationError("transmit failed: controller is bus-off")

    def _recv_internal(self, timeout: float | None) -> tuple[can.Message | None, bool]:
        time.sleep(timeout or 0)
        return None, False


def test_bus_that_fails_to_send_gives_send_error(config: BridgeConfig) -> None:
    with CanBridge(config, bus=DeadTransmitterBus()) as bridge:
        with pytest.raises(SendError, match="WINDOW_CMD.*bus-off") as caught:
            bridge.actuate({DRIVER_WINDOW: 30})
    assert isinstance(caught.value, OSError)
    assert isinstance(caught.value.__cause__, can.CanError)


def test_closed_bridge_refuses_to_actuate(config: BridgeConfig) -> None:
    bridge = CanBridge(config).start()
    bridge.close()
    with pytest.raises(NotStartedError):
        bridge.actuate({DRIVER_WINDOW: 30})


def test_bus_that_cannot_open_gives_bus_open_error() -> None:
    with pytest.raises(BusOpenError, match="nosuchcan0"):
        CanBridge(BridgeConfig(interface="socketcan", channel="nosuchcan0")).start()


def test_wait_ready_is_false_without_a_body_controller(config: BridgeConfig) -> None:
    with CanBridge(config) as bridge:
        assert not bridge.wait_ready(0.2)
        assert bridge.value(DRIVER_WINDOW) is None
        assert "Vehicle.Cabin.Light.IsDomeOn" in bridge.state()  # the GPIO pin reads back at once


def test_subscribers_see_tx_and_rx_frames_until_they_unsubscribe(bridge: CanBridge) -> None:
    frames: list[Frame] = []
    unsubscribe = bridge.subscribe(frames.append)
    bridge.actuate({WIPERS: "low"})
    assert any(f.direction == "tx" and f.message == "WIPER_CMD" for f in frames)
    assert any(f.direction == "rx" and f.message == "LIGHT_STATUS" for f in frames)
    unsubscribe()
    count = len(frames)
    time.sleep(0.15)
    assert len(frames) == count


def test_recent_frames_log_is_bounded(channel: str, sim: BodyControllerSim) -> None:
    with CanBridge(BridgeConfig(channel=channel, frame_log_size=5)) as bridge:
        bridge.wait_ready(2.0)
        time.sleep(0.1)
        frames = bridge.recent_frames()
    assert len(frames) == 5
    assert frames == sorted(frames, key=lambda f: f.timestamp)


def test_frame_to_json_uses_hex_id_and_data() -> None:
    frame = Frame(
        1.5, "tx", 0x310, bytes([0x00, 0x2D]), "HVAC_TEMP_CMD", {"Zone": "driver", "TempTarget": 22.5}
    )
    assert frame.to_json() == {
        "timestamp": 1.5,
        "direction": "tx",
        "id": "0x310",
        "data": "002d",
        "message": "HVAC_TEMP_CMD",
        "signals": {"Zone": "driver", "TempTarget": 22.5},
    }


def test_restarted_bridge_forgets_what_it_heard_before(config: BridgeConfig, sim: BodyControllerSim) -> None:
    bridge = CanBridge(config).start()
    try:
        assert bridge.wait_ready(2.0)
        sim.stop()
        bridge.close()
        bridge.start()
        assert bridge.value(DRIVER_WINDOW) is None
        assert not bridge.wait_ready(0.15)
    finally:
        bridge.close()


@pytest.mark.parametrize("timeout_s", [-1.0, float("nan"), float("inf")])
def test_bad_timeout_is_refused(bridge: CanBridge, sniffer: can.BusABC, timeout_s: float) -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        bridge.actuate({DRIVER_WINDOW: 10}, timeout_s=timeout_s)
    assert received(sniffer) == []
