"""The Honda mapping (mappings/honda.yaml) on a fixture restating opendbc's Honda CR-V 2016 facts.

``HondaBody`` is the test's boundary: it sends the status frames a Honda would, each with its
rolling COUNTER and honda CHECKSUM, and turns the beams on when a switch frame it can verify
asks for them.  The bridge must seal what it sends, and ignore received frames whose seal fails.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import can
import cantools.database
import pytest

from firmware_bridge import BridgeConfig, CanBridge
from firmware_bridge.bus import load_dbc
from firmware_bridge.cars import find_car, support_table
from firmware_bridge.checksums import CHECKSUMS, ChecksumInput, FrameProtection, raw_values
from firmware_bridge.errors import CarCannotError
from firmware_bridge.gpio import GPIO_OUTPUTS
from firmware_bridge.mapping import check_mapping, load_allowlist, load_mapping

from .conftest import vehicle_signals

DBC = Path(__file__).resolve().parents[1] / "data" / "honda_crv_touring_2016_fixture.dbc"
HONDA = find_car("honda")
LOW = "Vehicle.Body.Lights.Beam.Low.IsOn"
HIGH = "Vehicle.Body.Lights.Beam.High.IsOn"
TRUNK = "Vehicle.Body.Trunk.Rear.IsOpen"
GEAR = "Vehicle.Powertrain.Transmission.SelectedGear"
WIPERS = "Vehicle.Body.Windshield.Front.Wiping.Mode"


def seal(
    message: cantools.database.can.Message, values: dict[str, Any], counter: int, wrong: bool = False
) -> bytes:
    """A frame as a Honda ECU sends it: COUNTER, then opendbc's honda checksum in the last nibble.

    Encoded without strict: opendbc gives GEARBOX_AUTO's 4-bit CHECKSUM the range [0|3].
    """
    full = {s.name: 0 for s in message.signals} | values | {"COUNTER": counter % 4, "CHECKSUM": 0}
    data = bytes(message.encode(full, strict=False))
    at = len(data) - 1
    checksum = CHECKSUMS["honda"].compute(ChecksumInput(message.frame_id, data, at, counter % 4, ()))
    full["CHECKSUM"] = checksum ^ 0x5 if wrong else checksum
    return bytes(message.encode(full, strict=False))


class HondaBody(can.Listener):
    """The car's side: status frames every 20 ms (``cyclic``) or one at a time (``send``)."""

    def __init__(self, channel: str, cyclic: bool) -> None:
        self.db = load_dbc(DBC)
        self.low = self.high = 0
        self.trunk = 0
        self.received: list[can.Message] = []
        self.rejected = 0
        self._counters: dict[str, int] = {}
        self.bus = can.Bus(interface="virtual", channel=channel)
        self.notifier = can.Notifier(self.bus, [self])
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True) if cyclic else None
        if self.thread is not None:
            self.thread.start()

    def on_message_received(self, msg: can.Message) -> None:
        names = {0x1A6: "SCM_BUTTONS", 0x374: "STALK_STATUS"}
        if msg.arbitration_id not in names:
            return
        message = self.db.get_message_by_name(names[msg.arbitration_id])
        protection = FrameProtection(
            message,
            CHECKSUMS["honda"],
            message.get_signal_by_name("CHECKSUM"),
            message.get_signal_by_name("COUNTER"),
        )
        self.received.append(msg)
        if protection.verify(bytes(msg.data)) is None:
            self.rejected += 1  # a body controller ignores it
            return
        raw = raw_values(message, bytes(msg.data))
        if message.name == "SCM_BUTTONS":
            self.low = int(raw["LIGHTS_SETTING"] >= 2)  # 2 "low_beam", 3 "high_beam"
        else:
            self.high = raw["HIGH_BEAM_HOLD"]

    def frames(self) -> list[tuple[str, dict[str, Any]]]:
        return [
            ("STALK_STATUS_2", {"LOW_BEAMS": self.low, "HIGH_BEAMS": self.high, "WIPERS": "Low"}),
            ("DOORS_STATUS", {"TRUNK_OPEN": self.trunk}),
            ("CAR_SPEED", {"CAR_SPEED": 0}),
            ("GEARBOX_AUTO", {"GEAR_SHIFTER": "P"}),
        ]

    def send(
        self, name: str, values: dict[str, Any], counter: int | None = None, wrong: bool = False
    ) -> None:
        message = self.db.get_message_by_name(name)
        if counter is None:
            counter = self._counters.get(name, -1) + 1
        self._counters[name] = counter
        data = seal(message, values, counter, wrong)
        self.bus.send(can.Message(arbitration_id=message.frame_id, is_extended_id=False, data=data))

    def _run(self) -> None:
        while not self.stopping.wait(0.02):
            for name, values in self.frames():
                self.send(name, values)
            # the column switch module's own frame: the bridge must keep what it does not target
            self.send("SCM_BUTTONS", {"MAIN_ON": 1, "LIGHTS_SETTING": "no_lights"})

    def close(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join()
        self.notifier.stop()
        self.bus.shutdown()


def _config(channel: str) -> BridgeConfig:
    return BridgeConfig(
        channel=channel, dbc_path=DBC, mapping_path=HONDA.mapping_path, allowlist_path=HONDA.allowlist_path
    )


@pytest.fixture
def body(channel: str) -> Iterator[HondaBody]:
    b = HondaBody(channel, cyclic=True)
    yield b
    b.close()


@pytest.fixture
def honda(channel: str, body: HondaBody) -> Iterator[CanBridge]:
    with CanBridge(_config(channel)) as bridge:
        assert bridge.wait_ready(2.0)
        yield bridge


def _until(check: Callable[[], bool], timeout_s: float = 2.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.005)
    return check()


def test_honda_mapping_checks_clean_and_says_what_it_can_do() -> None:
    mapping, allowlist = load_mapping(HONDA.mapping_path), load_allowlist(HONDA.allowlist_path)
    db = load_dbc(DBC)
    protections = check_mapping(mapping, allowlist, db, DBC, GPIO_OUTPUTS)
    assert {name for name, p in protections.items() if p.algorithm is not None} == {
        "SCM_BUTTONS", "STALK_STATUS", "STALK_STATUS_2", "DOORS_STATUS", "CAR_SPEED", "GEARBOX_AUTO",
    }  # fmt: skip
    wanted = {name: bool(spec.get("writable")) for name, spec in vehicle_signals().items()}
    rows = {r.signal: r for r in support_table(mapping, allowlist, db, wanted)}
    assert rows[LOW].verdict == rows[HIGH].verdict == "actuate"
    assert "every 40 ms checksum honda" in rows[LOW].why
    assert rows[TRUNK].verdict == rows[WIPERS].verdict == "report only"
    assert rows["Vehicle.Cabin.Door.Row1.DriverSide.IsLocked"].verdict == "not possible"
    assert HONDA.dbc_name == "honda_crv_touring_2016_can_generated.dbc" and len(HONDA.dbc_sha256) == 64


def test_status_reads_through_the_value_tables(honda: CanBridge) -> None:
    state = honda.state()
    assert state[GEAR] == "park"
    assert state[WIPERS] == "low"
    assert state[TRUNK] == 0 and state[LOW] == 0


def test_low_beams_go_on_through_the_cyclic_switch_frame_each_one_sealed(
    honda: CanBridge, body: HondaBody
) -> None:
    result = honda.actuate({LOW: 1})
    assert result.ok, result
    tx = [f for f in result.frames if f.direction == "tx"]
    assert len(tx) >= 1 and {f.id for f in tx} == {0x1A6}
    assert {f.signals["LIGHTS_SETTING"] for f in tx} == {"low_beam"}
    assert {f.signals["MAIN_ON"] for f in tx} == {1}, "the switch module's other signals are kept"
    assert [f.signals["COUNTER"] for f in tx] == [i % 4 for i in range(len(tx))]
    assert body.rejected == 0 and len(body.received) >= len(tx)
    assert honda.state()[LOW] == 1


def test_high_beams_use_the_stalk_frame(honda: CanBridge, body: HondaBody) -> None:
    assert honda.actuate({HIGH: 1}).ok
    assert body.high == 1 and body.rejected == 0
    assert {m.arbitration_id for m in body.received} == {0x374}


def test_status_only_functions_send_nothing(honda: CanBridge, body: HondaBody) -> None:
    with pytest.raises(CarCannotError, match="no tailgate request"):
        honda.actuate({TRUNK: 1})
    assert body.received == []


def test_forged_status_frames_are_ignored_and_counted(channel: str) -> None:
    body = HondaBody(channel, cyclic=False)
    try:
        with CanBridge(_config(channel)) as bridge:
            for name, values in body.frames():
                body.send(name, values)  # counter 0 of each
            assert bridge.wait_ready(2.0)
            assert bridge.state()[TRUNK] == 0

            body.send("DOORS_STATUS", {"TRUNK_OPEN": 1}, counter=1, wrong=True)
            assert _until(lambda: bridge.counts["bad_checksum"] == 1)
            body.send("DOORS_STATUS", {"TRUNK_OPEN": 1}, counter=0)  # a replay of the last counter
            assert _until(lambda: bridge.counts["stale_counter"] == 1)
            body.send("DOORS_STATUS", {"TRUNK_OPEN": 1}, counter=3)  # behind 0: an older frame
            assert _until(lambda: bridge.counts["stale_counter"] == 2)
            assert bridge.state()[TRUNK] == 0, "a frame whose seal failed moved the state"

            body.send("DOORS_STATUS", {"TRUNK_OPEN": 1}, counter=1)
            assert _until(lambda: bridge.state().get(TRUNK) == 1)
            assert bridge.counts["bad_checksum"] == 1 and bridge.counts["stale_counter"] == 2
    finally:
        body.close()


def test_a_seal_range_narrower_than_its_bits_does_not_drop_good_frames(channel: str) -> None:
    """opendbc gives GEARBOX_AUTO's 4-bit CHECKSUM [0|3]: a right checksum of 4..15 is still right."""
    body = HondaBody(channel, cyclic=False)
    gearbox = body.db.get_message_by_name("GEARBOX_AUTO")
    counter = next(c for c in range(4) if seal(gearbox, {"GEAR_SHIFTER": "R"}, c)[-1] & 0xF > 3)
    try:
        with CanBridge(_config(channel)) as bridge:
            for name, values in body.frames():
                body.send(name, values, counter=(counter - 1) % 4)
            assert bridge.wait_ready(2.0)
            body.send("GEARBOX_AUTO", {"GEAR_SHIFTER": "R"}, counter=counter)
            assert _until(lambda: bridge.state().get(GEAR) == "reverse")
            assert bridge.counts["out_of_range"] == 0
    finally:
        body.close()
