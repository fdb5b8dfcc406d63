"""The vehicle model's signals: VSS-style names with kind, unit and range (signals.yaml)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib.resources import files
from pathlib import Path

import yaml

from assistant.errors import ConfigError
from firmware_bridge.yamlfile import parse_yaml

Value = int | float | str

# package data (pyproject.toml), so a wheel has it as well as a checkout
SIGNALS_FILE = Path(str(files("assistant.vehicle").joinpath("signals.yaml")))


class Kind(StrEnum):
    """What values a signal takes (signals.yaml ``kind``)."""

    BOOL = "bool"
    """0 or 1."""
    INT = "int"
    """Whole numbers within min..max."""
    NUMBER = "number"
    """Any number within min..max, on the step grid when one is given."""
    ENUM = "enum"
    """One of ``values``."""


_KINDS = {k.value for k in Kind}


@dataclass(frozen=True)
class SignalSpec:
    name: str
    kind: Kind
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    values: tuple[str, ...] = ()
    writable: bool = False
    doc: str = ""

    def clamp(self, value: float) -> float:
        """``value`` within range and on the step grid."""
        lo = -math.inf if self.minimum is None else self.minimum
        hi = math.inf if self.maximum is None else self.maximum
        v = min(max(value, lo), hi)
        if self.step:
            v = round(v / self.step) * self.step
        if self.kind in (Kind.INT, Kind.BOOL):
            return int(round(v))
        return v

    def in_range(self, value: float) -> bool:
        return (self.minimum is None or value >= self.minimum) and (
            self.maximum is None or value <= self.maximum
        )


@cache
def load_signals(path: Path = SIGNALS_FILE) -> dict[str, SignalSpec]:
    raw = parse_yaml(path.read_text(encoding="utf-8"), path, ConfigError, loader=yaml.SafeLoader)
    out = {}
    for name, entry in (raw or {}).items():
        kind = entry.get("kind")
        if kind not in _KINDS:
            raise ConfigError(f"{path}: signal {name} has kind {kind!r}; use one of {sorted(_KINDS)}")
        lo, hi = entry.get("min"), entry.get("max")
        if kind == Kind.BOOL:
            lo, hi = 0, 1
        out[name] = SignalSpec(
            name=name,
            kind=Kind(kind),
            unit=entry.get("unit", ""),
            minimum=lo,
            maximum=hi,
            step=entry.get("step"),
            values=tuple(entry.get("values", ())),
            writable=bool(entry.get("writable", False)),
            doc=entry.get("doc", ""),
        )
    return out
