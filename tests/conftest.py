"""Shared fixtures: a real python-can virtual bus per test with the simulated car on it."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config import CanSettings, GpioSettings, Settings, SimSettings
from assistant.runtime import Car, open_car


@pytest.fixture
def settings(request: pytest.FixtureRequest) -> Settings:
    # Virtual channels are global per process: one per test keeps tests apart.
    channel = "t-" + re.sub(r"[^A-Za-z0-9]+", "-", request.node.nodeid)[-80:]
    # mock pins: the suite run on a Raspberry Pi must not switch its real relay (gpio auto picks lgpio there)
    return dataclasses.replace(
        Settings(),
        can=CanSettings(channel=channel),
        sim=SimSettings(window_travel_s=0.3),
        gpio=GpioSettings(pin_factory="mock"),
    )


@pytest.fixture
def car(settings: Settings) -> Iterator[Car]:
    with open_car(settings) as car:
        yield car


@pytest.fixture
def car_at_40(settings: Settings) -> Iterator[Car]:
    """The simulated car driving at a steady 40 km/h (tests/data/driving_40.yaml)."""
    scenario = Path(__file__).parent / "data" / "driving_40.yaml"
    with open_car(dataclasses.replace(settings, sim=SimSettings(0.3, str(scenario)))) as car:
        deadline = time.monotonic() + 2
        while car.vehicle.state().get("Vehicle.Speed") != 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        yield car


@pytest.fixture(autouse=True)
def _audit_log_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # the audit log of every turn a test makes (CLI subprocesses too) goes to a scratch folder
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
