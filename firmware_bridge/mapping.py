"""Vehicle signal names -> DBC messages/signals (or GPIO devices), and the write allowlist.

Both are YAML data so another car needs a new DBC and a new mapping, not new
code.  ``check_mapping`` holds them against the DBC once, at bridge start, so a
typo fails loudly then instead of mid-utterance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import cantools.database
import yaml

from firmware_bridge.errors import MappingError

Value = int | float | str
DEFAULT_CONFIRM_TIMEOUT_S = 1.5
DEFAULT_MAX_AGE_S = 1.0
"""A status value not heard again for this long is stale: ten 100 ms cycles of the reference car."""
# libyaml's loader when built in: bridge start time is mostly YAML parsing otherwise.
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_SIGNAL_KEYS = {"command", "status", "gpio", "confirm_timeout_s", "tolerance", "max_age_s", "max_rate"}


@dataclass(frozen=True)
class CommandRef:
    """The command frame signal that requests a target, with the selector values sent alongside."""

    message: str
    signal: str
    fixed: Mapping[str, Value] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class StatusRef:
    """The status frame signal that reports a vehicle signal's value."""

    message: str
    signal: str


@dataclass(frozen=True)
class SignalMapping:
    """How one vehicle signal reaches the car."""

    name: str
    status: StatusRef | None = None
    command: CommandRef | None = None
    gpio: str | None = None
    """GPIO device name (for example "interior_light") instead of CAN."""
    confirm_timeout_s: float = DEFAULT_CONFIRM_TIMEOUT_S
    """Seconds to wait for the status to report a commanded target."""
    tolerance: float | None = None
    """Largest accepted |reported - target|; ``None`` means half a DBC step of the status signal."""
    max_age_s: float = DEFAULT_MAX_AGE_S
    """Seconds after its last status frame that a value is still current; older is stale."""
    max_rate: float | None = None
    """Largest believable change per second (units/s); a faster jump is a contradiction. ``None``: no rule."""

    @property
    def writable(self) -> bool:
        return self.command is not None or self.gpio is not None


@dataclass(frozen=True)
class VehicleMapping:
    """Every mapped vehicle signal, by name, and the file it came from."""

    signals: Mapping[str, SignalMapping]
    path: Path


@dataclass(frozen=True)
class Allowlist:
    """What the assistant may ever write: command messages with their signals, and GPIO outputs."""

    can: Mapping[str, frozenset[str]]
    gpio: frozenset[str]
    path: Path


def _read_yaml(path: Path, what: str) -> dict[str, Any]:
    try:
        data = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except OSError as err:
        raise MappingError(f"cannot read {what} {path}: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise MappingError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise MappingError(f"{path}: expected a mapping at the top level of the {what}")
    return data


def _ref(path: Path, name: str, kind: str, raw: Any, keys: set[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise MappingError(f"{path}: {name}: {kind} must be a mapping with {', '.join(sorted(keys))}")
    unknown = set(raw) - keys
    if unknown:
        raise MappingError(f"{path}: {name}: unknown {kind} key(s) {', '.join(sorted(unknown))}")
    need = {"message", "signal", "device"} & keys
    missing = need - set(raw)
    if missing:
        raise MappingError(f"{path}: {name}: {kind} lacks {', '.join(sorted(missing))}")
    return raw


def _positive(path: Path, name: str, key: str, raw: Any, default: float | None) -> float | None:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw) or raw < 0:
        raise MappingError(f"{path}: {name}: {key} must be a number of seconds/units >= 0, got {raw!r}")
    return float(raw)


def load_mapping(path: Path) -> VehicleMapping:
    """Read a mapping file; its shape is checked here, its DBC names by ``check_mapping``."""
    path = Path(path)
    data = _read_yaml(path, "mapping")
    unknown = set(data) - {"defaults", "signals"}
    if unknown:
        raise MappingError(f"{path}: unknown top-level key(s) {', '.join(sorted(unknown))}")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict) or set(defaults) - {"confirm_timeout_s", "max_age_s"}:
        raise MappingError(f"{path}: defaults may only hold confirm_timeout_s and max_age_s")
    default_timeout = _positive(
        path, "defaults", "confirm_timeout_s", defaults.get("confirm_timeout_s"), DEFAULT_CONFIRM_TIMEOUT_S
    )
    default_age = _positive(path, "defaults", "max_age_s", defaults.get("max_age_s"), DEFAULT_MAX_AGE_S)
    raw_signals = data.get("signals")
    if not isinstance(raw_signals, dict) or not raw_signals:
        raise MappingError(f"{path}: 'signals' must map vehicle signal names to DBC entries")
    signals: dict[str, SignalMapping] = {}
    for name, entry in raw_signals.items():
        if not isinstance(entry, dict):
            raise MappingError(f"{path}: {name}: expected a mapping with status/command/gpio")
        unknown = set(entry) - _SIGNAL_KEYS
        if unknown:
            raise MappingError(f"{path}: {name}: unknown key(s) {', '.join(sorted(unknown))}")
        if "gpio" in entry and ("command" in entry or "status" in entry):
            raise MappingError(f"{path}: {name}: a gpio signal takes no command/status entries")
        if "gpio" not in entry and "status" not in entry:
            raise MappingError(f"{path}: {name}: needs a status entry (or gpio) to read the value back")
        status = command = gpio = None
        if "status" in entry:
            raw = _ref(path, name, "status", entry["status"], {"message", "signal"})
            status = StatusRef(str(raw["message"]), str(raw["signal"]))
        if "command" in entry:
            raw = _ref(path, name, "command", entry["command"], {"message", "signal", "fixed"})
            fixed = raw.get("fixed") or {}
            if not isinstance(fixed, dict):
                raise MappingError(f"{path}: {name}: command fixed must map selector signals to values")
            command = CommandRef(str(raw["message"]), str(raw["signal"]), MappingProxyType(dict(fixed)))
        if "gpio" in entry:
            gpio = str(_ref(path, name, "gpio", entry["gpio"], {"device"})["device"])
        timeout = _positive(path, name, "confirm_timeout_s", entry.get("confirm_timeout_s"), default_timeout)
        signals[name] = SignalMapping(
            name=name,
            status=status,
            command=command,
            gpio=gpio,
            confirm_timeout_s=timeout if timeout is not None else DEFAULT_CONFIRM_TIMEOUT_S,
            tolerance=_positive(path, name, "tolerance", entry.get("tolerance"), None),
            max_age_s=_positive(path, name, "max_age_s", entry.get("max_age_s"), default_age)
            or DEFAULT_MAX_AGE_S,
            max_rate=_positive(path, name, "max_rate", entry.get("max_rate"), None),
        )
    return VehicleMapping(MappingProxyType(signals), path)


def load_allowlist(path: Path) -> Allowlist:
    path = Path(path)
    data = _read_yaml(path, "allowlist")
    unknown = set(data) - {"can", "gpio"}
    if unknown:
        raise MappingError(f"{path}: unknown top-level key(s) {', '.join(sorted(unknown))}; use can, gpio")
    can_raw = data.get("can") or {}
    if not isinstance(can_raw, dict) or not all(isinstance(v, list) for v in can_raw.values()):
        raise MappingError(f"{path}: 'can' must map message names to lists of signal names")
    gpio_raw = data.get("gpio") or []
    if not isinstance(gpio_raw, list):
        raise MappingError(f"{path}: 'gpio' must be a list of GPIO output device names")
    can = {str(m): frozenset(str(s) for s in sigs) for m, sigs in can_raw.items()}
    return Allowlist(MappingProxyType(can), frozenset(str(d) for d in gpio_raw), path)


def _lookup(
    db: cantools.database.can.Database, dbc_path: Path, where: str, message: str, signal: str
) -> cantools.database.can.Signal:
    try:
        msg = db.get_message_by_name(message)
    except KeyError as err:
        raise MappingError(
            f"{where}: message {message!r} is not in {dbc_path}; fix the name or add it to the DBC"
        ) from err
    try:
        return msg.get_signal_by_name(signal)
    except KeyError as err:
        raise MappingError(
            f"{where}: signal {signal!r} is not in message {message} of {dbc_path}; "
            f"it has {', '.join(s.name for s in msg.signals)}"
        ) from err


def check_value(sig: cantools.database.can.Signal, value: Any) -> str | None:
    """Why ``value`` is not a valid physical value of ``sig``, or ``None`` when it is.

    Enums take their choice name, everything else a finite number within [minimum, maximum].
    """
    if sig.choices:
        names = [str(c) for c in sig.choices.values()]
        if not isinstance(value, str) or value not in names:
            return f"expected one of {', '.join(names)}"
        return None
    if isinstance(value, str) or not isinstance(value, int | float) or not math.isfinite(value):
        return f"expected a number in {sig.minimum}..{sig.maximum}"
    return None


def check_mapping(
    mapping: VehicleMapping,
    allowlist: Allowlist,
    db: cantools.database.can.Database,
    dbc_path: Path,
    gpio_outputs: frozenset[str],
) -> None:
    """Raise ``MappingError`` for any name in the mapping or allowlist that the DBC (or GPIO) lacks."""
    for message, signals in allowlist.can.items():
        for signal in signals:
            _lookup(db, dbc_path, f"{allowlist.path}: allowlist", message, signal)
    for device in allowlist.gpio - gpio_outputs:
        raise MappingError(
            f"{allowlist.path}: allowlist names GPIO output {device!r}; "
            f"known: {', '.join(sorted(gpio_outputs))}"
        )
    commands: dict[tuple[str, str, tuple[tuple[str, Value], ...]], str] = {}
    for name, m in mapping.signals.items():
        where = f"{mapping.path}: {name}"
        if m.status is not None:
            _lookup(db, dbc_path, where + " status", m.status.message, m.status.signal)
        if m.gpio is not None and m.gpio not in gpio_outputs:
            raise MappingError(
                f"{where}: gpio device {m.gpio!r} is not a bridge output; "
                f"known: {', '.join(sorted(gpio_outputs))}"
            )
        if m.command is None:
            continue
        c = m.command
        _lookup(db, dbc_path, where + " command", c.message, c.signal)
        if c.signal in c.fixed:
            raise MappingError(f"{where}: command signal {c.signal} cannot also be a fixed selector")
        for selector, value in c.fixed.items():
            sig = _lookup(db, dbc_path, where + " command fixed", c.message, selector)
            problem = check_value(sig, value)
            if problem:
                raise MappingError(f"{where}: fixed {c.message}.{selector} = {value!r}: {problem}")
        key = (c.message, c.signal, tuple(sorted(c.fixed.items())))
        if key in commands:
            raise MappingError(f"{where}: same command frame and selectors as {commands[key]}")
        commands[key] = name
