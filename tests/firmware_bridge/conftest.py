"""Fixtures: a real python-can virtual bus per test, the simulated body controller, a started bridge.

Virtual channels are global per process, so every test gets its own channel
name; travel times are short so the suite stays quick.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import can
import pytest
import yaml

from firmware_bridge import BodyControllerSim, BridgeConfig, CanBridge

SIGNALS_YAML = Path(__file__).resolve().parents[2] / "assistant" / "vehicle" / "signals.yaml"
FAST = {
    "window_travel_s": 0.3,
    "sunroof_travel_s": 0.5,
    "trunk_travel_s": 0.2,
    "mirror_travel_s": 0.1,
    "status_period_s": 0.05,
}


def vehicle_signals() -> dict[str, dict[str, Any]]:
    """The assistant's signal model, read by path: firmware_bridge must not import assistant."""
    data: dict[str, dict[str, Any]] = yaml.safe_load(SIGNALS_YAML.read_text(encoding="utf-8"))
    for spec in data.values():
        if spec.get("kind") == "enum":
            # YAML 1.1 reads an unquoted `off` as False (wiper mode); the DBC choice is the word.
            spec["values"] = [
                {False: "off", True: "on"}[v] if isinstance(v, bool) else v for v in spec["values"]
            ]
    return data


@pytest.fixture
def channel(request: pytest.FixtureRequest) -> str:
    return "fb-" + re.sub(r"[^A-Za-z0-9]+", "-", request.node.nodeid)


@pytest.fixture
def config(channel: str) -> BridgeConfig:
    return BridgeConfig(channel=channel)


@pytest.fixture
def sim(config: BridgeConfig) -> Iterator[BodyControllerSim]:
    with BodyControllerSim(config, **FAST) as sim:  # type: ignore[arg-type]
        yield sim


@pytest.fixture
def bridge(config: BridgeConfig, sim: BodyControllerSim) -> Iterator[CanBridge]:
    with CanBridge(config) as bridge:
        assert bridge.wait_ready(2.0), "the simulated body controller sent no status"
        yield bridge


@pytest.fixture
def sniffer(channel: str) -> Iterator[can.BusABC]:
    """A second node on the bus that sees only command frames (0x300..0x3FF)."""
    bus = can.Bus(interface="virtual", channel=channel, can_filters=[{"can_id": 0x300, "can_mask": 0x700}])
    yield bus
    bus.shutdown()


def received(bus: can.BusABC, within_s: float = 0.2) -> list[can.Message]:
    out = []
    while (msg := bus.recv(timeout=within_s)) is not None:
        out.append(msg)
    return out
