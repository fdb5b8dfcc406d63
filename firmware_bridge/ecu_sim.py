"""``BodyControllerSim``: a car's body controller and gateway, simulated on the bus from its DBC and mapping.

It is the car's side of the wire, built from the same data as the bridge: every
mapped vehicle signal with a command and a status is an actuator.  The
controller reads the command frames as the mapping says the bridge writes them
(``set``: the target; ``press``: a button pressed once; ``toggle``: a button that
flips the status; ``press_until``: a switch that moves the status while held),
and reports the result in the status frames.  A small YAML of the car's physics
(``physics/<car>.yaml``) says which actuators take travel time, how long, and
where the car starts; everything else acts at once.

Like a real ECU it ignores a command frame it cannot honour and counts it in
``rejected`` (by reason in ``rejections``): a value outside the DBC range or
none of its choices, a wrong checksum, a rolling counter that did not move.
Nothing a frame carries stops its threads.  A target equal to where an actuator
stands stops its travel there (the assistant's cancel sends the current
position).  Status messages go out at their DBC cycle (``GenMsgCycleTime``, or
the physics file's ``status_cycle_ms``), and promptly after a change; speed and
gear follow a drive scenario (YAML keyframes, speed interpolated linearly)
unless ``set_drive`` overrides them.

It sends speed 0 and every status frame, so it must never share a bus with a
real car: it runs on the ``virtual`` interface, and on any other only when
built with ``bench=True``, which logs a loud warning.
"""

from __future__ import annotations

import fnmatch
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any

import can
import cantools.database
import yaml
from cantools.database.namedsignalvalue import NamedSignalValue

from firmware_bridge.bus import Frame, Receiver, Value, decode, load_dbc, open_bus
from firmware_bridge.checksums import FrameProtection
from firmware_bridge.config import PACKAGE_DIR, BridgeConfig
from firmware_bridge.errors import BridgeConfigError, MappingError
from firmware_bridge.gpio import GPIO_OUTPUTS
from firmware_bridge.mapping import (
    Allowlist,
    CommandRef,
    StatusRef,
    VehicleMapping,
    _read_yaml,
    check_mapping,
    check_value,
    load_mapping,
    marks_a_number,
    signal_range,
)
from firmware_bridge.monitor import format_frame
from firmware_bridge.transforms import Transform, TransformError
from firmware_bridge.yamlfile import line_of as _line
from firmware_bridge.yamlfile import parse_yaml, refuse_unknown_keys

log = logging.getLogger(__name__)

SCENARIO_DIR = PACKAGE_DIR / "scenarios"
PHYSICS_DIR = PACKAGE_DIR / "physics"
TICK_S = 0.01
GEARS = ("park", "reverse", "neutral", "drive")
SPEED = "Vehicle.Speed"
GEAR = "Vehicle.Powertrain.Transmission.SelectedGear"
DEFAULT_STATUS_CYCLE_S = 0.1
"""A status message whose DBC names no GenMsgCycleTime, and no physics file overrides."""
DEFAULT_SWITCH_TRAVEL_S = 3.0
"""Full range of a ``press_until`` actuator the physics file gives no travel."""
HELD_S = 0.15
"""A ``press_until`` switch counts as held this long after its last frame (a few of its repeats)."""
DOMAIN_POINTS = 4096
"""Most values of a status signal tried when inverting a ``math`` transform."""
LEGACY_TRAVEL = ("window", "sunroof", "trunk", "mirror")
"""Travel groups the constructor's ``<group>_travel_s`` keywords override (when the car has them)."""


# -- drive scenarios -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Keyframe:
    t_s: float
    speed_kmh: float
    gear: str


@dataclass(frozen=True)
class DriveScenario:
    """Speed and gear over time; speed linear between keyframes, gear held from its keyframe."""

    keyframes: tuple[Keyframe, ...]
    loop: bool = False

    def at(self, t_s: float) -> tuple[float, str]:
        frames = self.keyframes
        end = frames[-1].t_s
        if self.loop and end > 0:
            t_s %= end
        if t_s >= end:
            return frames[-1].speed_kmh, frames[-1].gear
        for a, b in zip(frames, frames[1:], strict=False):
            if a.t_s <= t_s < b.t_s:
                share = (t_s - a.t_s) / (b.t_s - a.t_s)
                return a.speed_kmh + share * (b.speed_kmh - a.speed_kmh), a.gear
        return frames[0].speed_kmh, frames[0].gear


def load_scenario(scenario: str | Path) -> DriveScenario:
    """A scenario by name (``parked``, ``city_drive`` in firmware_bridge/scenarios) or by path."""
    path = Path(scenario) if Path(scenario).suffix in (".yaml", ".yml") else SCENARIO_DIR / f"{scenario}.yaml"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        known = ", ".join(p.stem for p in sorted(SCENARIO_DIR.glob("*.yaml")))
        raise BridgeConfigError(
            f"cannot read drive scenario {path}: {err.strerror}; built in: {known}"
        ) from err
    try:  # the mapping's loader: a key given twice is refused, lines are kept for the errors below
        data = parse_yaml(text, path, BridgeConfigError)
    except yaml.YAMLError as err:
        raise BridgeConfigError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(data, dict) or set(data) - {"loop", "keyframes"} or not data.get("keyframes"):
        raise BridgeConfigError(f"{path}: expected 'keyframes' (a list) and optional 'loop'")
    if not isinstance(data.get("loop", False), bool):
        raise BridgeConfigError(f"{path}:{_line(data, 'loop')}: loop must be true or false")
    if not isinstance(data["keyframes"], list):
        raise BridgeConfigError(f"{path}:{_line(data, 'keyframes')}: keyframes must be a list")
    frames = []
    for i, raw in enumerate(data["keyframes"]):
        if not isinstance(raw, dict) or set(raw) != {"t_s", "speed_kmh", "gear"}:
            raise BridgeConfigError(f"{path}: keyframe {i} needs exactly t_s, speed_kmh, gear")
        where = f"{path}:{_line(raw)}: keyframe {i}"
        if raw["gear"] not in GEARS:
            raise BridgeConfigError(f"{where}: gear {raw['gear']!r}; use {', '.join(GEARS)}")
        for key in ("t_s", "speed_kmh"):
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise BridgeConfigError(f"{where}: {key} must be a finite number, got {value!r}")
        if not 0 <= float(raw["speed_kmh"]) <= 300:
            raise BridgeConfigError(f"{where}: speed_kmh {raw['speed_kmh']} outside 0..300")
        frames.append(Keyframe(float(raw["t_s"]), float(raw["speed_kmh"]), str(raw["gear"])))
    if any(b.t_s <= a.t_s for a, b in zip(frames, frames[1:], strict=False)) or frames[0].t_s != 0:
        raise BridgeConfigError(f"{path}: keyframe times must start at 0 and increase")
    return DriveScenario(tuple(frames), bool(data.get("loop", False)))


# -- physics -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Travel:
    """How an actuator moves: ``seconds`` for its full range (or one whole move)."""

    seconds: float
    continuous: bool = False
    """True: the status walks through every value (a window); False: it jumps when the move is done."""


@dataclass(frozen=True)
class Physics:
    """A car's physics file: travel per group, which signals travel, where the car starts."""

    path: Path | None
    travel: Mapping[str, Travel]
    moves: Mapping[str, str]
    """Vehicle signal pattern (fnmatch) -> travel group."""
    initial: Mapping[str, Any]
    """Vehicle signal -> vehicle value, or ``MESSAGE.Signal`` -> DBC value."""
    status_cycle_s: float | None = None
    lines: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def where(self, key: str) -> str:
        line = self.lines.get(key, 0)
        return f"{self.path}:{line}" if line else str(self.path)


NO_PHYSICS = Physics(None, MappingProxyType({}), MappingProxyType({}), MappingProxyType({}))


def load_physics(path: Path) -> Physics:
    """A physics file (see physics/reference_car.yaml); shape errors name file:line."""
    path = Path(path)
    data = _read_yaml(path, "physics file")
    refuse_unknown_keys(data, ("status_cycle_ms", "travel", "moves", "initial"), path, MappingError)
    lines: dict[str, int] = {}
    cycle = data.get("status_cycle_ms")
    if cycle is not None and (isinstance(cycle, bool) or not isinstance(cycle, int | float) or cycle <= 0):
        where = f"{path}:{_line(data, 'status_cycle_ms')}"
        raise MappingError(f"{where}: status_cycle_ms must be a number > 0, got {cycle!r}")
    travel: dict[str, Travel] = {}
    for group, raw in _section(path, data, "travel").items():
        where = f"{path}:{_line(data['travel'], group)}: travel {group}"
        if not isinstance(raw, dict) or "seconds" not in raw or set(raw) - {"seconds", "continuous"}:
            raise MappingError(f"{where}: give {{seconds: S, continuous: true|false}}")
        seconds, continuous = raw["seconds"], raw.get("continuous", False)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds < 600:
            raise MappingError(f"{where}: seconds must be a number in 0..600, got {seconds!r}")
        if not isinstance(continuous, bool):
            raise MappingError(f"{where}: continuous is true or false, got {continuous!r}")
        travel[str(group)] = Travel(float(seconds), continuous)
    moves: dict[str, str] = {}
    for pattern, group in _section(path, data, "moves").items():
        lines[f"moves:{pattern}"] = _line(data["moves"], pattern)
        if group not in travel:
            raise MappingError(
                f"{path}:{lines[f'moves:{pattern}']}: moves {pattern}: travel {group!r} is not defined; "
                f"defined: {', '.join(travel) or 'none'}"
            )
        moves[str(pattern)] = str(group)
    initial: dict[str, Any] = {}
    for key, value in _section(path, data, "initial").items():
        lines[f"initial:{key}"] = _line(data["initial"], key)
        initial[str(key)] = int(value) if isinstance(value, bool) else value
    return Physics(
        path,
        MappingProxyType(travel),
        MappingProxyType(moves),
        MappingProxyType(initial),
        float(cycle) / 1000 if cycle is not None else None,
        MappingProxyType(lines),
    )


def _section(path: Path, data: Mapping[str, Any], key: str) -> Mapping[Any, Any]:
    raw = data.get(key) or {}
    if not isinstance(raw, dict):
        raise MappingError(f"{path}:{_line(data, key)}: {key} must be a mapping")
    return raw


def physics_path(mapping: VehicleMapping) -> Path | None:
    """``physics/<car>.yaml`` for the mapping's car (its ``car.name``, else the file's stem), if it ships."""
    names = [mapping.car.name] if mapping.car is not None else []
    for name in [*names, mapping.path.stem]:
        path = PHYSICS_DIR / f"{name}.yaml"
        if "/" not in name and path.is_file():
            return path
    return None


# -- values through transforms ------------------------------------------------------------------------


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _domain(sig: cantools.database.can.Signal) -> list[Value]:
    """The values ``sig`` can carry: its choice names, else up to DOMAIN_POINTS numbers of its range."""
    if sig.choices:
        return [str(c) for c in sig.choices.values()]
    low, high = signal_range(sig)
    step = abs(float(sig.scale)) or 1.0
    count = int(round((high - low) / step)) + 1
    stride = max(1, math.ceil(count / DOMAIN_POINTS))
    return [_number(round(low + i * step, 9)) for i in range(0, count, stride)]


def _invert(transform: Transform | None, value: Value, domain: Callable[[], Iterable[Value]]) -> list[Value]:
    """Every input ``transform`` sends to ``value`` (the nearest one for ``math``), first in the map first."""
    if transform is None:
        return [value]
    if transform.table is not None:
        return [k for k, v in transform.table.items() if v == value]
    if isinstance(value, str):
        return []
    if transform.tree is None:
        return [_number((float(value) - transform.offset) / transform.scale)]
    best: tuple[float, Value] | None = None
    for x in domain():
        try:
            y = transform.apply(x)
        except TransformError:
            continue
        if isinstance(y, str):
            continue
        distance = abs(float(y) - float(value))
        if best is None or distance < best[0]:
            best = (distance, x)
    return [best[1]] if best is not None else []


def _status_values(status: StatusRef, sig: cantools.database.can.Signal, value: Value) -> list[Value]:
    """The values of status signal ``sig`` that read as vehicle value ``value``, first in the map first."""
    return [v for v in _invert(status.transform, value, lambda: _domain(sig)) if check_value(sig, v) is None]


def _start_value(sig: cantools.database.can.Signal) -> Value:
    """The DBC start value of ``sig`` (choice name for enums); 0 or the range's low end without one."""
    value: Any = sig.initial
    if isinstance(value, NamedSignalValue):
        return value.name
    if value is None:
        low, high = signal_range(sig)
        value = 0 if low <= 0 <= high else low
    if sig.choices and not marks_a_number(sig):
        choice = sig.choices.get(int(value))
        return str(choice) if choice is not None else str(next(iter(sig.choices.values())))
    return value  # type: ignore[no-any-return]


Key = tuple[str, str]
"""A status signal: (message, signal)."""
Page = tuple[str, tuple[tuple[str, int], ...]]
"""A status frame: its message and, when multiplexed, the multiplexer's value."""


def _pages(message: cantools.database.can.Message) -> list[tuple[tuple[str, int], ...]]:
    """One entry per frame a status message needs: its multiplexer values, or one empty one."""
    for node in message.signal_tree:
        if isinstance(node, dict):
            ((mux, branches),) = node.items()
            return [((mux, int(value)),) for value in branches]
    return [()]


@dataclass(frozen=True)
class _Actuator:
    """One mapped vehicle signal the controller moves: its command, its status and how it travels."""

    name: str
    command: CommandRef
    status: StatusRef
    key: Key
    sig: cantools.database.can.Signal
    travel: Travel | None
    up: int
    """+1 when a larger DBC status value reads as a larger vehicle value, else -1 (press_until)."""

    def vehicle(self, dbc_value: Value) -> Value | None:
        try:
            return self.status.read(dbc_value)
        except TransformError:
            return None

    def to_status(self, vehicle_value: Value) -> Value | None:
        """The DBC status value that reports ``vehicle_value`` (the first one a map names)."""
        found = _status_values(self.status, self.sig, vehicle_value)
        return found[0] if found else None

    def targets(self, command_value: Value) -> list[Value]:
        """The vehicle values a command value asks for (several for a button that toggles)."""

        def vehicle_domain() -> Iterable[Value]:
            for x in _domain(self.sig):
                v = self.vehicle(x)
                if v is not None:
                    yield v

        return list(dict.fromkeys(_invert(self.command.transform, command_value, vehicle_domain)))


def _direction(status: StatusRef, sig: cantools.database.can.Signal) -> int:
    if status.transform is None or sig.choices:
        return 1
    low, high = signal_range(sig)
    try:
        a, b = status.read(low), status.read(high)
    except TransformError:
        return 1
    return -1 if not isinstance(a, str) and not isinstance(b, str) and b < a else 1


class BodyControllerSim:
    """A simulated car on the bus from ``config``'s DBC and mapping; ``start()``/``stop()`` or ``with``.

    ``physics`` is the car's physics file (default: ``physics/<car>.yaml``; none: every actuator
    instant).  ``travel_s`` overrides a travel group's seconds by name; ``window_travel_s`` and the
    like override the groups of those names when the car has them.  ``status_period_s`` overrides
    every status message's cycle.
    """

    def __init__(
        self,
        config: BridgeConfig | None = None,
        *,
        window_travel_s: float | None = None,
        sunroof_travel_s: float | None = None,
        trunk_travel_s: float | None = None,
        mirror_travel_s: float | None = None,
        status_period_s: float | None = None,
        scenario: str | Path = "parked",
        on_command: Callable[[Frame], None] | None = None,
        bus: can.BusABC | None = None,
        bench: bool = False,
        physics: str | Path | None = None,
        travel_s: Mapping[str, float] | None = None,
    ) -> None:
        self.config = config or BridgeConfig()
        if self.config.interface != "virtual" and not bench:
            raise BridgeConfigError(
                f"the simulated body controller runs only on the virtual interface, not "
                f"{self.config.interface}:{self.config.channel}: it sends speed 0 and every status frame, "
                "which would spoof a real car's; for a bench without a car, ask for it explicitly "
                "(can.simulate: true, or car-assistant ecu-sim)"
            )
        self.bench = bench
        self._db = load_dbc(self.config.dbc_path)
        self.mapping = load_mapping(self.config.mapping_path)
        # the car obeys what its DBC and mapping say; what the assistant may write is not its business
        nothing = Allowlist(MappingProxyType({}), frozenset(), self.config.allowlist_path)
        self._protections: dict[str, FrameProtection] = check_mapping(
            self.mapping, nothing, self._db, self.config.dbc_path, GPIO_OUTPUTS
        )
        physics_file = Path(physics) if physics is not None else physics_path(self.mapping)
        self.physics = load_physics(physics_file) if physics_file is not None else NO_PHYSICS
        overrides = dict(travel_s or {})
        legacy = (window_travel_s, sunroof_travel_s, trunk_travel_s, mirror_travel_s)
        for group, seconds in zip(LEGACY_TRAVEL, legacy, strict=True):
            if seconds is not None and group in self.physics.travel:
                overrides.setdefault(group, seconds)
        travel = dict(self.physics.travel)
        for group, seconds in overrides.items():
            if group not in travel:
                raise BridgeConfigError(
                    f"travel_s names {group!r}, which {self.physics.path or 'this car'} does not define; "
                    f"it has {', '.join(travel) or 'none'}"
                )
            travel[group] = Travel(float(seconds), travel[group].continuous)
        if any(not t.seconds > 0 for t in travel.values()) or (
            status_period_s is not None and not status_period_s > 0
        ):
            raise BridgeConfigError("travel times and status_period_s must be > 0 seconds")
        self._actuators = self._build_actuators(travel)
        self._by_key = {a.key: a for a in self._actuators}
        self._commands = {a.command.message for a in self._actuators}
        self._status_messages = list(
            dict.fromkeys(m.status.message for m in self.mapping.signals.values() if m.status is not None)
        )
        self._cycles = {
            name: status_period_s
            or self.physics.status_cycle_s
            or (self._db.get_message_by_name(name).cycle_time or 0) / 1000
            or DEFAULT_STATUS_CYCLE_S
            for name in self._status_messages
        }
        self._values: dict[Key, Value] = {}
        for name in self._status_messages:
            for sig in self._db.get_message_by_name(name).signals:
                self._values[(name, sig.name)] = _start_value(sig)
        self._apply_initial()
        self._drive_map = self._drive_signals()
        self._drive_cache: dict[tuple[str, Value], Value | None] = {}
        self._signal_names = {
            name: [sig.name for sig in self._db.get_message_by_name(name).signals]
            for name in self._status_messages
        }
        self._pages = {name: _pages(self._db.get_message_by_name(name)) for name in self._status_messages}
        self._scenario = load_scenario(scenario)
        self._on_command = on_command
        self._given_bus = bus
        self._bus: can.BusABC | None = None
        self._notifier: can.Notifier | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._moves: dict[Key, tuple[Value, float]] = {}  # status signal -> (target, command time)
        self._held: dict[Key, tuple[int, float]] = {}  # press_until: status signal -> (direction, last frame)
        self._buttons: dict[tuple[str, str, tuple[tuple[str, Value], ...]], Value] = {}
        self._target_cache: dict[tuple[str, Value], list[Value]] = {}
        self._counters: dict[str, int] = {}
        self._status_counters: dict[str, int] = {}
        self._ignored: set[str] = set()
        self._jammed: set[Key] = set()
        self._drive_override: tuple[float, str] | None = None
        self._t0 = time.monotonic()
        self.rejected = 0
        """Command frames ignored: out of range, none of the choices, a bad checksum, a stale counter."""
        self.rejections: Counter[str] = Counter()
        """``rejected`` by reason: "range", "undecodable", "checksum", "counter"."""
        self.failures = 0
        """Ticks or received frames that raised; logged, counted, and the controller carries on."""
        self._logged: set[str] = set()
        self._reported_dead = False

    # -- building from the mapping -----------------------------------------------------------------

    def _build_actuators(self, travel: Mapping[str, Travel]) -> tuple[_Actuator, ...]:
        out = []
        matched: set[str] = set()
        for name, m in self.mapping.signals.items():
            if m.command is None or m.status is None:
                continue
            patterns = [p for p in self.physics.moves if fnmatch.fnmatchcase(name, p)]
            matched.update(patterns)
            group = self.physics.moves[patterns[0]] if patterns else None
            sig = self._db.get_message_by_name(m.status.message).get_signal_by_name(m.status.signal)
            moves = travel[group] if group is not None else None
            if m.command.style == "press_until" and moves is None:
                moves = Travel(DEFAULT_SWITCH_TRAVEL_S, continuous=True)
            if moves is not None and moves.continuous and sig.choices:
                raise MappingError(
                    f"{self.physics.where(f'moves:{patterns[0]}')}: {name} reports choices "
                    f"({m.status.message}.{m.status.signal}); only a number can travel continuously"
                )
            key = (m.status.message, m.status.signal)
            out.append(_Actuator(name, m.command, m.status, key, sig, moves, _direction(m.status, sig)))
        for pattern in set(self.physics.moves) - matched:
            raise MappingError(
                f"{self.physics.where(f'moves:{pattern}')}: moves {pattern!r} matches no actuator of "
                f"{self.mapping.path} (a signal with both command and status)"
            )
        return tuple(out)

    def _apply_initial(self) -> None:
        for key, value in self.physics.initial.items():
            where = f"{self.physics.where(f'initial:{key}')}: initial {key}"
            m = self.mapping.signals.get(key)
            if m is not None and m.status is not None:
                sig = self._db.get_message_by_name(m.status.message).get_signal_by_name(m.status.signal)
                found = _status_values(m.status, sig, value)
                if not found:
                    raise MappingError(
                        f"{where}: no value of {m.status.message}.{m.status.signal} reads as {value!r}"
                    )
                self._values[(m.status.message, m.status.signal)] = found[0]
                continue
            message, _, signal = key.partition(".")
            if (message, signal) not in self._values:
                raise MappingError(
                    f"{where}: neither a vehicle signal with a status in {self.mapping.path} nor a "
                    f"MESSAGE.Signal of a status message ({', '.join(self._status_messages)})"
                )
            sig = self._db.get_message_by_name(message).get_signal_by_name(signal)
            problem = check_value(sig, value)
            if problem:
                raise MappingError(f"{where}: {value!r} does not fit {key}: {problem}")
            self._values[(message, signal)] = value

    def _drive_signals(self) -> dict[str, tuple[Key, StatusRef, cantools.database.can.Signal]]:
        out = {}
        for name in (SPEED, GEAR):
            m = self.mapping.signals.get(name)
            if m is not None and m.status is not None:
                sig = self._db.get_message_by_name(m.status.message).get_signal_by_name(m.status.signal)
                out[name] = ((m.status.message, m.status.signal), m.status, sig)
        return out

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> BodyControllerSim:
        if self._thread is not None:
            return self
        if self.config.interface != "virtual":
            log.warning(
                "SIMULATED BODY CONTROLLER ON %s:%s: it broadcasts speed 0 and every status frame. "
                "Bench use only; never on a bus with a real car on it.",
                self.config.interface,
                self.config.channel,
            )
        self._bus = self._given_bus if self._given_bus is not None else open_bus(self.config)
        self._t0 = time.monotonic()
        self._stopping.clear()
        self._notifier = can.Notifier(self._bus, [Receiver(self._on_rx)], timeout=0.1)
        self._thread = threading.Thread(target=self._run, name="body-controller-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        if self._notifier is not None:
            self._notifier.stop()
            self._notifier = None
        if self._bus is not None:
            self._bus.shutdown()
            self._bus = None

    def __enter__(self) -> BodyControllerSim:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- test controls ---------------------------------------------------------------------------

    def set_drive(self, speed_kmh: float, gear: str) -> None:
        """Hold speed and gear at these values from now on, instead of the scenario."""
        if gear not in GEARS or not 0 <= speed_kmh <= 300:
            raise BridgeConfigError(f"set_drive({speed_kmh}, {gear!r}): speed 0..300, gear one of {GEARS}")
        with self._lock:
            self._drive_override = (float(speed_kmh), gear)

    def ignore(self, message: str) -> None:
        """Fault: never act on command ``message`` (the controller is deaf to it)."""
        if message not in self._commands:
            raise MappingError(
                f"{message!r} is not a command message of {self.mapping.path}; "
                f"it has {', '.join(sorted(self._commands))}"
            )
        with self._lock:
            self._ignored.add(message)

    def jam(self, signal: str) -> None:
        """Fault: the actuator reported by status ``signal`` accepts commands but never moves."""
        key = self._key(signal)
        if key not in self._by_key:
            raise MappingError(f"{signal!r} is not the status signal of an actuator of {self.mapping.path}")
        with self._lock:
            self._jammed.add(key)

    def clear_faults(self) -> None:
        with self._lock:
            self._ignored.clear()
            self._jammed.clear()

    def value(self, signal: str) -> Value:
        """What status ``signal`` (a DBC signal name, ``MESSAGE.Signal`` or vehicle signal) reports now."""
        key = self._key(signal)
        if key not in self._values:
            raise MappingError(f"{signal!r} is not a signal of a status message of {self.mapping.path}")
        with self._lock:
            return self._reported(key)

    def _key(self, signal: str) -> Key:
        m = self.mapping.signals.get(signal)
        if m is not None and m.status is not None:
            return (m.status.message, m.status.signal)
        message, dot, name = signal.partition(".")
        if dot and (message, name) in self._values:
            return (message, name)
        return next((k for k in self._values if k[1] == signal), ("", signal))

    def health(self) -> tuple[str, ...]:
        """What is wrong with the simulator's threads; empty when all is well (logged once)."""
        if self._thread is None or self._stopping.is_set():
            return ()
        problems = []
        if not self._thread.is_alive():
            problems.append("the simulated body controller's status thread has stopped")
        readers = [t for t in getattr(self._notifier, "_readers", []) if isinstance(t, threading.Thread)]
        if any(not t.is_alive() for t in readers):
            problems.append("the simulated body controller no longer receives commands")
        if problems and not self._reported_dead:
            self._reported_dead = True
            log.error("%s", "; ".join(problems))
        return tuple(problems)

    def _once(self, key: str, text: str, *args: Any) -> None:
        if key not in self._logged:
            self._logged.add(key)
            log.warning(text, *args)

    # -- the controller --------------------------------------------------------------------------

    def _on_rx(self, msg: can.Message) -> None:
        try:
            self._command(msg)
        except Exception as err:  # one frame must never stop the controller
            with self._lock:
                self.failures += 1
            self._once(f"rx:{type(err).__name__}", "body controller sim: a received frame failed: %r", err)

    def _reject(self, reason: str, frame: Frame, problem: str) -> None:
        with self._lock:
            self.rejected += 1
            self.rejections[reason] += 1
        self._once(
            f"reject:{frame.message}:{reason}",
            "body controller sim: ignored %s (0x%03X) %s: %s (further ones are only counted)",
            frame.message,
            frame.id,
            frame.data.hex(),
            problem,
        )

    def _verify(self, frame: Frame) -> bool:
        """Checksum right and counter moved on, where the mapping seals the message (as a real ECU checks)."""
        protection = self._protections.get(frame.message)
        if protection is None or (protection.counter is None and protection.checksum is None):
            return True
        try:
            counter = protection.verify(frame.data)
        except (cantools.database.DecodeError, ValueError, KeyError):
            counter = None
        if counter is None:
            self._reject("checksum", frame, "its checksum is wrong")
            return False
        if protection.counter is not None:
            with self._lock:
                stale = self._counters.get(frame.message) == counter
                if not stale:
                    self._counters[frame.message] = counter
            if stale:
                self._reject("counter", frame, f"counter {protection.counter.name}={counter} did not move")
                return False
        return True

    def _command(self, msg: can.Message) -> None:
        if msg.is_error_frame or msg.is_remote_frame:
            return
        frame = decode(self._db, msg, "rx")
        if frame.message not in self._commands:
            return
        if not frame.signals:
            self._reject("undecodable", frame, "undecodable payload")
            return
        if not self._verify(frame):
            return
        dbc = self._db.get_message_by_name(frame.message)
        for name, value in frame.signals.items():
            problem = check_value(dbc.get_signal_by_name(name), value)
            if problem:
                self._reject("range", frame, f"{name}={value!r}: {problem}")
                return
        now = time.monotonic()
        with self._lock:
            if frame.message in self._ignored:
                return
            for a in self._actuators:
                c = a.command
                if c.message != frame.message or c.signal not in frame.signals:
                    continue
                if any(frame.signals.get(sel) != value for sel, value in c.fixed.items()):
                    continue
                if a.key in self._jammed:
                    continue
                self._act(a, frame.signals[c.signal], now)
        if self._on_command is not None:
            self._on_command(frame)

    def _act(self, a: _Actuator, value: Value, now: float) -> None:
        """One command frame's effect on actuator ``a`` (called under the lock)."""
        c = a.command
        if c.style == "set":
            self._move(a, self._choose(a, self._targets(a, value)), now)
            return
        sig = self._db.get_message_by_name(c.message).get_signal_by_name(c.signal)
        release = c.release if c.release is not None else _start_value(sig)
        if c.style == "press_until":
            if value == release:
                self._held.pop(a.key, None)
            elif value in (c.increase, c.decrease):
                self._moves.pop(a.key, None)
                self._held[a.key] = (a.up if value == c.increase else -a.up, now)
            return
        button = (c.message, c.signal, tuple(sorted(c.fixed.items())))
        previous = self._buttons.get(button, release)
        self._buttons[button] = value
        if value == release or value == previous:
            return  # a press acts once, when the button goes down
        self._move(a, self._choose(a, self._targets(a, value)), now)

    def _targets(self, a: _Actuator, value: Value) -> list[Value]:
        # a math transform is inverted by search: once per command value, not once per cyclic frame
        key = (a.name, value)
        if key not in self._target_cache:
            if len(self._target_cache) > 1000:
                self._target_cache.clear()
            self._target_cache[key] = a.targets(value)
        return self._target_cache[key]

    def _choose(self, a: _Actuator, targets: list[Value]) -> Value | None:
        """The status value a command asks for; of several (a toggle), the one that is not current."""
        current = a.vehicle(self._values[a.key])
        wanted = [t for t in targets if t != current] if len(targets) > 1 else targets
        for target in wanted:
            status = a.to_status(target)
            if status is not None:
                return status
        return None

    def _move(self, a: _Actuator, target: Value | None, now: float) -> None:
        if target is None:
            return
        if a.travel is None:
            self._values[a.key] = target
            self._moves.pop(a.key, None)
        elif not a.travel.continuous and target == self._values[a.key]:
            self._moves.pop(a.key, None)  # sent back where it stands: the move is called off
        else:
            self._held.pop(a.key, None)
            self._moves[a.key] = (target, now)

    def _advance(self, now: float, dt: float) -> None:
        for key, (target, since) in list(self._moves.items()):
            a = self._by_key[key]
            if key in self._jammed or a.travel is None:
                continue
            if a.travel.continuous and not isinstance(target, str):
                low, high = signal_range(a.sig)
                step = (high - low) / a.travel.seconds * dt
                pos, goal = float(self._values[key]), float(target)
                pos = min(pos + step, goal) if goal > pos else max(pos - step, goal)
                self._values[key] = pos
                if pos == goal:
                    del self._moves[key]
            elif now - since >= a.travel.seconds:
                self._values[key] = target
                del self._moves[key]
        for key, (direction, seen) in list(self._held.items()):
            a = self._by_key[key]
            if now - seen > HELD_S:
                del self._held[key]
                continue
            if key in self._jammed or a.travel is None:
                continue
            low, high = signal_range(a.sig)
            pos = float(self._values[key]) + direction * (high - low) / a.travel.seconds * dt
            self._values[key] = min(high, max(low, pos))

    def _reported(self, key: Key) -> Value:
        value = self._values[key]
        a = self._by_key.get(key)
        if a is not None and a.travel is not None and a.travel.continuous and not isinstance(value, str):
            # a moving position is reported on the DBC's grid, as its encoder would
            scale, offset = float(a.sig.scale), float(a.sig.offset)
            return _number(round((float(value) - offset) / scale) * scale + offset)
        return value

    def _drive(self, now: float) -> None:
        speed, gear = self._drive_override or self._scenario.at(now - self._t0)
        for name, value in ((SPEED, round(speed, 2)), (GEAR, gear)):
            if name not in self._drive_map:
                continue
            key, status, sig = self._drive_map[name]
            if (name, value) not in self._drive_cache:
                if len(self._drive_cache) > 1000:
                    self._drive_cache.clear()  # a drive passes through many speeds; keep it small
                found = _status_values(status, sig, value)
                self._drive_cache[(name, value)] = found[0] if found else None
            reported = self._drive_cache[(name, value)]
            if reported is not None:
                self._values[key] = reported

    def _status_payloads(self, now: float) -> list[tuple[Page, dict[str, Value]]]:
        """Each status message's signals (a frame per page if multiplexed); speed and gear at ``now``."""
        self._drive(now)
        out = []
        for name in self._status_messages:
            values = {signal: self._reported((name, signal)) for signal in self._signal_names[name]}
            for page in self._pages[name]:
                out.append(((name, page), {**values, **dict(page)}))
        return out

    def _run(self) -> None:
        last_sent: dict[Page, dict[str, Value]] = {}
        due: dict[str, float] = {}
        previous = time.monotonic()
        while not self._stopping.wait(TICK_S):
            now = time.monotonic()
            try:
                with self._lock:
                    self._advance(now, now - previous)
                    payloads = self._status_payloads(now)
                previous = now
                periodic = {name for name in self._status_messages if now >= due.get(name, 0.0)}
                for name in periodic:
                    due[name] = now + self._cycles[name]
                for page, signals in payloads:
                    if page[0] in periodic or last_sent.get(page) != signals:
                        if not self._send(page[0], signals):
                            return
                        last_sent[page] = signals
            except Exception as err:  # a bug in one tick must not silence the car for good
                with self._lock:
                    self.failures += 1
                self._once(f"tick:{type(err).__name__}", "body controller sim: a tick failed: %r", err)

    def _send(self, message: str, signals: dict[str, Value]) -> bool:
        dbc = self._db.get_message_by_name(message)
        protection = self._protections.get(message)
        if protection is not None and (protection.counter is not None or protection.checksum is not None):
            counter = self._status_counters.get(message, 0)
            self._status_counters[message] = counter + 1
            data = protection.seal(signals, counter)
        else:
            # only the signals of the page's multiplexer value: strict encode refuses the rest
            values = dict(dbc.gather_signals(signals)) if dbc.is_multiplexed() else signals
            data = bytes(dbc.encode(values, strict=True))
        msg = can.Message(arbitration_id=dbc.frame_id, is_extended_id=dbc.is_extended_frame, data=data)
        bus = self._bus
        if bus is None:
            return False
        try:
            bus.send(msg, timeout=0.2)
        except (can.CanError, OSError, ValueError) as err:
            if not self._stopping.is_set():
                log.error("body controller sim: sending %s failed: %s", message, err)
            return not self._stopping.is_set()
        return True


def run_ecu_sim(
    config: BridgeConfig | None = None,
    duration_s: float | None = None,
    print_fn: Callable[[str], None] = print,
    **sim_options: Any,
) -> None:
    """Run the simulator alone (``car-assistant ecu-sim`` on a bench), one line per command handled.

    Runs until Ctrl-C, or for ``duration_s`` seconds.  ``sim_options`` go to ``BodyControllerSim``.
    """
    config = config or BridgeConfig()
    # asked for by name (car-assistant ecu-sim): a bench, so any interface, with the loud warning
    sim_options.setdefault("bench", True)
    sim = BodyControllerSim(config, on_command=lambda frame: print_fn(format_frame(frame)), **sim_options)
    with sim:
        print_fn(f"body controller simulator on {config.interface}:{config.channel}; Ctrl-C to stop")
        try:
            if duration_s is None:
                while True:
                    time.sleep(1.0)
            else:
                time.sleep(duration_s)
        except KeyboardInterrupt:
            pass
