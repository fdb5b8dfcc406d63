"""A scripted bridge for unit tests of the vehicle layer (the boundary, not the product)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from assistant.vehicle.signals import Value, load_signals
from firmware_bridge.errors import SendError


@dataclass(frozen=True)
class FakeActuation:
    targets: dict[str, Value]
    confirmed: dict[str, Value]
    timed_out: tuple[str, ...]
    frames: tuple[Any, ...] = ()


@dataclass
class FakeBridge:
    """Confirms every target at once unless told to stay silent or to fail sending."""

    values: dict[str, Value] = field(default_factory=dict)
    silent: set[str] = field(default_factory=set)
    fail_send: bool = False
    sent: list[dict[str, Value]] = field(default_factory=list)

    def __post_init__(self) -> None:
        defaults: dict[str, Value] = {}
        for name, spec in load_signals().items():
            if spec.kind == "enum":
                defaults[name] = spec.values[0]
            elif "Temperature" in name:
                defaults[name] = 21.0
            elif name.endswith("IsLocked"):
                defaults[name] = 1
            else:
                defaults[name] = 0
        defaults["Vehicle.Cabin.Infotainment.Media.Radio.Frequency"] = 99500
        defaults["Vehicle.Cabin.Infotainment.Media.Volume"] = 10
        self.values = {**defaults, **self.values}

    def state(self) -> dict[str, Value]:
        return dict(self.values)

    def actuate(self, targets: Mapping[str, Value], timeout_s: float | None = None) -> FakeActuation:
        if self.fail_send:
            raise SendError("fake bus is down")
        self.sent.append(dict(targets))
        confirmed = {k: v for k, v in targets.items() if k not in self.silent}
        self.values.update(confirmed)
        return FakeActuation(dict(targets), confirmed, tuple(k for k in targets if k in self.silent))
