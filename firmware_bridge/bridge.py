"""``CanBridge``: vehicle signal names in, checked CAN frames out, confirmed by status frames.

Three gates stand before any frame leaves, all passed for every target before
the first frame is sent: the vehicle signal has a command mapping, its frame's
message and signals are on the allowlist, and ``encode(strict=True)`` accepts
the value.  An actuation is done when the car's status frame reports the
target, never when the command is sent; the state the bridge reports only ever
comes from decoded status frames (or the GPIO pin read back).

A received value is believed only while it is current and plausible: a frame
with a value outside its DBC range is dropped whole; a value not heard again
within its mapping's ``max_age_s`` is stale; a value that jumps faster than its
``max_rate`` (50 -> 0 km/h in 20 ms) is a contradiction and stays untrusted for
``SUSPECT_HOLD_S``.  ``state()`` holds only current, trusted values, so a guard
reading it sees a stale or contradicted speed as no speed at all (moving).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Any, Literal

import can
import cantools.database
from cantools.database.namedsignalvalue import NamedSignalValue

from firmware_bridge.bus import (
    BusHealth,
    Frame,
    Receiver,
    SupervisedBus,
    Value,
    decode,
    load_dbc,
    open_bus,
)
from firmware_bridge.checksums import FrameProtection
from firmware_bridge.config import BridgeConfig
from firmware_bridge.errors import (
    BusDownError,
    CarCannotError,
    EncodeError,
    MappingError,
    NotAllowedError,
    NotStartedError,
    SendError,
)
from firmware_bridge.gpio import GPIO_OUTPUTS, BridgeGpio
from firmware_bridge.mapping import (
    DEFAULT_INTERVAL_MS,
    DEFAULT_MAX_AGE_S,
    Allowlist,
    CommandRef,
    SignalMapping,
    StatusRef,
    VehicleMapping,
    check_mapping,
    check_value,
    load_allowlist,
    load_mapping,
    marks_a_number,
)
from firmware_bridge.transforms import TransformError

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 0.2
"""How long a send may wait for room in the bus's transmit queue."""
SUSPECT_HOLD_S = 1.0
"""Seconds a value stays untrusted after a contradiction (an implausible jump, a garbled frame)."""
LOG_EVERY_S = 10.0
"""A repeated receive problem (a flood of forged frames) is logged at most this often."""


@dataclass(frozen=True)
class Reading:
    """One vehicle signal as last reported, with how old that report is."""

    value: Value
    age_s: float
    """Seconds since a status frame (or the GPIO read-back) last confirmed the value."""
    current: bool
    """False when older than the mapping's ``max_age_s`` or untrusted after a contradiction."""


@dataclass(frozen=True)
class Actuation:
    """What became of one ``actuate`` call."""

    targets: Mapping[str, Value]
    confirmed: Mapping[str, Value]
    """Vehicle signal -> the value its status frame (or GPIO read-back) reported."""
    timed_out: tuple[str, ...]
    """Vehicle signals whose status did not report the target within their confirm timeout."""
    frames: tuple[Frame, ...]
    """Every command frame sent, then the status frames that confirmed, in time order."""
    elapsed_s: float
    superseded: tuple[str, ...] = ()
    """Vehicle signals a newer ``actuate`` re-targeted before this one's target was reported."""
    unsent: tuple[str, ...] = ()
    """Vehicle signals whose command frame never left: the bus failed after earlier frames went out
    (when the first frame fails, ``actuate`` raises SendError instead)."""

    @property
    def ok(self) -> bool:
        return not self.timed_out and not self.unsent and set(self.confirmed) == set(self.targets)


def _initial(sig: cantools.database.can.Signal) -> Value:
    """The DBC start value of ``sig`` as a physical value (choice name for enums)."""
    value: Any = sig.initial
    if value is None:
        value = sig.minimum if sig.minimum is not None and sig.minimum > 0 else 0
    if isinstance(value, NamedSignalValue):
        return value.name
    if sig.choices:
        choice = sig.choices.get(int(value))
        return str(choice) if choice is not None else str(next(iter(sig.choices.values())))
    return value  # type: ignore[no-any-return]


def _read(status: StatusRef | None, value: Value | None) -> Value | None:
    """The vehicle value of a decoded status value; ``None`` when its transform cannot take it."""
    if status is None or value is None:
        return value
    try:
        return status.read(value)
    except TransformError:
        return None


def _matches(reported: Value, target: Value, tolerance: float) -> bool:
    if isinstance(reported, str) or isinstance(target, str):
        return reported == target
    return abs(float(reported) - float(target)) <= tolerance + 1e-9


@dataclass
class _Pending:
    """One target awaiting its status frame."""

    status: StatusRef
    target: Value
    tolerance: float
    deadline: float


@dataclass
class _Waiter:
    pending: dict[str, _Pending]
    confirmed: dict[str, Value] = field(default_factory=dict)
    superseded: set[str] = field(default_factory=set)
    frames: list[Frame] = field(default_factory=list)


@dataclass(frozen=True)
class _PlannedFrame:
    message: cantools.database.can.Message
    values: Mapping[str, Value]
    """Physical values of every signal but the counter and checksum, which ``seal`` adds per frame."""
    names: tuple[str, ...]
    mode: Literal["once", "until_confirmed", "hold"] = "once"
    period_s: float = 0.0
    """Repeat period of a cyclic transmission."""
    hold_s: float = 0.0
    """hold: how long the pressed value is repeated before the release."""
    release: Mapping[str, Value] | None = None
    """Values sent once when a press ends."""


@dataclass
class _Transmission:
    """A cyclic transmission under way: python-can's periodic task and when it ends."""

    planned: _PlannedFrame
    task: can.broadcastmanager.CyclicSendTaskABC
    ends: float


class _Throttle:
    """Logs one line per problem kind at most every ``LOG_EVERY_S``, with how many were held back."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def warn(self, kind: str, text: str) -> None:
        now = time.monotonic()
        if now - self._last.get(kind, -math.inf) < LOG_EVERY_S:
            self._held[kind] = self._held.get(kind, 0) + 1
            return
        held = self._held.pop(kind, 0)
        self._last[kind] = now
        log.warning("%s%s", text, f" ({held} more like it since the last report)" if held else "")


class CanBridge:
    """The assistant's one door to the car: ``state()`` to read, ``actuate()`` to write.

    ``bus`` replaces the bus the config would open (tests, odd adapters); the
    bridge takes ownership and shuts it down on ``close()``.
    """

    def __init__(self, config: BridgeConfig | None = None, *, bus: can.BusABC | None = None) -> None:
        self.config = config or BridgeConfig()
        self._given_bus = bus
        self._bus: can.BusABC | None = None
        self._notifier: can.Notifier | None = None
        self._gpio: BridgeGpio | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._send_lock = threading.Lock()
        self._state: dict[str, Value] = {}
        self._heard_at: dict[str, float] = {}  # vehicle signal -> monotonic time of its last report
        self._stamp: dict[str, float] = {}  # vehicle signal -> its last frame's timestamp (plausibility)
        self._suspect_until: dict[str, float] = {}
        self._seen: set[str] = set()
        self.counts: dict[str, int] = {
            "out_of_range": 0, "implausible": 0, "rx_failed": 0, "bad_checksum": 0, "stale_counter": 0,
        }  # fmt: skip
        """Received frames dropped for a value outside the DBC range, values that jumped
        implausibly, frames the receive side failed on, and frames of a message whose mapping
        declares a checksum or counter that came with a wrong checksum or a counter that did not move on."""
        self._rx_counters: dict[str, tuple[int, float]] = {}
        """Message name -> the rolling counter of its last verified frame and when it came (monotonic)."""
        self._throttle = _Throttle()
        self._reported_dead: set[str] = set()
        self._rx_signals: dict[str, dict[str, cantools.database.can.Signal]] = {}
        self._waiters: list[_Waiter] = []
        self._subscribers: list[Callable[[Frame], None]] = []
        self._log: deque[Frame] = deque(maxlen=self.config.frame_log_size)
        self._db: cantools.database.can.Database | None = None
        self._mapping: VehicleMapping | None = None
        self._allowlist: Allowlist | None = None
        self._by_status: dict[tuple[str, str], list[str]] = {}
        self._status_messages: frozenset[str] = frozenset()
        self._protections: dict[str, FrameProtection] = {}
        self._counters: dict[str, int] = {}
        self._last_rx: dict[str, Mapping[str, Value]] = {}
        """Message name -> its last received signals, so a rewritten frame keeps what it does not target."""

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> CanBridge:
        """Load and check DBC, mapping and allowlist, then open GPIO and the bus and start receiving."""
        if self._bus is not None:
            return self
        cfg = self.config
        with self._lock:
            # A restarted bridge must not report what it heard before: state only from fresh frames.
            self._state.clear()
            self._heard_at.clear()
            self._stamp.clear()
            self._suspect_until.clear()
            self._seen.clear()
            self._rx_counters.clear()
        try:
            db = load_dbc(cfg.dbc_path)
            mapping = load_mapping(cfg.mapping_path)
            allowlist = load_allowlist(cfg.allowlist_path)
            self._protections = check_mapping(mapping, allowlist, db, cfg.dbc_path, GPIO_OUTPUTS)
            self._counters = {}
            self._db, self._mapping, self._allowlist = db, mapping, allowlist
            self._by_status = {}
            for name, m in mapping.signals.items():
                if m.status is not None:
                    self._by_status.setdefault((m.status.message, m.status.signal), []).append(name)
            self._status_messages = frozenset(message for message, _ in self._by_status)
            self._rx_signals = {
                message: {s.name: s for s in db.get_message_by_name(message).signals}
                for message in self._status_messages
            }
            self._gpio = BridgeGpio(cfg.pins, cfg.pin_factory, cfg.levels)
            self._bus = self._given_bus if self._given_bus is not None else open_bus(cfg)
            self._notifier = can.Notifier(self._bus, [Receiver(self._on_rx)], timeout=0.1)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop receiving, shut the bus and release the GPIO pins; safe to call twice."""
        if self._notifier is not None:
            self._notifier.stop()
            self._notifier = None
        bus = self._bus if self._bus is not None else self._given_bus
        self._bus = self._given_bus = None
        if bus is not None:
            bus.shutdown()
        if self._gpio is not None:
            self._gpio.close()
            self._gpio = None

    def __enter__(self) -> CanBridge:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------------

    @property
    def mapping(self) -> VehicleMapping:
        if self._mapping is None:
            raise NotStartedError("the bridge is not started; call start() or use it in a with block")
        return self._mapping

    @property
    def database(self) -> cantools.database.can.Database:
        if self._db is None:
            raise NotStartedError("the bridge is not started; call start() or use it in a with block")
        return self._db

    @property
    def gpio(self) -> BridgeGpio:
        if self._gpio is None:
            raise NotStartedError("the bridge is not started; call start() or use it in a with block")
        return self._gpio

    def writable(self) -> frozenset[str]:
        """Vehicle signals ``actuate`` may accept: command (or GPIO) mapped and allowlisted."""
        allow = self._allowlist
        assert allow is not None, "start() first"
        out = set()
        for name, m in self.mapping.signals.items():
            if m.gpio is not None and m.gpio in allow.gpio:
                out.add(name)
            elif m.command is not None and {m.command.signal, *m.command.fixed} <= allow.can.get(
                m.command.message, frozenset()
            ):
                out.add(name)
        return frozenset(out)

    def state(self) -> dict[str, Value]:
        """Vehicle signal -> its current, trusted value.

        Absent: a signal never reported, one whose last report is older than its
        ``max_age_s``, and one untrusted after a contradiction.  ``reported()`` has those too.
        """
        return {name: r.value for name, r in self.reported().items() if r.current}

    def reported(self) -> dict[str, Reading]:
        """Vehicle signal -> its last reported value, that report's age and whether it is current."""
        now = time.monotonic()
        signals = self.mapping.signals
        with self._lock:
            out = {
                name: Reading(
                    value,
                    now - self._heard_at[name],
                    now - self._heard_at[name] <= signals[name].max_age_s
                    and now >= self._suspect_until.get(name, 0.0),
                )
                for name, value in self._state.items()
            }
        gpio = self._gpio
        if gpio is not None:
            for name, m in signals.items():
                if m.gpio is not None and gpio.relay is not None:
                    out[name] = Reading(gpio.read(m.gpio), 0.0, True)
        return out

    def health(self) -> tuple[str, ...]:
        """What is wrong with the bridge's own workers (the receive thread); empty when all is well.

        Each problem is logged once, when first found.
        """
        problems = []
        notifier = self._notifier
        if self._bus is not None and notifier is not None:
            # python-can keeps one reader thread per bus in Notifier._readers
            readers = [t for t in getattr(notifier, "_readers", []) if isinstance(t, threading.Thread)]
            if any(not t.is_alive() for t in readers):
                why = getattr(notifier, "exception", None)
                problems.append(
                    f"the CAN receive thread on {self.config.interface}:{self.config.channel} has stopped"
                    + (f" ({why})" if why else "")
                    + "; the car's state is no longer updated"
                )
        for text in problems:
            if text not in self._reported_dead:
                self._reported_dead.add(text)
                log.error("%s", text)
        return tuple(problems)

    def value(self, name: str) -> Value | None:
        """The latest reported value of ``name``, or ``None`` before its first status frame."""
        if name not in self.mapping.signals:
            raise MappingError(f"{name!r} is not a vehicle signal in {self.mapping.path}")
        return self.state().get(name)

    def bus_health(self) -> BusHealth | None:
        """The bus's link state; None for a bus given to the bridge that is not a ``SupervisedBus``."""
        bus = self._bus
        return bus.health() if isinstance(bus, SupervisedBus) else None

    def wait_ready(self, timeout_s: float) -> bool:
        """True once every mapped status message has been received at least once."""
        with self._changed:
            return self._changed.wait_for(lambda: self._status_messages <= self._seen, timeout_s)

    def subscribe(self, callback: Callable[[Frame], None]) -> Callable[[], None]:
        """Call ``callback(frame)`` for every decoded frame, tx and rx; returns an unsubscribe.

        Called on the receive thread: keep it quick and do not call ``actuate`` from it.
        """
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def recent_frames(self) -> list[Frame]:
        """The last ``config.frame_log_size`` frames, oldest first."""
        with self._lock:
            return list(self._log)

    def on_push_to_talk(self, callback: Callable[[bool], None]) -> Callable[[], None]:
        """Call ``callback(True)`` when the push-to-talk button is pressed, ``False`` on release."""
        return self.gpio.on_push_to_talk(callback)

    def set_status_led(self, mode: Literal["off", "on", "blink"]) -> None:
        self.gpio.set_status_led(mode)

    # -- writing ---------------------------------------------------------------------------------

    def actuate(self, targets: Mapping[str, Value], timeout_s: float | None = None) -> Actuation:
        """Request every target, then wait for the status frames that report them.

        All targets are checked before any frame is sent (NotAllowedError,
        EncodeError); targets sharing one command frame (radio band and
        frequency) go out in one frame.  Each target waits its mapping's
        ``confirm_timeout_s``, or ``timeout_s`` when given.  When the bus fails
        part-way, the frames already sent are still confirmed and the rest are
        reported in ``unsent``; when nothing could be sent, SendError.
        """
        if self._bus is None:
            raise NotStartedError("the bridge is not started; call start() or use it in a with block")
        if timeout_s is not None and not (math.isfinite(timeout_s) and timeout_s >= 0):
            raise ValueError(f"timeout_s must be a number of seconds >= 0, got {timeout_s!r}")
        started = time.monotonic()
        frames, gpio_targets = self._plan(targets)
        waiter = _Waiter(pending={})
        for name in targets:
            m = self.mapping.signals[name]
            if m.status is not None:
                waiter.pending[name] = _Pending(m.status, targets[name], self._tolerance(m), math.inf)
        with self._changed:
            # A newer target for a signal ends an older actuation's wait for it.
            for older in self._waiters:
                for name in set(older.pending) & set(waiter.pending):
                    if name not in older.confirmed:
                        older.superseded.add(name)
            self._changed.notify_all()
            # Registered before sending so a fast status frame cannot slip past.
            self._waiters.append(waiter)
        cyclic: list[_Transmission] = []
        sent: list[Frame] = []
        unsent: tuple[str, ...] = ()
        try:
            timeouts = {
                name: timeout_s if timeout_s is not None else self.mapping.signals[name].confirm_timeout_s
                for name in targets
            }
            with self._lock:
                now = time.monotonic()
                for name, pending in waiter.pending.items():
                    pending.deadline = now + timeouts[name]
            once = [f for f in frames if f.mode == "once"]
            out, failure = self._send(once)
            sent += out
            left = once[len(out) :]
            for planned in frames:
                if planned.mode == "once":
                    continue
                if failure is not None:
                    left.append(planned)  # the bus just failed: no button is pressed after that
                    continue
                longest = max(timeouts[n] for n in planned.names)
                ends = now + (planned.hold_s if planned.mode == "hold" else longest)
                try:
                    cyclic.append(_Transmission(planned, self._start_cyclic(planned, sent), ends))
                except SendError as err:
                    failure = err
                    left.append(planned)
            if failure is not None:
                if not sent and not cyclic:
                    raise failure
                # the frames that did go out still count: wait for their status, not the others'
                log.warning("%s", failure)
                unsent = tuple(name for planned in left for name in planned.names)
                with self._lock:
                    for name in unsent:
                        waiter.pending.pop(name, None)
            for name, (device, value) in gpio_targets.items():
                reported = self.gpio.write(device, int(value))
                if reported == int(value):
                    with self._lock:
                        waiter.confirmed[name] = reported
            with self._changed:
                while True:
                    now = time.monotonic()
                    done = [
                        t
                        for t in cyclic
                        if now >= t.ends or all(n in waiter.confirmed for n in t.planned.names)
                    ]
                    if done:
                        # Stopping joins the task's thread: not under the lock the receiver needs.
                        self._changed.release()
                        try:
                            for t in done:
                                cyclic.remove(t)
                                sent += self._finish(t)
                        finally:
                            self._changed.acquire()
                        continue
                    open_deadlines = [
                        p.deadline
                        for n, p in waiter.pending.items()
                        if n not in waiter.confirmed and n not in waiter.superseded and p.deadline > now
                    ] + [t.ends for t in cyclic]
                    if not open_deadlines:
                        break
                    self._changed.wait(min(open_deadlines) - now)
                confirmed = dict(waiter.confirmed)
                superseded = {n for n in waiter.superseded if n not in confirmed}
                rx = list(waiter.frames)
        finally:
            for t in cyclic:
                try:
                    sent += self._finish(t)
                except Exception:  # the first error is the one to report
                    log.exception("stopping the cyclic %s failed", t.planned.message.name)
            with self._lock:
                self._waiters.remove(waiter)
        sent.sort(key=lambda f: f.timestamp)
        ended = set(confirmed) | superseded | set(unsent)
        timed_out = tuple(name for name in targets if name not in ended)
        return Actuation(
            targets=MappingProxyType(dict(targets)),
            confirmed=MappingProxyType(confirmed),
            timed_out=timed_out,
            frames=tuple(sent + rx),
            elapsed_s=time.monotonic() - started,
            superseded=tuple(name for name in targets if name in superseded),
            unsent=unsent,
        )

    def _tolerance(self, m: SignalMapping) -> float:
        if m.tolerance is not None:
            return m.tolerance
        assert m.status is not None
        sig = self.database.get_message_by_name(m.status.message).get_signal_by_name(m.status.signal)
        # Half a DBC step: 21.3 degC encodes as 21.5 and must still count as reached.
        return abs(float(sig.scale)) / 2

    def _plan(self, targets: Mapping[str, Value]) -> tuple[list[_PlannedFrame], dict[str, tuple[str, Value]]]:
        """Check every target and encode the frames; raises before anything is sent.

        A target is a vehicle value; the command's transform (or press) turns it into the DBC value.
        """
        mapping, allow, db = self.mapping, self._allowlist, self.database
        assert allow is not None
        groups: dict[tuple[str, tuple[tuple[str, Value], ...], str], dict[str, tuple[str, Value]]] = {}
        commands: dict[tuple[str, tuple[tuple[str, Value], ...], str], CommandRef] = {}
        gpio_targets: dict[str, tuple[str, Value]] = {}
        for name, value in targets.items():
            m = mapping.signals.get(name)
            if m is None:
                raise NotAllowedError(f"{name!r} is not a vehicle signal in {mapping.path}; nothing was sent")
            if m.gpio is not None:
                if m.gpio not in allow.gpio:
                    raise NotAllowedError(
                        f"{name}: GPIO output {m.gpio} is not on the allowlist {allow.path}; nothing was sent"
                    )
                if isinstance(value, str) or value not in (0, 1):
                    raise EncodeError(f"{name}: {value!r} is not 0 or 1 (GPIO {m.gpio}); nothing was sent")
                gpio_targets[name] = (m.gpio, value)
                continue
            c = m.command
            if c is None:
                if m.cannot is not None:
                    raise CarCannotError(f"{name}: this car cannot do it ({m.cannot}); nothing was sent")
                raise NotAllowedError(
                    f"{name} is read-only: it has no command in {mapping.path}; nothing was sent"
                )
            allowed = allow.can.get(c.message)
            if allowed is None:
                raise NotAllowedError(
                    f"{name}: command message {c.message} is not on the allowlist {allow.path}; "
                    "nothing was sent"
                )
            message = db.get_message_by_name(c.message)
            refused = sorted({s.name for s in message.signals} - allowed)
            if refused:
                raise NotAllowedError(
                    f"{name}: signal(s) {', '.join(refused)} of {c.message} are not on the allowlist "
                    f"{allow.path}; nothing was sent"
                )
            sig = message.get_signal_by_name(c.signal)
            if c.style == "toggle" and m.status is not None and self._current(name) == value:
                continue  # already there: a toggle pressed now would undo it
            try:
                dbc_value = c.pressed(value, self._current(name)) if c.style != "set" else (
                    c.transform.apply(value) if c.transform is not None else value
                )
            except TransformError as err:
                raise EncodeError(f"{name}: {value!r} refused: {err}; nothing was sent") from err
            problem = check_value(sig, dbc_value)
            if problem:
                shown = f"{value!r}" if dbc_value == value else f"{value!r} (as {dbc_value!r})"
                raise EncodeError(
                    f"{name}: {shown} refused for {c.message}.{c.signal}: {problem}; nothing was sent"
                )
            # A press is its own transmission; set targets sharing a frame go out together.
            key = (c.message, tuple(sorted(c.fixed.items())), name if c.style != "set" else "")
            groups.setdefault(key, {})[c.signal] = (name, dbc_value)
            commands[key] = c

        planned = []
        for key, chosen in groups.items():
            message_name, fixed, _ = key
            c = commands[key]
            message = db.get_message_by_name(message_name)
            values: dict[str, Value] = dict(fixed)
            values.update({signal: value for signal, (_, value) in chosen.items()})
            protection = self._protections[message_name]
            for sig in message.signals:
                if sig.name not in values and sig not in (protection.counter, protection.checksum):
                    values[sig.name] = self._fill(message_name, dict(fixed), sig)
            names = tuple(name for name, _ in chosen.values())
            release = None
            if c.style != "set":
                release = dict(values)
                idle = c.release if c.release is not None else _initial(message.get_signal_by_name(c.signal))
                release[c.signal] = idle
            for vals in (values, release):
                if vals is not None:
                    self._encode_check(message, vals, names)
            spec = self.mapping.messages.get(message_name)
            cycle = spec.cycle_s if spec is not None else None
            interval = c.interval_s or cycle or DEFAULT_INTERVAL_MS / 1000
            if c.style == "set":
                mode: Literal["once", "until_confirmed", "hold"] = "until_confirmed" if cycle else "once"
            else:
                mode = "until_confirmed" if c.style == "press_until" else "hold"
            planned.append(
                _PlannedFrame(
                    message,
                    MappingProxyType(values),
                    names,
                    mode=mode,
                    period_s=cycle if c.style == "set" and cycle else interval,
                    hold_s=c.hold_s,
                    release=MappingProxyType(release) if release is not None else None,
                )
            )
        return planned, gpio_targets

    def _encode_check(
        self, message: cantools.database.can.Message, values: Mapping[str, Value], names: tuple[str, ...]
    ) -> None:
        try:
            self._protections[message.name].seal(values, 0)
        except (cantools.database.EncodeError, KeyError, ValueError, TypeError, OverflowError) as err:
            ranges = "; ".join(f"{s.name} {s.minimum}..{s.maximum}" for s in message.signals)
            raise EncodeError(
                f"{', '.join(names)}: {message.name} {dict(values)} refused by encode(strict=True): {err} "
                f"(ranges: {ranges}); nothing was sent"
            ) from err

    def _current(self, name: str) -> Value | None:
        with self._lock:
            return self._state.get(name)

    def _fill(self, message: str, fixed: dict[str, Value], sig: cantools.database.can.Signal) -> Value:
        """A non-targeted signal keeps the car's current value, so the frame changes only the target.

        A button (a press-style command) of the same frame stays released; a frame the car itself
        also sends (a gateway frame carrying a request bit) keeps its last received values, and is
        refused before it was ever received rather than sent with made-up ones.
        """
        for name, m in self.mapping.signals.items():
            c = m.command
            if c is not None and c.message == message and c.signal == sig.name and dict(c.fixed) == fixed:
                if c.style != "set":
                    return c.release if c.release is not None else _initial(sig)
                current = self._current(name)
                if current is not None:
                    try:
                        return c.transform.apply(current) if c.transform is not None else current
                    except TransformError:
                        break
        with self._lock:
            heard = self._last_rx.get(message)
        if heard is not None and sig.name in heard:
            return heard[sig.name]
        if message in self._status_messages:
            raise EncodeError(
                f"{message} also carries the car's status ({sig.name}) and has not been received yet; "
                "sending it now would overwrite that with made-up values, so nothing was sent"
            )
        return _initial(sig)

    def _seal(self, planned: _PlannedFrame, values: Mapping[str, Value]) -> bytes:
        """The next frame of ``planned.message``: its rolling counter moved on, its checksum computed."""
        name = planned.message.name
        with self._send_lock:
            counter = self._counters.get(name, 0)
            self._counters[name] = counter + 1
        return self._protections[name].seal(values, counter)

    def _can_message(self, planned: _PlannedFrame, data: bytes) -> can.Message:
        return can.Message(
            timestamp=time.time(),
            arbitration_id=planned.message.frame_id,
            is_extended_id=planned.message.is_extended_frame,
            data=data,
        )

    def _send(
        self, frames: list[_PlannedFrame], release: bool = False
    ) -> tuple[list[Frame], SendError | None]:
        """The frames sent, in order, and the error that stopped the rest (None: all went out)."""
        bus = self._bus
        if bus is None:
            raise NotStartedError("the bridge is closed")
        sent: list[Frame] = []
        for planned in frames:
            values = planned.release if release and planned.release is not None else planned.values
            msg = self._can_message(planned, self._seal(planned, values))
            try:
                bus.send(msg, timeout=SEND_TIMEOUT_S)
            except BusDownError as err:
                return sent, err  # the bus was known down: this frame and the rest were refused
            except (can.CanError, OSError, ValueError) as err:
                done = ", ".join(f.message for f in sent) or "nothing"
                failure = SendError(
                    f"sending {planned.message.name} (0x{msg.arbitration_id:03X}) for "
                    f"{', '.join(planned.names)} failed: {err}; already sent: {done}. "
                    f"Check the bus ({self.config.interface}:{self.config.channel})"
                )
                failure.__cause__ = err
                return sent, failure
            frame = decode(self.database, msg, "tx")
            sent.append(frame)
            self._publish(frame)
        return sent, None

    def _start_cyclic(
        self, planned: _PlannedFrame, sent: list[Frame]
    ) -> can.broadcastmanager.CyclicSendTaskABC:
        """Send ``planned`` every ``period_s`` with python-can's periodic task, resealed on every frame."""
        bus = self._bus
        if bus is None:
            raise NotStartedError("the bridge is closed")

        def modify(msg: can.Message) -> None:
            msg.data = bytearray(self._seal(planned, planned.values))
            msg.timestamp = time.time()
            frame = decode(self.database, msg, "tx")
            sent.append(frame)
            self._publish(frame)

        first = self._can_message(planned, self._protections[planned.message.name].seal(planned.values, 0))
        try:
            return bus.send_periodic(first, planned.period_s, modifier_callback=modify)
        except (can.CanError, OSError, ValueError) as err:
            raise SendError(
                f"starting the cyclic {planned.message.name} for {', '.join(planned.names)} failed: {err}. "
                f"Check the bus ({self.config.interface}:{self.config.channel})"
            ) from err

    def _finish(self, transmission: _Transmission) -> list[Frame]:
        """Stop a cyclic transmission (waiting out a frame in flight), then send its release, if any."""
        task = transmission.task
        task.stop()
        thread = getattr(task, "thread", None)
        if isinstance(thread, threading.Thread) and thread is not threading.current_thread():
            thread.join(timeout=1.0)
        if transmission.planned.release is None:
            return []
        sent, failure = self._send([transmission.planned], release=True)
        if failure is not None:
            raise failure
        return sent

    # -- receiving -------------------------------------------------------------------------------

    def _on_rx(self, msg: can.Message) -> None:
        # Runs on python-can's receive thread: whatever one frame does, the next one is received.
        try:
            self._receive(msg)
        except Exception as err:
            with self._lock:
                self.counts["rx_failed"] += 1
            self._throttle.warn("rx_failed", f"receiving 0x{msg.arbitration_id:03X} failed: {err!r}")

    def _receive(self, msg: can.Message) -> None:
        if msg.is_error_frame or msg.is_remote_frame or self._db is None:
            return
        frame = decode(self._db, msg, "rx")
        unsealed = self._unsealed(frame) if frame.signals else None
        if unsealed is not None:
            # As an ECU would: a frame whose seal fails says nothing, and is kept for nothing.
            kind, why = unsealed
            with self._lock:
                self.counts[kind] += 1
            self._throttle.warn(kind, f"ignored {frame.message} (0x{frame.id:03X}) {frame.data.hex()}: {why}")
            self._publish(frame)
            return
        problem = self._out_of_range(frame) if frame.signals else None
        if frame.signals and not problem:
            with self._changed:
                # a frame the car also sends is rebuilt from its last believable copy (see _fill)
                self._last_rx[frame.message] = frame.signals
        if frame.message in self._status_messages and frame.signals:
            now = time.monotonic()
            with self._changed:
                if problem:
                    self.counts["out_of_range"] += 1
                    # a garbled frame says nothing, but its message's values are not to be believed
                    for (message, _), names in self._by_status.items():
                        if message == frame.message:
                            for name in names:
                                self._suspect_until[name] = now + SUSPECT_HOLD_S
                else:
                    self._seen.add(frame.message)
                    for signal, value in frame.signals.items():
                        for name in self._by_status.get((frame.message, signal), ()):
                            read = _read(self.mapping.signals[name].status, value)
                            if read is not None:
                                self._store(name, read, frame.timestamp, now)
                    self._confirm(frame)
                self._changed.notify_all()
            if problem:
                self._throttle.warn(
                    "out_of_range",
                    f"dropped {frame.message} (0x{frame.id:03X}) {frame.data.hex()}: {problem}",
                )
        self._publish(frame)

    def _unsealed(self, frame: Frame) -> tuple[str, str] | None:
        """Why a received frame of a checksummed or counted message is not to be believed, or None.

        The checksum must match; the rolling counter must move on by at least one and at most half
        its range since the last good frame (a repeated frame, or an older one replayed, is stale).
        After ``DEFAULT_MAX_AGE_S`` without a good frame any counter starts the sequence afresh, as
        after the sender restarts.
        """
        protection = self._protections.get(frame.message)
        if protection is None or (protection.algorithm is None and protection.counter is None):
            return None
        try:
            counter = protection.verify(frame.data)
        except (cantools.database.DecodeError, ValueError, KeyError) as err:
            return "bad_checksum", f"cannot be read to check its seal ({err})"
        if counter is None:
            return "bad_checksum", f"its {protection.algorithm} checksum is wrong"
        if protection.counter is None:
            return None
        now = time.monotonic()
        with self._lock:
            last = self._rx_counters.get(frame.message)
            if last is not None and now - last[1] <= DEFAULT_MAX_AGE_S:
                modulo = protection.counter_modulo
                step = (counter - last[0]) % modulo
                if not 1 <= step <= max(1, modulo // 2):
                    what = "repeats" if step == 0 else "is behind"
                    return "stale_counter", f"its counter {counter} {what} the last good one ({last[0]})"
            self._rx_counters[frame.message] = (counter, now)
        return None

    def _out_of_range(self, frame: Frame) -> str | None:
        """Why a received status frame is not believable (a value its DBC does not allow), or None."""
        signals = self._rx_signals.get(frame.message, {})
        protection = self._protections.get(frame.message)
        # the seal's own signals are checked by the seal (opendbc gives some Honda checksums [0|3])
        seal = (protection.checksum, protection.counter) if protection is not None else ()
        sealed = {s.name for s in seal if s is not None}
        for name, value in frame.signals.items():
            sig = signals.get(name)
            if sig is None or name in sealed:
                continue
            if sig.choices and not isinstance(value, str):
                if not marks_a_number(sig):
                    return f"{name}={value!r} is none of its DBC choices"
            elif sig.choices:
                continue
            if isinstance(value, str) or not math.isfinite(value):
                return f"{name}={value!r} is not a number"
            if (sig.minimum is not None and value < sig.minimum - 1e-9) or (
                sig.maximum is not None and value > sig.maximum + 1e-9
            ):
                return f"{name}={value:g} is outside its DBC range {sig.minimum:g}..{sig.maximum:g}"
        return None

    def _store(self, name: str, value: Value, stamp: float, now: float) -> None:
        """Keep one reported value; a jump faster than the mapping's ``max_rate`` makes it untrusted."""
        rate = self.mapping.signals[name].max_rate
        before, before_stamp = self._state.get(name), self._stamp.get(name)
        if (
            rate is not None
            and isinstance(value, int | float)
            and isinstance(before, int | float)
            and before_stamp is not None
        ):
            m = self.mapping.signals[name]
            dt = max(stamp - before_stamp, 0.0)
            if abs(value - before) > rate * dt + self._tolerance(m):
                self.counts["implausible"] += 1
                self._suspect_until[name] = now + SUSPECT_HOLD_S
                self._throttle.warn(
                    f"implausible:{name}",
                    f"{name} jumped {before:g} -> {value:g} in {dt * 1000:.0f} ms "
                    f"(at most {rate:g}/s is believable); untrusted for {SUSPECT_HOLD_S:g} s",
                )
        self._state[name] = value
        self._stamp[name] = stamp
        self._heard_at[name] = now

    def _confirm(self, frame: Frame) -> None:
        now = time.monotonic()
        for waiter in self._waiters:
            used = False
            for name, p in waiter.pending.items():
                if (
                    name in waiter.confirmed
                    or name in waiter.superseded
                    or p.status.message != frame.message
                    or now > p.deadline
                ):
                    continue
                reported = _read(p.status, frame.signals.get(p.status.signal))
                if reported is not None and _matches(reported, p.target, p.tolerance):
                    waiter.confirmed[name] = reported
                    used = True
            if used:
                waiter.frames.append(frame)

    def _publish(self, frame: Frame) -> None:
        with self._lock:
            self._log.append(frame)
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(frame)
            except Exception:  # a monitor's bug must not stop the receiver
                log.exception("frame subscriber failed")
