"""``CanBridge``: vehicle signal names in, checked CAN frames out, confirmed by status frames.

Three gates stand before any frame leaves, all passed for every target before
the first frame is sent: the vehicle signal has a command mapping, its frame's
message and signals are on the allowlist, and ``encode(strict=True)`` accepts
the value.  An actuation is done when the car's status frame reports the
target, never when the command is sent; the state the bridge reports only ever
comes from decoded status frames (or the GPIO pin read back).
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
    STILL_DOWN_EVERY_S,
    BusHealth,
    Frame,
    SupervisedBus,
    Value,
    decode,
    load_dbc,
    open_bus,
)
from firmware_bridge.config import BridgeConfig
from firmware_bridge.errors import (
    BusDownError,
    EncodeError,
    MappingError,
    NotAllowedError,
    NotStartedError,
    SendError,
)
from firmware_bridge.gpio import GPIO_OUTPUTS, BridgeGpio
from firmware_bridge.mapping import (
    Allowlist,
    SignalMapping,
    StatusRef,
    VehicleMapping,
    check_mapping,
    check_value,
    load_allowlist,
    load_mapping,
)

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 0.2
"""How long a send may wait for room in the bus's transmit queue."""


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

    @property
    def ok(self) -> bool:
        return not self.timed_out and set(self.confirmed) == set(self.targets)


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
    frames: list[Frame] = field(default_factory=list)


@dataclass(frozen=True)
class _PlannedFrame:
    message: cantools.database.can.Message
    data: bytes
    names: tuple[str, ...]


RECEIVE_ERROR_PAUSE_S = 0.1
"""After a receive error, the receive thread waits this long before trying again."""


class _Receiver(can.Listener):
    def __init__(self, on_message: Callable[[can.Message], None]) -> None:
        self._on_message = on_message
        self._errors = 0
        self._reported = 0.0

    def on_message_received(self, msg: can.Message) -> None:
        self._errors = 0
        self._on_message(msg)

    def on_error(self, exc: Exception) -> None:
        # python-can's receive loop retries at once: without the pause and the count, a failing bus
        # (not a SupervisedBus, which handles its own faults) logged some 131,000 lines a second.
        self._errors += 1
        now = time.monotonic()
        if self._errors == 1 or now - self._reported >= STILL_DOWN_EVERY_S:
            self._reported = now
            log.error("CAN receive failed (%d times in a row): %s", self._errors, exc)
        time.sleep(RECEIVE_ERROR_PAUSE_S)


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
        self._seen: set[str] = set()
        self._waiters: list[_Waiter] = []
        self._subscribers: list[Callable[[Frame], None]] = []
        self._log: deque[Frame] = deque(maxlen=self.config.frame_log_size)
        self._db: cantools.database.can.Database | None = None
        self._mapping: VehicleMapping | None = None
        self._allowlist: Allowlist | None = None
        self._by_status: dict[tuple[str, str], list[str]] = {}
        self._status_messages: frozenset[str] = frozenset()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> CanBridge:
        """Load and check DBC, mapping and allowlist, then open GPIO and the bus and start receiving."""
        if self._bus is not None:
            return self
        cfg = self.config
        with self._lock:
            # A restarted bridge must not report what it heard before: state only from fresh frames.
            self._state.clear()
            self._seen.clear()
        try:
            db = load_dbc(cfg.dbc_path)
            mapping = load_mapping(cfg.mapping_path)
            allowlist = load_allowlist(cfg.allowlist_path)
            check_mapping(mapping, allowlist, db, cfg.dbc_path, GPIO_OUTPUTS)
            self._db, self._mapping, self._allowlist = db, mapping, allowlist
            self._by_status = {}
            for name, m in mapping.signals.items():
                if m.status is not None:
                    self._by_status.setdefault((m.status.message, m.status.signal), []).append(name)
            self._status_messages = frozenset(message for message, _ in self._by_status)
            self._gpio = BridgeGpio(cfg.pins, cfg.pin_factory, cfg.levels)
            self._bus = self._given_bus if self._given_bus is not None else open_bus(cfg)
            self._notifier = can.Notifier(self._bus, [_Receiver(self._on_rx)], timeout=0.1)
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
        """Vehicle signal -> latest reported value; a signal never reported yet is absent."""
        with self._lock:
            out = dict(self._state)
        gpio = self._gpio
        if gpio is not None:
            for name, m in self.mapping.signals.items():
                if m.gpio is not None and gpio.relay is not None:
                    out[name] = gpio.read(m.gpio)
        return out

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
        ``confirm_timeout_s``, or ``timeout_s`` when given.
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
        with self._lock:
            # Registered before sending so a fast status frame cannot slip past.
            self._waiters.append(waiter)
        try:
            sent = self._send(frames)
            timeouts = {
                name: timeout_s if timeout_s is not None else self.mapping.signals[name].confirm_timeout_s
                for name in targets
            }
            with self._lock:
                now = time.monotonic()
                for name, pending in waiter.pending.items():
                    pending.deadline = now + timeouts[name]
            for name, (device, value) in gpio_targets.items():
                reported = self.gpio.write(device, int(value))
                if reported == int(value):
                    with self._lock:
                        waiter.confirmed[name] = reported
            with self._changed:
                while True:
                    now = time.monotonic()
                    open_deadlines = [
                        p.deadline
                        for n, p in waiter.pending.items()
                        if n not in waiter.confirmed and p.deadline > now
                    ]
                    if not open_deadlines:
                        break
                    self._changed.wait(min(open_deadlines) - now)
                confirmed = dict(waiter.confirmed)
                rx = list(waiter.frames)
        finally:
            with self._lock:
                self._waiters.remove(waiter)
        timed_out = tuple(name for name in targets if name not in confirmed)
        return Actuation(
            targets=MappingProxyType(dict(targets)),
            confirmed=MappingProxyType(confirmed),
            timed_out=timed_out,
            frames=tuple(sent + rx),
            elapsed_s=time.monotonic() - started,
        )

    def _tolerance(self, m: SignalMapping) -> float:
        if m.tolerance is not None:
            return m.tolerance
        assert m.status is not None
        sig = self.database.get_message_by_name(m.status.message).get_signal_by_name(m.status.signal)
        # Half a DBC step: 21.3 degC encodes as 21.5 and must still count as reached.
        return abs(float(sig.scale)) / 2

    def _plan(self, targets: Mapping[str, Value]) -> tuple[list[_PlannedFrame], dict[str, tuple[str, Value]]]:
        """Check every target and encode the frames; raises before anything is sent."""
        mapping, allow, db = self.mapping, self._allowlist, self.database
        assert allow is not None
        groups: dict[tuple[str, tuple[tuple[str, Value], ...]], dict[str, tuple[str, Value]]] = {}
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
            problem = check_value(sig, value)
            if problem:
                raise EncodeError(
                    f"{name}: {value!r} refused for {c.message}.{c.signal}: {problem}; nothing was sent"
                )
            key = (c.message, tuple(sorted(c.fixed.items())))
            groups.setdefault(key, {})[c.signal] = (name, value)

        planned = []
        for (message_name, fixed), chosen in groups.items():
            message = db.get_message_by_name(message_name)
            values: dict[str, Value] = dict(fixed)
            values.update({signal: value for signal, (_, value) in chosen.items()})
            for sig in message.signals:
                if sig.name not in values:
                    values[sig.name] = self._fill(message_name, dict(fixed), sig)
            try:
                data = message.encode(values, strict=True)
            except (cantools.database.EncodeError, KeyError, ValueError, TypeError) as err:
                names = ", ".join(name for name, _ in chosen.values())
                ranges = "; ".join(f"{s.name} {s.minimum}..{s.maximum}" for s in message.signals)
                raise EncodeError(
                    f"{names}: {message_name} {values} refused by encode(strict=True): {err} "
                    f"(ranges: {ranges}); nothing was sent"
                ) from err
            planned.append(_PlannedFrame(message, data, tuple(name for name, _ in chosen.values())))
        return planned, gpio_targets

    def _fill(self, message: str, fixed: dict[str, Value], sig: cantools.database.can.Signal) -> Value:
        """A non-targeted signal keeps the car's current value, so the frame changes only the target."""
        for name, m in self.mapping.signals.items():
            c = m.command
            if c is not None and c.message == message and c.signal == sig.name and dict(c.fixed) == fixed:
                with self._lock:
                    current = self._state.get(name)
                if current is not None:
                    return current
        return _initial(sig)

    def _send(self, frames: list[_PlannedFrame]) -> list[Frame]:
        bus = self._bus
        if bus is None:
            raise NotStartedError("the bridge is closed")
        sent: list[Frame] = []
        with self._send_lock:
            for planned in frames:
                msg = can.Message(
                    timestamp=time.time(),
                    arbitration_id=planned.message.frame_id,
                    is_extended_id=planned.message.is_extended_frame,
                    data=planned.data,
                )
                try:
                    bus.send(msg, timeout=SEND_TIMEOUT_S)
                except BusDownError:
                    raise  # says itself that nothing was sent; refused before the first frame
                except (can.CanError, OSError, ValueError) as err:
                    done = ", ".join(f.message for f in sent) or "nothing"
                    raise SendError(
                        f"sending {planned.message.name} (0x{msg.arbitration_id:03X}) for "
                        f"{', '.join(planned.names)} failed: {err}; already sent: {done}. "
                        f"Check the bus ({self.config.interface}:{self.config.channel})"
                    ) from err
                frame = decode(self.database, msg, "tx")
                sent.append(frame)
                self._publish(frame)
        return sent

    # -- receiving -------------------------------------------------------------------------------

    def _on_rx(self, msg: can.Message) -> None:
        if msg.is_error_frame or msg.is_remote_frame or self._db is None:
            return
        frame = decode(self._db, msg, "rx")
        with self._changed:
            if frame.message in self._status_messages and frame.signals:
                self._seen.add(frame.message)
                for signal, value in frame.signals.items():
                    for name in self._by_status.get((frame.message, signal), ()):
                        self._state[name] = value
                self._confirm(frame)
                self._changed.notify_all()
        self._publish(frame)

    def _confirm(self, frame: Frame) -> None:
        now = time.monotonic()
        for waiter in self._waiters:
            used = False
            for name, p in waiter.pending.items():
                if name in waiter.confirmed or p.status.message != frame.message or now > p.deadline:
                    continue
                reported = frame.signals.get(p.status.signal)
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
