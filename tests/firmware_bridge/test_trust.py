"""What the bridge believes of received frames: DBC ranges, freshness, plausibility, its own health.

A second node on the real virtual bus plays the attacker or the garbled wire.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import can
import pytest
from can.interfaces.virtual import VirtualBus

from firmware_bridge import BodyControllerSim, BridgeConfig, CanBridge
from tests.firmware_bridge.conftest import FAST

SPEED = "Vehicle.Speed"
AC = "Vehicle.Cabin.HVAC.IsAirConditioningActive"
MOTION_ID = 0x100  # VEHICLE_MOTION: speed 0.01 km/h per bit in bytes 0-1, gear in byte 2


def _motion(speed_kmh: float, gear: int = 3) -> can.Message:
    raw = round(speed_kmh * 100)
    data = [raw & 0xFF, raw >> 8, gear, 0, 0, 0, 0, 0]
    return can.Message(arbitration_id=MOTION_ID, is_extended_id=False, data=data)


def _wait(predicate: object, timeout_s: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def node(channel: str) -> Iterator[can.BusABC]:
    bus = can.Bus(interface="virtual", channel=channel)
    yield bus
    bus.shutdown()


@pytest.fixture
def driving(bridge: CanBridge, sim: BodyControllerSim) -> CanBridge:
    sim.set_drive(50.0, "drive")
    assert _wait(lambda: bridge.state().get(SPEED) == 50.0), "the bridge never believed 50 km/h"
    return bridge


def test_forged_zero_speed_frames_never_reach_the_state(driving: CanBridge, node: can.BusABC) -> None:
    # the review's attack: speed 0 at 50 frames/s while the car's own frames say 50 km/h
    seen: list[object] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.append(driving.state().get(SPEED))
            time.sleep(0.003)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for _ in range(50):
            node.send(_motion(0.0))
            time.sleep(0.02)
    finally:
        stop.set()
        watcher.join()
    assert 0 not in seen and 0.0 not in seen
    assert None in seen  # contradicted: no speed at all, which the guards read as moving
    assert driving.counts["implausible"] >= 2


def test_out_of_range_speed_is_dropped_whole(driving: CanBridge, node: can.BusABC) -> None:
    node.send(_motion(410.0))  # 0xA028: the garbage frame the review decoded as 410 km/h
    assert _wait(lambda: driving.counts["out_of_range"] >= 1)
    assert driving.reported()[SPEED].value != 410.0
    assert SPEED not in driving.state()  # the message is not believed for a while
    assert _wait(lambda: driving.state().get(SPEED) == 50.0)


def test_status_value_outside_its_choices_is_dropped(bridge: CanBridge, node: can.BusABC) -> None:
    before = bridge.reported()["Vehicle.Cabin.Infotainment.Media.Source"].value
    # MEDIA_STATUS with Source = 3, which the DBC does not define
    node.send(can.Message(arbitration_id=0x520, is_extended_id=False, data=[10, 3, 1, 0, 0x44, 0x74, 1, 0]))
    assert _wait(lambda: bridge.counts["out_of_range"] >= 1)
    assert bridge.reported()["Vehicle.Cabin.Infotainment.Media.Source"].value == before


def test_plausible_change_is_believed(driving: CanBridge, node: can.BusABC) -> None:
    implausible = driving.counts["implausible"]
    node.send(_motion(50.0))  # the same speed again from another node: nothing to doubt
    time.sleep(0.2)
    assert driving.counts["implausible"] == implausible
    assert driving.state().get(SPEED) == 50.0


def test_stale_speed_leaves_the_state_but_keeps_its_age(config: BridgeConfig, node: can.BusABC) -> None:
    with CanBridge(config) as bridge:
        node.send(_motion(0.0, gear=0))
        assert _wait(lambda: bridge.state().get(SPEED) == 0.0)
        # nobody speaks again: after max_age_s (0.5 s for speed) an old "0 km/h" is no speed at all
        assert _wait(lambda: SPEED not in bridge.state(), timeout_s=2.0)
        reading = bridge.reported()[SPEED]
        assert reading.value == 0.0 and not reading.current and reading.age_s >= 0.5


def test_every_value_carries_its_age_and_goes_stale_when_the_car_falls_silent(
    config: BridgeConfig,
) -> None:
    with BodyControllerSim(config, **FAST) as sim, CanBridge(config) as bridge:  # type: ignore[arg-type]
        assert bridge.wait_ready(2.0)
        assert _wait(lambda: AC in bridge.state())
        assert bridge.reported()[AC].age_s < 0.5
        sim.stop()
        # mapping default max_age_s: 1 s without a status frame
        assert _wait(lambda: AC not in bridge.state(), timeout_s=3.0)
        reading = bridge.reported()[AC]
        assert reading.value == 0 and not reading.current and reading.age_s > 1.0
        time.sleep(0.2)
        assert bridge.reported()[AC].age_s > reading.age_s


class _DyingBus(VirtualBus):
    """A virtual bus whose receive dies the way a driver bug or a pulled adapter can."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.die = threading.Event()

    def _recv_internal(self, timeout: float | None) -> tuple[can.Message | None, bool]:
        if self.die.is_set():
            raise SystemExit("receive thread killed")
        return super()._recv_internal(timeout)  # type: ignore[no-any-return]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_receive_thread_is_reported_once(
    config: BridgeConfig, sim: BodyControllerSim, caplog: pytest.LogCaptureFixture
) -> None:
    bus = _DyingBus(channel=config.channel, receive_own_messages=False)
    with CanBridge(config, bus=bus) as bridge:
        assert bridge.wait_ready(2.0)
        assert bridge.health() == ()
        bus.die.set()
        assert _wait(lambda: bridge.health() != ())
        assert "receive thread" in bridge.health()[0]
        bridge.health()
        assert sum("receive thread" in r.getMessage() for r in caplog.records) == 1
