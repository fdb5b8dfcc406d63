"""Real-car command styles on a real virtual bus: press, press_until, toggle, cyclic frames with
counter and CRC, multiplexed status, status-only functions.

The car is tests/data/byoc_car.dbc (made up, no third-party data).  ``BodyEcu`` is the test's
boundary: a few lines of controller that verify every command frame as a real ECU would
(checksum right, counter moved on), ignore and count the others, and report status.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import can
import pytest

from firmware_bridge import BridgeConfig, CanBridge, EncodeError, MappingError, NotAllowedError
from firmware_bridge.bus import load_dbc
from firmware_bridge.checksums import FrameProtection, raw_values
from firmware_bridge.errors import CarCannotError
from firmware_bridge.gpio import GPIO_OUTPUTS
from firmware_bridge.mapping import check_mapping, load_allowlist, load_mapping

DATA = Path(__file__).resolve().parents[1] / "data"
DBC = DATA / "byoc_car.dbc"
MAPPING = DATA / "byoc_car.yaml"
ALLOWLIST = DATA / "byoc_car_allowlist.yaml"
TEMP = "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature"
TRUNK = "Vehicle.Body.Trunk.Rear.IsOpen"
LOCK = "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked"
PASSENGER_LOCK = "Vehicle.Cabin.Door.Row1.PassengerSide.IsLocked"
WINDOW = "Vehicle.Cabin.Door.Row1.DriverSide.Window.Position"
SEAT = "Vehicle.Cabin.Seat.Row1.DriverSide.HeatingLevel"


def _protections() -> dict[str, FrameProtection]:
    return check_mapping(
        load_mapping(MAPPING), load_allowlist(ALLOWLIST), load_dbc(DBC), DBC, GPIO_OUTPUTS
    )


class BodyEcu(can.Listener):
    """The made-up car's body controller: acts only on frames that verify."""

    def __init__(self, channel: str) -> None:
        self.db = load_dbc(DBC)
        self.protection = _protections()["BODY_CMD"]
        self.cmd = self.db.get_message_by_name("BODY_CMD")
        self.switch = self.db.get_message_by_name("WINDOW_SWITCH")
        self.seat = self.db.get_message_by_name("SEAT_HEAT_CMD")
        self.status = self.db.get_message_by_name("BODY_STATUS")
        self.rejected = 0
        self.accepted = 0
        self.last_counter: int | None = None
        self.lock_button = 0
        self.liftgate_frames = 0
        self.state: dict[str, int | float] = {
            "latch": 0, "locked": 0, "passenger": 1, "window": 40.0, "temp": 20.0, "seat": 0,
        }  # fmt: skip
        self.window_switch = 0
        self.switch_seen = 0.0
        self.lock = threading.Lock()
        self.bus = can.Bus(interface="virtual", channel=channel)
        self.notifier = can.Notifier(self.bus, [self])
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def on_message_received(self, msg: can.Message) -> None:
        with self.lock:
            if msg.arbitration_id == self.cmd.frame_id and msg.is_extended_id:
                counter = self.protection.verify(bytes(msg.data))
                if counter is None or counter == self.last_counter:
                    self.rejected += 1
                    return
                self.accepted += 1
                self.last_counter = counter
                values = raw_values(self.cmd, bytes(msg.data))
                self.state["temp"] = values["CabinTempReq"] * 0.5 + 10
                if values["LockToggle"] and not self.lock_button:
                    self.state["locked"] = 1 - self.state["locked"]
                self.lock_button = values["LockToggle"]
                self.liftgate_frames = self.liftgate_frames + 1 if values["LiftgateReq"] else 0
                if self.liftgate_frames >= 3:
                    self.state["latch"] = 2
            elif msg.arbitration_id == self.seat.frame_id:
                values = raw_values(self.seat, bytes(msg.data))
                if values["SeatSel"] == 0:
                    self.state["seat"] = values["DriverHeatReq"]
            elif msg.arbitration_id == self.switch.frame_id:
                self.window_switch = raw_values(self.switch, bytes(msg.data))["DriverWindowSwitch"]
                self.switch_seen = time.monotonic()

    def _run(self) -> None:
        while not self.stopping.wait(0.02):
            with self.lock:
                # A switch frame must keep coming for the window to move (as a held button).
                if self.window_switch and time.monotonic() - self.switch_seen < 0.1:
                    step = 5.0 if self.window_switch == 2 else -5.0
                    self.state["window"] = min(100.0, max(0.0, self.state["window"] + step))
                st = self.state
                page0 = {"Page": 0, "LiftgateLatch": st["latch"], "DriverLocked": st["locked"],
                         "PassengerLocked": st["passenger"]}  # fmt: skip
                page1 = {"Page": 1, "DriverWindowPos": st["window"], "CabinTemp": st["temp"],
                         "SeatHeatDriver": st["seat"]}  # fmt: skip
            for values in (page0, page1):
                data = self.status.encode(values, strict=True)
                msg = can.Message(arbitration_id=self.status.frame_id, is_extended_id=True, data=data)
                self.bus.send(msg)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.notifier.stop()
        self.bus.shutdown()


@pytest.fixture
def ecu(channel: str) -> Iterator[BodyEcu]:
    ecu = BodyEcu(channel)
    yield ecu
    ecu.close()


@pytest.fixture
def car(channel: str, ecu: BodyEcu) -> Iterator[CanBridge]:
    config = BridgeConfig(channel=channel, dbc_path=DBC, mapping_path=MAPPING, allowlist_path=ALLOWLIST)
    with CanBridge(config) as bridge:
        assert bridge.wait_ready(2.0)
        yield bridge


def test_multiplexed_status_with_transforms_reads_as_vehicle_values(car: CanBridge) -> None:
    state = car.state()
    assert state[TRUNK] == 0  # LATCH_CLOSED through the map
    assert state[WINDOW] == 40.0  # page 1 of the multiplexed frame
    assert state[PASSENGER_LOCK] == 1


def test_cyclic_set_sends_29_bit_frames_with_moving_counter_and_valid_crc(
    car: CanBridge, ecu: BodyEcu
) -> None:
    result = car.actuate({TEMP: 23.5})
    assert result.ok, result
    tx = [f for f in result.frames if f.direction == "tx"]
    assert tx and all(f.message == "BODY_CMD" and f.id == 0x18FF4A21 for f in tx)
    counters = [int(f.signals["BodyCounter"]) for f in tx]
    assert all((b - a) % 16 == 1 for a, b in zip(counters, counters[1:], strict=False)), counters
    prot = _protections()["BODY_CMD"]
    assert all(prot.verify(f.data) is not None for f in tx)
    assert ecu.rejected == 0 and ecu.accepted >= 1
    assert car.value(TEMP) == 23.5
    # A bad CRC and a repeated counter are ignored and counted, as a real ECU does.
    before = ecu.accepted
    with can.Bus(interface="virtual", channel=car.config.channel) as bus:
        good = tx[-1].data
        for data in (bytes([good[0] ^ 1]) + good[1:], good):
            bus.send(can.Message(arbitration_id=0x18FF4A21, is_extended_id=True, data=data))
        time.sleep(0.1)
    assert ecu.rejected == 2 and ecu.accepted == before


def test_press_holds_the_request_then_releases_and_the_latch_confirms(car: CanBridge, ecu: BodyEcu) -> None:
    result = car.actuate({TRUNK: 1})
    assert result.ok, result
    tx = [f for f in result.frames if f.direction == "tx"]
    pressed = [f for f in tx if f.signals["LiftgateReq"] == 1]
    assert len(pressed) >= 3
    assert tx[-1].signals["LiftgateReq"] == 0, "a press ends with its release"
    assert car.value(TRUNK) == 1
    assert ecu.rejected == 0


def test_press_value_outside_its_map_is_refused_and_nothing_sent(car: CanBridge, ecu: BodyEcu) -> None:
    with pytest.raises(EncodeError, match="0 is not in the map"):
        car.actuate({TRUNK: 0})
    assert ecu.accepted == 0


def test_press_until_repeats_the_switch_until_the_window_reports_the_target(car: CanBridge) -> None:
    result = car.actuate({WINDOW: 80})
    assert result.ok, result
    tx = [f for f in result.frames if f.direction == "tx"]
    assert {f.signals["DriverWindowSwitch"] for f in tx[:-1]} == {"DOWN"}
    assert len(tx) > 3
    assert tx[-1].signals["DriverWindowSwitch"] == "IDLE"
    assert abs(float(car.value(WINDOW) or 0) - 80) <= 5
    up = car.actuate({WINDOW: 10})
    assert up.ok
    assert {f.signals["DriverWindowSwitch"] for f in up.frames if f.direction == "tx"} == {"UP", "IDLE"}


def test_toggle_presses_once_and_not_at_all_when_already_there(car: CanBridge, ecu: BodyEcu) -> None:
    result = car.actuate({LOCK: 1})
    assert result.ok, result
    assert ecu.state["locked"] == 1
    again = car.actuate({LOCK: 1})
    assert again.ok
    assert [f for f in again.frames if f.direction == "tx"] == [], "a second press would unlock"
    assert ecu.state["locked"] == 1


def test_multiplexed_command_frame_carries_only_its_selected_signals(car: CanBridge, ecu: BodyEcu) -> None:
    result = car.actuate({SEAT: 2})
    assert result.ok, result
    (frame,) = [f for f in result.frames if f.direction == "tx"]
    assert dict(frame.signals) == {"SeatSel": 0, "DriverHeatReq": 2}
    assert ecu.state["seat"] == 2


def test_status_only_function_says_this_car_cannot_and_sends_nothing(car: CanBridge, ecu: BodyEcu) -> None:
    with pytest.raises(CarCannotError, match="this car cannot do it") as caught:
        car.actuate({PASSENGER_LOCK: 0})
    assert caught.value.code == "car_cannot"
    assert isinstance(caught.value, NotAllowedError)
    assert PASSENGER_LOCK not in car.writable()
    assert [f for f in car.recent_frames() if f.direction == "tx"] == []


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = MAPPING.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "broken.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "line_of", "message"),
    [
        ("signal: CabinTempReq}", "signal: CabinTempRq}", "CabinTempRq", "'CabinTempRq' is not in message"),
        ("release: IDLE", "release: SIDEWAYS", "WINDOW_SWITCH", "release 'SIDEWAYS' does not fit"),
        ("{map: {1: 1}}", "{map: {1: 7}}", "signal: LiftgateReq", "transform output 7 does not fit"),
        ("algorithm: autosar_e2e_p2", "algorithm: crc42", "BODY_CMD:", "unknown checksum algorithm 'crc42'"),
        ("{map: {0: 1, 1: 1}}", "{math: \"__import__('os')\"}", "signal: LockToggle", "may be called"),
        ("style: press_until", "style: hold", "WINDOW_SWITCH", "style 'hold' is not one of"),
        ("LATCH_FAULT: 0", "LATCH_BROKEN: 0", "Trunk.Rear.IsOpen:", "'LATCH_BROKEN', which"),
    ],
)
def test_bad_mappings_are_refused_at_load_with_file_and_line(
    tmp_path: Path, old: str, new: str, line_of: str, message: str
) -> None:
    path = _broken(tmp_path, old, new)
    with pytest.raises(MappingError) as caught:
        check_mapping(load_mapping(path), load_allowlist(ALLOWLIST), load_dbc(DBC), DBC, GPIO_OUTPUTS)
    text = str(caught.value)
    assert message in text
    assert text.startswith(f"{path}:")
    line = int(text[len(str(path)) + 1 :].split(":")[0])
    # The error points at the entry that is wrong, not just the file.
    assert line == _line_of(path, line_of), text
