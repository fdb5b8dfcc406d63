"""A bus that fails part-way through one request, on a real python-can virtual bus with the
simulated body controller: the reply and undo come from what the car confirmed, door by door."""

from __future__ import annotations

import re
from collections.abc import Iterator

import can
import pytest
from can.interfaces.virtual import VirtualBus

from assistant.dialogue import Dialogue
from assistant.nlu.templates import TemplateParser
from assistant.vehicle.vehicle import Vehicle
from firmware_bridge import BodyControllerSim, BridgeConfig, CanBridge

LOCKS = [
    f"Vehicle.Cabin.Door.{row}.{side}.IsLocked"
    for row in ("Row1", "Row2")
    for side in ("DriverSide", "PassengerSide")
]
LOCK_CMD = 0x301  # reference_car.dbc: BO_ 769 LOCK_CMD


class FailingNthLockBus(VirtualBus):  # type: ignore[misc]
    """A virtual bus whose transmitter fails the ``nth`` LOCK_CMD frame it is given while armed."""

    def __init__(self, channel: str, nth: int) -> None:
        super().__init__(channel=channel)
        self.nth, self.armed, self.locks = nth, False, 0

    def send(self, msg: can.Message, timeout: float | None = None) -> None:
        if self.armed and msg.arbitration_id == LOCK_CMD:
            self.locks += 1
            if self.locks >= self.nth:
                raise can.CanOperationError("transmit failed: arbitration lost too often")
        super().send(msg, timeout)


@pytest.fixture
def channel(request: pytest.FixtureRequest) -> str:
    return "ps-" + re.sub(r"[^A-Za-z0-9]+", "-", request.node.nodeid)[-80:]


@pytest.fixture
def flaky(channel: str) -> Iterator[tuple[CanBridge, FailingNthLockBus]]:
    config = BridgeConfig(channel=channel)
    bus = FailingNthLockBus(channel, nth=3)
    with BodyControllerSim(config, status_period_s=0.05), CanBridge(config, bus=bus) as bridge:
        assert bridge.wait_ready(2.0)
        yield bridge, bus


def test_third_of_four_lock_frames_failing(flaky: tuple[CanBridge, FailingNthLockBus]) -> None:
    bridge, bus = flaky
    assert bridge.database.get_message_by_name("LOCK_CMD").frame_id == LOCK_CMD
    dialogue = Dialogue(TemplateParser(), Vehicle(bridge))
    assert dialogue.handle("unlock the doors").actions[0].status == "done"
    bus.armed = True
    turn = dialogue.handle("lock the doors")
    assert turn.reply == (
        "I've locked the front doors. I couldn't send the command for the rear doors, so they didn't change."
    )
    state = bridge.state()
    assert [state[lock] for lock in LOCKS] == [1, 1, 0, 0]
    bus.armed = False
    assert dialogue.handle("undo").reply == "Undone."
    state = bridge.state()
    assert [state[lock] for lock in LOCKS] == [0, 0, 0, 0]
    undo_tx = [f for f in bridge.recent_frames() if f.direction == "tx"][-2:]
    assert [f.signals.get("DoorSelect") for f in undo_tx] == ["driver", "passenger"]


def test_bridge_reports_the_unsent_and_keeps_the_confirmed(
    flaky: tuple[CanBridge, FailingNthLockBus],
) -> None:
    bridge, bus = flaky
    bridge.actuate({lock: 0 for lock in LOCKS})
    bus.armed = True
    result = bridge.actuate({lock: 1 for lock in LOCKS})
    assert dict(result.confirmed) == {LOCKS[0]: 1, LOCKS[1]: 1}
    assert result.unsent == (LOCKS[2], LOCKS[3])
    assert result.timed_out == () and not result.ok
    tx = [f.signals.get("DoorSelect") for f in result.frames if f.direction == "tx"]
    assert tx == ["driver", "passenger"]
