"""Shared fixtures: a real python-can virtual bus per test with the simulated car on it."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

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


@pytest.fixture(autouse=True)
def _audit_log_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # the audit log of every turn a test makes (CLI subprocesses too) goes to a scratch folder
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
