"""Bus faults: an adapter unplugged, an interface down, bus-off; reported once, reconnected, sends refused."""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable, Iterator

import can
import pytest

from firmware_bridge import BodyControllerSim, BridgeConfig, CanBridge
from firmware_bridge.bus import CAN_ERR_BUSOFF, SupervisedBus
from firmware_bridge.errors import BusDownError, BusOpenError
from tests.firmware_bridge.conftest import received

FOG = "Vehicle.Body.Lights.Fog.Front.IsOn"


class Plug:
    """Whether the test's CAN adapter is plugged in; counts the opens and the failed receives."""

    def __init__(self) -> None:
        self.plugged = True
        self.link_up = True
        """False: the interface exists (opening works) but is down (every receive fails)."""
        self.opens = 0
        self.failed_recvs = 0
        self.inject: list[can.Message] = []
        """Frames this node's controller reports to it alone (an error frame), before the wire's."""
        self.off = False
        """The controller is bus-off: it hears nothing from the wire."""


class FlakyBus(can.BusABC):
    """A real virtual bus whose recv and send fail like socketcan's once its ``Plug`` is pulled."""

    def __init__(self, channel: str, plug: Plug) -> None:
        self.plug = plug
        self.inner = can.Bus(interface="virtual", channel=channel, receive_own_messages=False)
        super().__init__(channel=channel)

    def _check(self) -> None:
        if not (self.plug.plugged and self.plug.link_up):
            raise can.CanOperationError("Network is down", error_code=errno.ENETDOWN)

    def _recv_internal(self, timeout: float | None) -> tuple[can.Message | None, bool]:
        if not (self.plug.plugged and self.plug.link_up):
            self.plug.failed_recvs += 1
        self._check()
        if self.plug.inject:
            return self.plug.inject.pop(0), False
        if self.plug.off:
            time.sleep(timeout or 0.0)
            return None, False
        return self.inner.recv(timeout), False

    def send(self, msg: can.Message, timeout: float | None = None) -> None:
        self._check()
        self.inner.send(msg, timeout)

    def shutdown(self) -> None:
        self.inner.shutdown()
        super().shutdown()


def flaky_opener(channel: str, plug: Plug) -> Callable[[], can.BusABC]:
    def opener() -> can.BusABC:
        plug.opens += 1
        if not plug.plugged:
            raise BusOpenError(f"cannot open CAN bus socketcan:{channel}: No such device")
        return FlakyBus(channel, plug)

    return opener


def wait_until(check: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def plug() -> Plug:
    return Plug()


@pytest.fixture
def supervised(
    config: BridgeConfig, sim: BodyControllerSim, plug: Plug
) -> Iterator[tuple[CanBridge, SupervisedBus]]:
    bus = SupervisedBus(flaky_opener(config.channel, plug), f"test:{config.channel}", backoff_s=(0.05, 0.1))
    with CanBridge(config, bus=bus) as bridge:
        assert bridge.wait_ready(2.0)
        yield bridge, bus


def test_unplugged_adapter_is_reported_once_refused_then_reconnected(
    supervised: tuple[CanBridge, SupervisedBus],
    plug: Plug,
    sniffer: can.BusABC,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bridge, bus = supervised
    caplog.set_level(logging.DEBUG, logger="firmware_bridge")
    plug.plugged = False
    assert wait_until(lambda: not bus.health().up)
    time.sleep(1.0)  # many reconnect attempts at a 0.1 s backoff
    health = bus.health()
    assert health.faults == 1 and "Network is down" in health.fault and health.down_s > 0.5
    assert plug.opens >= 5, "no reconnect attempts"
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(loud) == 1, [r.getMessage() for r in loud]
    assert "is down: Network is down" in loud[0].getMessage()
    received(sniffer, 0.05)
    with pytest.raises(BusDownError, match="nothing was sent"):
        bridge.actuate({FOG: 1}, timeout_s=0.5)
    assert received(sniffer, 0.2) == []  # nothing reached the wire

    plug.plugged = True
    assert wait_until(lambda: bus.health().up)
    assert bus.health().reconnects == 1
    assert any("is back" in r.getMessage() for r in caplog.records)
    result = bridge.actuate({FOG: 1})
    assert result.ok and result.confirmed[FOG] == 1


def test_an_interface_that_opens_but_stays_down_is_one_outage_not_a_flapping_one(
    supervised: tuple[CanBridge, SupervisedBus], plug: Plug, caplog: pytest.LogCaptureFixture
) -> None:
    bridge, bus = supervised
    caplog.set_level(logging.INFO, logger="firmware_bridge")
    plug.link_up = False  # ip link set can0 down: the socket opens, every receive fails
    assert wait_until(lambda: not bus.health().up)
    time.sleep(1.0)
    assert plug.opens >= 4, "no reconnect attempts"
    assert bus.health().faults == 1 and not bus.health().up
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert len(lines) == 1 and "is down" in lines[0], lines
    plug.link_up = True
    assert wait_until(lambda: bus.health().up)
    assert bus.health().reconnects == 1
    assert bridge.actuate({FOG: 1}).ok


def test_bus_off_takes_the_bus_down_until_frames_arrive_again(
    supervised: tuple[CanBridge, SupervisedBus], plug: Plug
) -> None:
    bridge, bus = supervised
    opens = plug.opens
    # what socketcan delivers when this node's controller goes bus-off (linux/can/error.h)
    plug.off = True
    plug.inject.append(can.Message(arbitration_id=CAN_ERR_BUSOFF, is_error_frame=True, dlc=8))
    assert wait_until(lambda: not bus.health().up, 2.0)
    assert bus.health().fault.startswith("bus-off")
    with pytest.raises(BusDownError, match="bus-off"):
        bridge.actuate({FOG: 1})
    # the controller restarts (restart-ms): the car's next status frame brings the bus back, no reopen
    plug.off = False
    assert wait_until(lambda: bus.health().up, 2.0)
    assert plug.opens == opens
    assert bus.health().faults == 1 and bus.health().reconnects == 1
    assert bridge.actuate({FOG: 1}).ok


class BrokenBus(can.BusABC):
    """A bus whose every receive fails, given to the bridge without a SupervisedBus around it."""

    def __init__(self) -> None:
        self.recvs = 0
        super().__init__(channel="broken")

    def _recv_internal(self, timeout: float | None) -> tuple[can.Message | None, bool]:
        self.recvs += 1
        raise can.CanOperationError("Network is down", error_code=errno.ENETDOWN)

    def send(self, msg: can.Message, timeout: float | None = None) -> None:
        raise can.CanOperationError("Network is down", error_code=errno.ENETDOWN)


def test_an_unsupervised_failing_bus_does_not_flood_the_log(
    config: BridgeConfig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="firmware_bridge")
    broken = BrokenBus()
    with CanBridge(config, bus=broken):
        time.sleep(1.0)
    lines = [r for r in caplog.records if "CAN receive failed" in r.getMessage()]
    assert len(lines) == 1, len(lines)
    # the receive loop pauses after each error instead of spinning (it was ~131,000 a second)
    assert broken.recvs <= 15, broken.recvs


def test_a_bus_that_cannot_open_at_start_is_an_error_naming_it(config: BridgeConfig, plug: Plug) -> None:
    plug.plugged = False
    with pytest.raises(BusOpenError, match="No such device"):
        SupervisedBus(flaky_opener(config.channel, plug), "test")


def test_supervised_bus_is_safe_to_send_from_many_threads_while_it_fails(
    supervised: tuple[CanBridge, SupervisedBus], plug: Plug
) -> None:
    bridge, bus = supervised
    errors: list[BaseException] = []

    def press() -> None:
        for _ in range(5):
            try:
                bridge.actuate({FOG: 1}, timeout_s=0.2)
            except BusDownError:
                pass
            except BaseException as err:  # anything else is the failure this test looks for
                errors.append(err)

    threads = [threading.Thread(target=press) for _ in range(4)]
    plug.plugged = False
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    plug.plugged = True
    assert errors == []
    assert wait_until(lambda: bus.health().up)
