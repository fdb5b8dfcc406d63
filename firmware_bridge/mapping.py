"""Vehicle signal names -> DBC messages/signals (or GPIO devices), and the write allowlist.

Both are YAML data so another car needs a new DBC and a new mapping, not new
code.  ``check_mapping`` holds them against the DBC once, at bridge start, so a
typo fails loudly then instead of mid-utterance; every error names file:line.

Real cars need more than "set a signal once" (see README: Another car):

``car``       name, the DBC file the user supplies (and its sha256), where it came from.
``messages``  per command message: ``cycle_ms`` (sent cyclically while a command is
              active), ``counter`` (rolling counter signal) and ``checksum``
              (``{algorithm, signal, data_id}``, algorithms in ``checksums.CHECKSUMS``).
``command``   ``style``: ``set`` (the target, once or cyclically until confirmed),
              ``press`` (the pressed value held ``hold_ms``, repeated every
              ``interval_ms``, then ``release``), ``press_until`` (repeated until the
              status reports the target or the confirm timeout; ``increase`` /
              ``decrease`` name the values that move a number up or down), ``toggle``
              (one press, only when the status differs from the target);
              ``transform``: vehicle value -> DBC value (``transforms``).
``status``    ``transform``: DBC value -> vehicle value.
``cannot``    a function this car cannot do (status only): the reason, said to nobody
              but ``car check``; the bridge refuses it before anything is sent.
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

from firmware_bridge.checksums import FrameProtection, protection_for
from firmware_bridge.errors import MappingError
from firmware_bridge.transforms import Transform, TransformError, parse_transform
from firmware_bridge.yamlfile import line_of as _line
from firmware_bridge.yamlfile import parse_yaml, refuse_unknown_keys

Value = int | float | str
DEFAULT_CONFIRM_TIMEOUT_S = 1.5
DEFAULT_MAX_AGE_S = 1.0
"""A status value not heard again for this long is stale: ten 100 ms cycles of the reference car."""

_SIGNAL_KEYS = {
    "command", "status", "gpio", "confirm_timeout_s", "tolerance", "cannot", "max_age_s", "max_rate",
}  # fmt: skip
_COMMAND_KEYS = {
    "message", "signal", "fixed", "style", "transform", "hold_ms", "interval_ms", "release", "increase",
    "decrease",
}  # fmt: skip
STYLES = ("set", "press", "press_until", "toggle")
DEFAULT_HOLD_MS = 200
DEFAULT_INTERVAL_MS = 50
"""A held button's repeat interval when its message has no cycle of its own."""


@dataclass(frozen=True)
class CommandRef:
    """The command frame signal that requests a target, with the selector values sent alongside."""

    message: str
    signal: str
    fixed: Mapping[str, Value] = field(default_factory=lambda: MappingProxyType({}))
    style: str = "set"
    """One of ``STYLES``."""
    transform: Transform | None = None
    """Vehicle value -> DBC value; for press/toggle, the target -> the pressed value."""
    hold_s: float = DEFAULT_HOLD_MS / 1000
    """press / toggle: how long the pressed value is held."""
    interval_s: float | None = None
    """Repeat interval while held; ``None``: the message's cycle, else DEFAULT_INTERVAL_MS."""
    release: Value | None = None
    """Sent once when a press ends; ``None``: the DBC signal's start value."""
    increase: Value | None = None
    """press_until: the pressed value that moves the status up (window: "DOWN", opening)."""
    decrease: Value | None = None
    line: int = 0

    def pressed(self, target: Value, current: Value | None) -> Value:
        """The DBC value a press sends for ``target``; press_until compares with ``current``."""
        if self.style == "press_until" and self.increase is not None and not isinstance(target, str):
            if current is None or isinstance(current, str):
                raise TransformError(f"{self.message}.{self.signal}: no status yet to press towards {target}")
            return self.increase if float(target) > float(current) else self.decrease  # type: ignore[return-value]
        return self.transform.apply(target) if self.transform is not None else target


@dataclass(frozen=True)
class StatusRef:
    """The status frame signal that reports a vehicle signal's value."""

    message: str
    signal: str
    transform: Transform | None = None
    """DBC value -> vehicle value."""

    def read(self, value: Value) -> Value:
        """The vehicle value of a decoded status value (unchanged without a transform)."""
        return self.transform.apply(value) if self.transform is not None else value


@dataclass(frozen=True)
class MessageSpec:
    """How a command message travels: its cycle, rolling counter and checksum."""

    name: str
    cycle_s: float | None = None
    counter: str | None = None
    checksum: str | None = None
    """Algorithm name (``checksums.CHECKSUMS``)."""
    checksum_signal: str | None = None
    data_id: int | tuple[int, ...] | None = None
    line: int = 0


@dataclass(frozen=True)
class CarInfo:
    """Who the mapping is for, and which DBC file it expects (the user supplies third-party DBCs)."""

    name: str
    dbc: str = ""
    """File name of the DBC, relative to the mapping or as published (opendbc: dbc/NAME.dbc)."""
    dbc_sha256: str = ""
    source: str = ""


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
    cannot: str | None = None
    """Why this car cannot actuate the signal (it has status only); ``None`` when it can or never could."""
    line: int = 0

    @property
    def writable(self) -> bool:
        return self.command is not None or self.gpio is not None


@dataclass(frozen=True)
class VehicleMapping:
    """Every mapped vehicle signal, by name, and the file it came from."""

    signals: Mapping[str, SignalMapping]
    path: Path
    messages: Mapping[str, MessageSpec] = field(default_factory=lambda: MappingProxyType({}))
    car: CarInfo | None = None

    def where(self, line: int) -> str:
        """``file:line`` for messages (just the file when the line is unknown)."""
        return f"{self.path}:{line}" if line else str(self.path)


@dataclass(frozen=True)
class Allowlist:
    """What the assistant may ever write: command messages with their signals, and GPIO outputs."""

    can: Mapping[str, frozenset[str]]
    gpio: frozenset[str]
    path: Path


def _read_yaml(path: Path, what: str) -> dict[str, Any]:
    try:
        data = parse_yaml(Path(path).read_text(encoding="utf-8"), path, MappingError)
    except OSError as err:
        raise MappingError(f"cannot read {what} {path}: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise MappingError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise MappingError(f"{path}: expected a mapping at the top level of the {what}")
    return data


def _ref(path: Path, name: str, kind: str, raw: Any, keys: set[str], where: str | None) -> dict[str, Any]:
    where = where or f"{path}:{_line(raw)}: {name}"
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: {kind} must be a mapping with {', '.join(sorted(keys))}")
    unknown = set(raw) - keys
    if unknown:
        raise MappingError(f"{where}: unknown {kind} key(s) {', '.join(sorted(unknown))}")
    need = {"message", "signal", "device"} & keys
    missing = need - set(raw)
    if missing:
        raise MappingError(f"{where}: {kind} lacks {', '.join(sorted(missing))}")
    return raw


def _positive(path: Path, name: str, key: str, within: dict[str, Any], default: float | None) -> float | None:
    """``within[key]``, a finite number >= 0, or ``default`` when absent; errors name file:line."""
    raw = within.get(key)
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw) or raw < 0:
        where = f"{path}:{_line(within, key)}: {name}"
        raise MappingError(f"{where}: {key} must be a number of seconds/units >= 0, got {raw!r}")
    return float(raw)


def _age(path: Path, name: str, within: dict[str, Any], default: float) -> float:
    """``max_age_s``: seconds a reported value stays current; 0 would make every value stale at once
    (it used to become 1 s without a word), so it must be above 0."""
    age = _positive(path, name, "max_age_s", within, default)
    if not age:
        raise MappingError(
            f"{path}:{_line(within, 'max_age_s')}: {name}: max_age_s must be a number of seconds > 0 "
            "(how long a reported value stays current), got 0"
        )
    return age


def _ms(where: str, key: str, raw: Any, default: float | None) -> float | None:
    """A millisecond entry as seconds; must be a positive number."""
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw) or raw <= 0:
        raise MappingError(f"{where}: {key} must be a number of milliseconds > 0, got {raw!r}")
    return float(raw) / 1000


def _transform(where: str, raw: Any) -> Transform | None:
    if raw is None:
        return None
    try:
        return parse_transform(raw)
    except TransformError as err:
        raise TransformError(f"{where}: transform: {err}") from err


def _scalar(where: str, key: str, raw: Any) -> Value | None:
    if raw is None:
        return None
    if isinstance(raw, bool):
        return int(raw)
    if not isinstance(raw, int | float | str):
        raise MappingError(f"{where}: {key} must be a number or a choice name, got {raw!r}")
    return raw


def _fixed(where: str, key: Any, raw: Any) -> Value:
    value = _scalar(where, f"fixed {key}", raw)
    if value is None:
        raise MappingError(f"{where}: fixed {key} needs a value")
    return value


def _command(path: Path, name: str, entry: Any) -> CommandRef:
    where = f"{path}:{_line(entry)}: {name}: command"
    raw = _ref(path, name, "command", entry, _COMMAND_KEYS, where)
    fixed = raw.get("fixed") or {}
    if not isinstance(fixed, dict):
        raise MappingError(f"{where}: fixed must map selector signals to values")
    style = raw.get("style", "set")
    if style not in STYLES:
        raise MappingError(f"{where}: style {style!r} is not one of {', '.join(STYLES)}")
    press_keys = {"hold_ms", "interval_ms", "release", "increase", "decrease"} & set(raw)
    if style == "set" and press_keys - {"interval_ms"}:
        raise MappingError(f"{where}: {', '.join(sorted(press_keys))} only apply to press styles, not set")
    if ("increase" in raw) != ("decrease" in raw) or (style != "press_until" and "increase" in raw):
        raise MappingError(f"{where}: increase and decrease go together, with style press_until")
    hold = _ms(where, "hold_ms", raw.get("hold_ms"), DEFAULT_HOLD_MS / 1000)
    return CommandRef(
        str(raw["message"]),
        str(raw["signal"]),
        MappingProxyType({str(k): _fixed(where, k, v) for k, v in fixed.items()}),
        style=style,
        transform=_transform(where, raw.get("transform")),
        hold_s=hold if hold is not None else DEFAULT_HOLD_MS / 1000,
        interval_s=_ms(where, "interval_ms", raw.get("interval_ms"), None),
        release=_scalar(where, "release", raw.get("release")),
        increase=_scalar(where, "increase", raw.get("increase")),
        decrease=_scalar(where, "decrease", raw.get("decrease")),
        line=_line(entry),
    )


def _messages(path: Path, raw: Any) -> dict[str, MessageSpec]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise MappingError(f"{path}:{_line(raw)}: 'messages' must map command message names to transport")
    out = {}
    for message, entry in raw.items():
        line = _line(raw, message)
        where = f"{path}:{line}: messages: {message}"
        if not isinstance(entry, dict):
            raise MappingError(f"{where}: expected a mapping with cycle_ms, counter, checksum")
        unknown = set(entry) - {"cycle_ms", "counter", "checksum"}
        if unknown:
            raise MappingError(
                f"{where}: unknown key(s) {', '.join(sorted(unknown))}; use cycle_ms, counter, checksum"
            )
        checksum = entry.get("checksum")
        algorithm = checksum_signal = data_id = None
        if checksum is not None:
            keys = set(checksum) if isinstance(checksum, dict) else set()
            if not {"algorithm", "signal"} <= keys or keys - {"algorithm", "signal", "data_id"}:
                raise MappingError(f"{where}: checksum takes {{algorithm, signal, data_id}}: {checksum!r}")
            algorithm, checksum_signal = str(checksum["algorithm"]), str(checksum["signal"])
            data_id = checksum.get("data_id")
            if isinstance(data_id, list):
                data_id = tuple(data_id)
        counter = entry.get("counter")
        out[str(message)] = MessageSpec(
            name=str(message),
            cycle_s=_ms(where, "cycle_ms", entry.get("cycle_ms"), None),
            counter=str(counter) if counter is not None else None,
            checksum=algorithm,
            checksum_signal=checksum_signal,
            data_id=data_id,
            line=line,
        )
    return out


def _car(path: Path, raw: Any) -> CarInfo | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or "name" not in raw or set(raw) - {"name", "dbc", "dbc_sha256", "source"}:
        raise MappingError(f"{path}:{_line(raw)}: car takes name, dbc, dbc_sha256, source")
    return CarInfo(**{k: str(v) for k, v in raw.items()})


def load_mapping(path: Path) -> VehicleMapping:
    """Read a mapping file; its shape is checked here, its DBC names by ``check_mapping``."""
    path = Path(path)
    data = _read_yaml(path, "mapping")
    top = ("car", "defaults", "messages", "signals")
    refuse_unknown_keys(data, top, path, MappingError, "top-level key(s)")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict) or set(defaults) - {"confirm_timeout_s", "max_age_s"}:
        raise MappingError(
            f"{path}:{_line(defaults)}: defaults may only hold confirm_timeout_s and max_age_s"
        )
    default_timeout = _positive(
        path, "defaults", "confirm_timeout_s", defaults, DEFAULT_CONFIRM_TIMEOUT_S
    )
    default_age = _age(path, "defaults", defaults, DEFAULT_MAX_AGE_S)
    raw_signals = data.get("signals")
    if not isinstance(raw_signals, dict) or not raw_signals:
        raise MappingError(f"{path}: 'signals' must map vehicle signal names to DBC entries")
    signals: dict[str, SignalMapping] = {}
    for name, entry in raw_signals.items():
        line = _line(raw_signals, name)
        where = f"{path}:{line}: {name}"
        if not isinstance(entry, dict):
            raise MappingError(f"{where}: expected a mapping with status/command/gpio")
        unknown = set(entry) - _SIGNAL_KEYS
        if unknown:
            raise MappingError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        if "gpio" in entry and ("command" in entry or "status" in entry):
            raise MappingError(f"{where}: a gpio signal takes no command/status entries")
        if "gpio" not in entry and "status" not in entry:
            raise MappingError(f"{where}: needs a status entry (or gpio) to read the value back")
        if "cannot" in entry and ("command" in entry or not isinstance(entry["cannot"], str)):
            raise MappingError(f"{where}: cannot is the reason (a sentence) for a signal with no command")
        status = command = gpio = None
        if "status" in entry:
            raw = _ref(path, name, "status", entry["status"], {"message", "signal", "transform"}, None)
            status_where = f"{path}:{_line(entry['status'])}: {name}: status"
            transform = _transform(status_where, raw.get("transform"))
            status = StatusRef(str(raw["message"]), str(raw["signal"]), transform)
        if "command" in entry:
            command = _command(path, name, entry["command"])
        if "gpio" in entry:
            gpio = str(_ref(path, name, "gpio", entry["gpio"], {"device"}, None)["device"])
        timeout = _positive(path, name, "confirm_timeout_s", entry, default_timeout)
        signals[name] = SignalMapping(
            name=name,
            status=status,
            command=command,
            gpio=gpio,
            confirm_timeout_s=timeout if timeout is not None else DEFAULT_CONFIRM_TIMEOUT_S,
            tolerance=_positive(path, name, "tolerance", entry, None),
            max_age_s=_age(path, name, entry, default_age),
            max_rate=_positive(path, name, "max_rate", entry, None),
            cannot=entry.get("cannot"),
            line=line,
        )
    return VehicleMapping(
        MappingProxyType(signals),
        path,
        MappingProxyType(_messages(path, data.get("messages"))),
        _car(path, data.get("car")),
    )


def load_allowlist(path: Path) -> Allowlist:
    path = Path(path)
    data = _read_yaml(path, "allowlist")
    refuse_unknown_keys(data, ("can", "gpio"), path, MappingError, "top-level key(s)")
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


def signal_range(sig: cantools.database.can.Signal) -> tuple[float, float]:
    """The physical range of ``sig``: the DBC's [min|max], or what its bits can carry when [0|0]."""
    if sig.minimum is not None and sig.maximum is not None:
        return float(sig.minimum), float(sig.maximum)
    if sig.is_signed:
        raw = (-(1 << (sig.length - 1)), (1 << (sig.length - 1)) - 1)
    else:
        raw = (0, (1 << sig.length) - 1)
    ends = sorted(r * float(sig.scale) + float(sig.offset) for r in raw)
    return ends[0], ends[1]


def marks_a_number(sig: cantools.database.can.Signal) -> bool:
    """Whether ``sig`` is a number whose choices only name special raw values outside its range.

    Model3CAN.dbc names raw 128 "SNA" of a [-127|127] ride height and 511 "DI_UI_SPEED_SNA" of a
    [0|510] speed: a reading inside the range is a number there.  A choice inside the range makes
    the signal an enum.
    """
    if not sig.choices or sig.minimum is None or sig.maximum is None:
        return False
    low, high = float(sig.minimum), float(sig.maximum)
    scale, offset = float(sig.scale), float(sig.offset)
    return all(not low <= int(raw) * scale + offset <= high for raw in sig.choices)


def check_value(sig: cantools.database.can.Signal, value: Any) -> str | None:
    """Why ``value`` is not a valid physical value of ``sig``, or ``None`` when it is.

    Enums take their choice name, everything else a finite number within the signal's range
    (a number whose choices only mark values outside its range takes either).
    """
    if sig.choices and not (marks_a_number(sig) and not isinstance(value, str)):
        names = [str(c) for c in sig.choices.values()]
        if not isinstance(value, str) or value not in names:
            return f"expected one of {', '.join(names)}"
        return None
    low, high = signal_range(sig)
    if isinstance(value, str) or not isinstance(value, int | float) or not math.isfinite(value):
        return f"expected a number in {sig.minimum}..{sig.maximum}"
    if not low - 1e-9 <= value <= high + 1e-9:
        return f"expected a number in {low:g}..{high:g}"
    return None


def check_mapping(
    mapping: VehicleMapping,
    allowlist: Allowlist,
    db: cantools.database.can.Database,
    dbc_path: Path,
    gpio_outputs: frozenset[str],
) -> dict[str, FrameProtection]:
    """Raise ``MappingError`` for anything in the mapping or allowlist the DBC (or GPIO) lacks.

    Returns every command message's counter/checksum sealing, by message name.
    """
    for message, signals in allowlist.can.items():
        for signal in signals:
            _lookup(db, dbc_path, f"{allowlist.path}: allowlist", message, signal)
    for device in allowlist.gpio - gpio_outputs:
        raise MappingError(
            f"{allowlist.path}: allowlist names GPIO output {device!r}; "
            f"known: {', '.join(sorted(gpio_outputs))}"
        )
    protections: dict[str, FrameProtection] = {}
    for spec in mapping.messages.values():
        where = f"{mapping.where(spec.line)}: messages: {spec.name}"
        try:
            msg = db.get_message_by_name(spec.name)
        except KeyError as err:
            raise MappingError(f"{where}: message {spec.name!r} is not in {dbc_path}") from err
        protections[spec.name] = protection_for(
            msg,
            algorithm=spec.checksum,
            checksum_signal=spec.checksum_signal,
            counter_signal=spec.counter,
            data_id=spec.data_id,
            where=where,
        )
    commands: dict[tuple[str, str, tuple[tuple[str, Value], ...]], str] = {}
    for name, m in mapping.signals.items():
        where = f"{mapping.where(m.line)}: {name}"
        status_sig = None
        if m.status is not None:
            status_sig = _lookup(db, dbc_path, where + " status", m.status.message, m.status.signal)
            _check_status_transform(where, m.status, status_sig)
        if m.gpio is not None and m.gpio not in gpio_outputs:
            raise MappingError(
                f"{where}: gpio device {m.gpio!r} is not a bridge output; "
                f"known: {', '.join(sorted(gpio_outputs))}"
            )
        if m.command is None:
            continue
        c = m.command
        where = f"{mapping.where(c.line or m.line)}: {name}: command"
        sig = _lookup(db, dbc_path, where, c.message, c.signal)
        if c.signal in c.fixed:
            raise MappingError(f"{where}: command signal {c.signal} cannot also be a fixed selector")
        for selector, value in c.fixed.items():
            fixed_sig = _lookup(db, dbc_path, where + " fixed", c.message, selector)
            problem = check_value(fixed_sig, value)
            if problem:
                raise MappingError(f"{where}: fixed {c.message}.{selector} = {value!r}: {problem}")
        _check_command_values(where, c, sig)
        if c.style in ("press_until", "toggle") and status_sig is None:
            raise MappingError(f"{where}: style {c.style} needs a status to watch")
        protection = protections.get(c.message)
        if protection is None:
            protection = FrameProtection(db.get_message_by_name(c.message), None, None, None)
            protections[c.message] = protection
        sealed = {s.name for s in (protection.counter, protection.checksum) if s is not None}
        if sealed & ({c.signal} | set(c.fixed)):
            raise MappingError(f"{where}: {', '.join(sorted(sealed))}: the counter/checksum, not a command")
        key = (c.message, c.signal, tuple(sorted(c.fixed.items())))
        if key in commands:
            raise MappingError(f"{where}: same command frame and selectors as {commands[key]}")
        commands[key] = name
    return protections


def _check_status_transform(where: str, status: StatusRef, sig: cantools.database.can.Signal) -> None:
    t = status.transform
    if t is None or t.table is None:
        return
    for key in t.table:
        problem = check_value(sig, key)
        if problem:
            raise MappingError(
                f"{where} status: transform reads {key!r}, which {status.message}.{status.signal} never "
                f"reports: {problem}"
            )


def _check_command_values(where: str, c: CommandRef, sig: cantools.database.can.Signal) -> None:
    """Every value the command can put in its signal must fit the DBC (maps, release, increase/decrease)."""
    candidates: list[tuple[str, Value]] = []
    if c.transform is not None:
        candidates += [(f"transform output {v!r}", v) for v in c.transform.outputs()]
    for key in ("release", "increase", "decrease"):
        value = getattr(c, key)
        if value is not None:
            candidates.append((f"{key} {value!r}", value))
    for what, value in candidates:
        problem = check_value(sig, value)
        if problem:
            raise MappingError(f"{where}: {what} does not fit {c.message}.{c.signal}: {problem}")
