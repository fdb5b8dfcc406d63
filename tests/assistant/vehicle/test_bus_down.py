"""A request while the CAN bus is down gets an honest answer, and nothing is sent."""

from __future__ import annotations

import re

import pytest

from assistant.dialogue import Dialogue
from assistant.nlu.base import load_parser
from assistant.vehicle.replies import load_replies
from assistant.vehicle.vehicle import Vehicle
from firmware_bridge import BodyControllerSim, BridgeConfig, CanBridge
from firmware_bridge.bus import SupervisedBus
from tests.firmware_bridge.conftest import FAST
from tests.firmware_bridge.test_bus_faults import Plug, flaky_opener, wait_until


def test_requests_while_the_bus_is_down_are_answered_honestly(request: pytest.FixtureRequest) -> None:
    config = BridgeConfig(channel="bd-" + re.sub(r"[^A-Za-z0-9]+", "-", request.node.name))
    plug = Plug()
    bus = SupervisedBus(flaky_opener(config.channel, plug), "test", backoff_s=(0.05,))
    with BodyControllerSim(config, **FAST) as sim, CanBridge(config, bus=bus) as bridge:  # type: ignore[arg-type]
        assert bridge.wait_ready(2.0)
        vehicle = Vehicle(bridge)
        vehicle.sync()
        dialogue = Dialogue(load_parser("templates"), vehicle)
        plug.plugged = False
        assert wait_until(lambda: not bus.health().up)
        turn = dialogue.handle("turn on the fog lights")
        assert turn.reply == load_replies().say("failure.bus_down")
        assert turn.reply.startswith("I can't reach the car right now")
        assert sim.value("FogFrontOn") == 0
        plug.plugged = True
        assert wait_until(lambda: bus.health().up)
        assert dialogue.handle("turn on the fog lights").reply == "Fog lights on."
