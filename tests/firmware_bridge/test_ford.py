"""The Ford mapping (mappings/ford.yaml) on a fixture restating opendbc's ford_lincoln_base_pt.dbc facts.

``Gateway`` is the test's boundary: it sends the gateway's Locking_Systems_2_FD1 and the body's
BodyInfo_3_FD1 as a Ford would, and moves the liftgate on each Power_Liftgate_Rqst pulse.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import can
import pytest

from firmware_bridge import BridgeConfig, CanBridge, EncodeError
from firmware_bridge.bus import load_dbc
from firmware_bridge.cars import find_car
from firmware_bridge.checksums import raw_values
from firmware_bridge.errors import CarCannotError
from firmware_bridge.gpio import GPIO_OUTPUTS
from firmware_bridge.mapping import check_mapping, load_allowlist, load_mapping

DBC = Path(__file__).resolve().parents[1] / "data" / "ford_lincoln_base_pt_fixture.dbc"
FORD = find_car("ford")
TRUNK = "Vehicle.Body.Trunk.Rear.IsOpen"
LOCK = "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked"
GEAR = "Vehicle.Powertrain.Transmission.SelectedGear"


class Gateway(can.Listener):
    def __init__(self, channel: str) -> None:
        db = load_dbc(DBC)
        self.locking = db.get_message_by_name("Locking_Systems_2_FD1")
        self.body = db.get_message_by_name("BodyInfo_3_FD1")
        self.gear = db.get_message_by_name("TransGearData")
        self.brakes = db.get_message_by_name("BrakeSysFeatures")
        self.ajar = 0
        self.pressed = False
        self.pulses = 0
        self.bus = can.Bus(interface="virtual", channel=channel)
        self.notifier = can.Notifier(self.bus, [self])
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def on_message_received(self, msg: can.Message) -> None:
        if msg.arbitration_id == self.locking.frame_id:
            pressed = raw_values(self.locking, bytes(msg.data))["Power_Liftgate_Rqst"] == 1  # "Active"
            if pressed and not self.pressed:
                self.pulses += 1
                self.ajar = 1 - self.ajar
            self.pressed = pressed

    def _locking_values(self) -> dict[str, int | str]:
        values: dict[str, int | str] = {s.name: 0 for s in self.locking.signals}
        values.update(Veh_Lock_Status="LOCK_ALL", RollCodeUnlock=1234, Keyfob_Pad_Msg_Count=42)
        return values

    def _run(self) -> None:
        while not self.stopping.wait(0.02):
            body = {s.name: 0 for s in self.body.signals} | {"DrStatTgate_B_Actl": self.ajar}
            for message, values in (
                (self.locking, self._locking_values()),
                (self.body, body),
                (self.gear, {"GearLvrPos_D_Actl": "Park"}),
                (self.brakes, {"Veh_V_ActlBrk": 0}),
            ):
                data = message.encode(values, strict=True)
                self.bus.send(can.Message(arbitration_id=message.frame_id, is_extended_id=False, data=data))

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.notifier.stop()
        self.bus.shutdown()


def _config(channel: str) -> BridgeConfig:
    return BridgeConfig(
        channel=channel, dbc_path=DBC, mapping_path=FORD.mapping_path, allowlist_path=FORD.allowlist_path
    )


@pytest.fixture
def gateway(channel: str) -> Iterator[Gateway]:
    gw = Gateway(channel)
    yield gw
    gw.close()


@pytest.fixture
def ford(channel: str, gateway: Gateway) -> Iterator[CanBridge]:
    with CanBridge(_config(channel)) as bridge:
        assert bridge.wait_ready(2.0)
        yield bridge


def test_ford_mapping_checks_clean_against_the_fixture_facts() -> None:
    check_mapping(
        load_mapping(FORD.mapping_path), load_allowlist(FORD.allowlist_path), load_dbc(DBC), DBC, GPIO_OUTPUTS
    )
    assert FORD.dbc_name == "ford_lincoln_base_pt.dbc" and len(FORD.dbc_sha256) == 64


def test_status_reads_through_the_value_tables(ford: CanBridge) -> None:
    state = ford.state()
    assert state[LOCK] == 1  # LOCK_ALL
    assert state[GEAR] == "park"
    assert state[TRUNK] == 0


def test_liftgate_pulse_rewrites_the_gateway_frame_changing_only_the_request(
    ford: CanBridge, gateway: Gateway
) -> None:
    result = ford.actuate({TRUNK: 1})
    assert result.ok, result
    tx = [f for f in result.frames if f.direction == "tx"]
    assert [f.signals["Power_Liftgate_Rqst"] for f in tx][-1] == "Null"
    assert {f.signals["Power_Liftgate_Rqst"] for f in tx[:-1]} == {"Active"}
    for frame in tx:
        assert frame.id == 0x331
        assert frame.signals["Veh_Lock_Status"] == "LOCK_ALL"
        assert frame.signals["RollCodeUnlock"] == 1234
    assert gateway.pulses == 1
    again = ford.actuate({TRUNK: 1})
    assert again.ok and [f for f in again.frames if f.direction == "tx"] == []
    assert gateway.pulses == 1, "a second pulse would close it again"


def test_locks_are_status_only_on_this_car(ford: CanBridge, gateway: Gateway) -> None:
    with pytest.raises(CarCannotError, match="no lock request"):
        ford.actuate({LOCK: 0})
    assert gateway.pulses == 0


def test_gateway_frame_is_not_made_up_before_it_was_heard(channel: str) -> None:
    with CanBridge(_config(channel)) as bridge, pytest.raises(EncodeError, match="has not been received yet"):
        bridge.actuate({TRUNK: 1})
