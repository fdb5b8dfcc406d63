"""A scripted bridge for unit tests of the vehicle layer (the boundary, not the product)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from assistant.nlu.base import Command, Parse, Parser
from assistant.vehicle.signals import Value, load_signals
from firmware_bridge.errors import SendError


@dataclass(frozen=True)
class FakeActuation:
    targets: dict[str, Value]
    confirmed: dict[str, Value]
    timed_out: tuple[str, ...]
    frames: tuple[Any, ...] = ()
    unsent: tuple[str, ...] = ()


@dataclass
class FakeBridge:
    """Confirms every target at once unless told to stay silent or to fail sending.

    ``fail_send_after=n`` fails the bus after the first ``n`` targets of the next
    actuations went out, as CanBridge reports it: those confirmed, the rest
    ``unsent`` (n=0: SendError, nothing sent).
    """

    values: dict[str, Value] = field(default_factory=dict)
    silent: set[str] = field(default_factory=set)
    fail_send: bool = False
    fail_send_after: int | None = None
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
        if self.fail_send or self.fail_send_after == 0:
            raise SendError("fake bus is down")
        went = list(targets)[: self.fail_send_after]
        unsent = tuple(k for k in targets if k not in went)
        self.sent.append({k: targets[k] for k in went})
        confirmed = {k: targets[k] for k in went if k not in self.silent}
        self.values.update(confirmed)
        timed_out = tuple(k for k in went if k in self.silent)
        return FakeActuation(dict(targets), confirmed, timed_out, unsent=unsent)


@dataclass
class FakeClock:
    """Seconds that pass only when a test says so (``Vehicle(clock=...)``)."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ScriptedParser(Parser):
    """A real parser, except for the texts given: those parse to the commands given.

    For what a language model does with odd input that the templates never do
    (the shipped SLM reads a bare "d" or "i" as assistant.confirm, measured with
    ``car-assistant parse --json --nlu slm d``).
    """

    name = "scripted"

    def __init__(self, real: Parser, script: Mapping[str, tuple[Command, ...]]) -> None:
        self.real = real
        self.script = dict(script)

    def parse(self, text: str) -> Parse:
        if text in self.script:
            return Parse(text, self.script[text], self.name)
        return self.real.parse(text)
