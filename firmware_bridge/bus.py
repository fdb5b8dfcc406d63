"""Opening the CAN bus, and the decoded ``Frame`` every part of the bridge passes around."""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import can
import cantools.database
import cantools.database.errors
from cantools.database.namedsignalvalue import NamedSignalValue

from firmware_bridge.config import FORBIDDEN_INTERFACES, INTERFACES, BridgeConfig
from firmware_bridge.errors import BridgeConfigError, BridgeError, BusDownError, BusOpenError, MappingError

log = logging.getLogger(__name__)
Value = int | float | str


@dataclass(frozen=True)
class Frame:
    """One CAN frame as the bridge saw it, decoded with the DBC."""

    timestamp: float
    """Seconds since the epoch (python-can's clock for received frames)."""
    direction: Literal["tx", "rx"]
    id: int
    """Arbitration id."""
    data: bytes
    message: str
    """DBC message name; "" for an id the DBC does not know."""
    signals: Mapping[str, Value] = field(default_factory=lambda: MappingProxyType({}))
    """Physical values; enums as choice names."""

    def to_json(self) -> dict[str, Any]:
        return {
            "timestamp": round(self.timestamp, 6),
            "direction": self.direction,
            "id": f"0x{self.id:03X}",
            "data": self.data.hex(),
            "message": self.message,
            "signals": dict(self.signals),
        }


def plain(value: Any) -> Value:
    """A decoded cantools value as a plain int, float or choice-name str."""
    if isinstance(value, NamedSignalValue):
        return value.name
    return value  # type: ignore[no-any-return]


def decode(db: cantools.database.can.Database, msg: can.Message, direction: Literal["tx", "rx"]) -> Frame:
    """``msg`` decoded with ``db``; an unknown id or an undecodable payload gives empty signals."""
    data = bytes(msg.data)
    try:
        dbc_msg = db.get_message_by_frame_id(msg.arbitration_id)
    except KeyError:
        return Frame(msg.timestamp or time.time(), direction, msg.arbitration_id, data, "")
    try:
        decoded = dbc_msg.decode(data, decode_choices=True)
    except (cantools.database.DecodeError, ValueError, KeyError):
        # A short or garbled frame still shows up on the monitor, but updates no state.
        return Frame(msg.timestamp or time.time(), direction, msg.arbitration_id, data, dbc_msg.name)
    signals = {name: plain(v) for name, v in decoded.items()}  # type: ignore[union-attr]
    return Frame(
        msg.timestamp or time.time(),
        direction,
        msg.arbitration_id,
        data,
        dbc_msg.name,
        MappingProxyType(signals),
    )


def load_dbc(path: Path) -> cantools.database.can.Database:
    """The DBC at ``path``; a missing or malformed file is a ``MappingError`` naming it."""
    try:
        db = cantools.database.load_file(str(path), database_format="dbc", strict=True)
    except OSError as err:
        raise MappingError(f"cannot read DBC {path}: {err.strerror}") from err
    except (cantools.database.errors.Error, ValueError) as err:
        raise MappingError(f"{path}: not a usable DBC: {err}") from err
    assert isinstance(db, cantools.database.can.Database)
    return db


def open_bus(config: BridgeConfig) -> SupervisedBus:
    """A python-can bus for ``config``, reconnected after faults (``SupervisedBus``)."""
    return SupervisedBus(lambda: open_raw_bus(config), f"{config.interface}:{config.channel}")


def open_raw_bus(config: BridgeConfig) -> can.BusABC:
    """A python-can bus for ``config``; only the interfaces in ``INTERFACES`` are ever opened."""
    # BridgeConfig already refuses these; checked again because this is the last gate before the wire.
    if config.interface in FORBIDDEN_INTERFACES or config.interface not in INTERFACES:
        raise BridgeConfigError(f"interface {config.interface!r} is not allowed; use {', '.join(INTERFACES)}")
    kwargs: dict[str, Any] = {}
    if config.interface == "virtual":
        # The bridge records its own tx frames; echoes would double them.
        kwargs["receive_own_messages"] = False
    try:
        return can.Bus(interface=config.interface, channel=config.channel, bitrate=config.bitrate, **kwargs)
    except (can.CanError, OSError, ValueError, ImportError) as err:
        hint = (
            f"; check that {config.channel} exists and is up (ip link set {config.channel} up)"
            if config.interface == "socketcan"
            else ""
        )
        raise BusOpenError(f"cannot open CAN bus {config.interface}:{config.channel}: {err}{hint}") from err


# -- faults and reconnection ---------------------------------------------------------------------

BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)
"""Waits between reconnect attempts; the last repeats.  An unplugged adapter costs one open per 5 s."""
PROBE_S = 1.0
"""After a reopen, receiving this long without an error (or one frame) counts as back."""
STILL_DOWN_EVERY_S = 60.0
"""While the bus stays down, one reminder line per this many seconds; everything else goes to debug."""
RECEIVE_ERROR_PAUSE_S = 0.1
"""After a receive error, the receive thread waits this long before trying again."""


class Receiver(can.Listener):
    """Hands every frame a Notifier receives to ``on_message``; a receive error is logged and paused on."""

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


# linux/can/error.h: error-frame class bits in the arbitration id
CAN_ERR_BUSOFF = 0x40
CAN_ERR_RESTARTED = 0x100
# errnos that mean the interface is gone or down, not that one frame was refused
_LINK_ERRNOS = frozenset({errno.ENETDOWN, errno.ENODEV, errno.ENXIO, errno.ENETUNREACH, errno.EBADF})


@dataclass(frozen=True)
class BusHealth:
    """What ``SupervisedBus`` knows of its link, for ``car-assistant status`` and the logs."""

    name: str
    up: bool
    fault: str
    """Why the bus is down ("bus-off", the OS error); "" while up."""
    down_s: float
    """Seconds since it went down; 0 while up."""
    faults: int
    """Times the bus went down since it was opened."""
    reconnects: int
    """Times it came back."""


class SupervisedBus(can.BusABC):
    """A bus that survives its faults: reported once, reopened with backoff, refused sends meanwhile.

    ``opener`` makes the real bus; it is called once here (a ``BusOpenError``
    goes to the caller) and again for each reconnect.  A receive error (the
    adapter unplugged, ``ip link set can0 down``) takes the bus down and makes
    ``recv`` wait out the backoff and reopen, instead of python-can's receive
    loop failing and retrying as fast as it can.  A bus-off error frame takes
    it down too, but the controller restarts itself (``restart-ms``), so the
    bus is up again with the next frame that arrives.  While down, ``send``
    raises ``BusDownError`` and nothing reaches the wire.
    """

    def __init__(
        self,
        opener: Callable[[], can.BusABC],
        name: str,
        backoff_s: Sequence[float] = BACKOFF_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._opener = opener
        self._backoff = tuple(backoff_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._inner: can.BusABC | None = opener()
        self.channel_info = name
        self._name = name
        self._down_since: float | None = None
        self._fault = ""
        self._reopen = False
        self._probe_until: float | None = None
        self._attempts = 0
        self._next_try = 0.0
        self._last_reminder = 0.0
        self._faults = 0
        self._reconnects = 0
        super().__init__(channel=name)

    def health(self) -> BusHealth:
        with self._lock:
            since = self._down_since
            return BusHealth(
                self._name,
                since is None,
                self._fault,
                0.0 if since is None else self._clock() - since,
                self._faults,
                self._reconnects,
            )

    @property
    def up(self) -> bool:
        return self._down_since is None

    def _down(self, fault: str, reopen: bool) -> None:
        with self._lock:
            if self._down_since is not None:
                return
            now = self._clock()
            self._down_since, self._fault, self._reopen = now, fault, reopen
            self._attempts, self._next_try, self._last_reminder = 0, now + self._backoff[0], now
            self._faults += 1
        log.error(
            "CAN bus %s is down: %s; %s, and commands are refused until it is back",
            self._name,
            fault,
            "reconnecting with backoff" if reopen else "waiting for the controller to restart",
        )

    def _back(self, how: str) -> None:
        with self._lock:
            since = self._down_since
            if since is None:
                return
            self._down_since, self._fault, self._probe_until = None, "", None
            self._reconnects += 1
        log.warning("CAN bus %s is back (%s) after %.1f s", self._name, how, self._clock() - since)

    def _reminder(self) -> None:
        now = self._clock()
        if self._down_since is not None and now - self._last_reminder >= STILL_DOWN_EVERY_S:
            self._last_reminder = now
            log.warning(
                "CAN bus %s still down after %.0f s (%s, %d reconnect attempts)",
                self._name,
                now - self._down_since,
                self._fault,
                self._attempts,
            )

    def _next_wait(self) -> float:
        return self._backoff[min(self._attempts, len(self._backoff) - 1)]

    def _try_reopen(self, timeout: float | None) -> None:
        wait = self._next_try - self._clock()
        if wait > 0:
            time.sleep(wait if timeout is None else min(wait, timeout))
            return
        old, self._inner = self._inner, None
        if old is not None:
            try:
                old.shutdown()
            except (can.CanError, OSError) as err:
                log.debug("closing the failed bus %s: %s", self._name, err)
        self._attempts += 1
        try:
            inner = self._opener()
        except (BridgeError, can.CanError, OSError, ValueError) as err:
            self._next_try = self._clock() + self._next_wait()
            log.debug("reconnect %d to %s failed: %s", self._attempts, self._name, err)
            self._reminder()
            return
        with self._lock:
            self._inner = inner
            # a socketcan socket opens on an interface that is down: back only once it receives
            # cleanly for a moment (or a frame arrives), so a down link is not 'back' every 5 s
            self._reopen = False
            self._probe_until = self._clock() + PROBE_S
        log.debug("reopened %s (attempt %d); listening before calling it back", self._name, self._attempts)

    def recv(self, timeout: float | None = None) -> can.Message | None:
        if self._down_since is not None and (self._reopen or self._inner is None):
            self._try_reopen(timeout)
            return None
        inner = self._inner
        assert inner is not None
        try:
            msg = inner.recv(timeout)
        except (can.CanError, OSError, ValueError) as err:
            fault = str(err) or err.__class__.__name__
            if self._down_since is None:
                self._down(fault, reopen=True)
            else:  # still failing after a reopen: the same outage, retried on the backoff
                with self._lock:
                    self._fault, self._reopen, self._probe_until = fault, True, None
                    self._next_try = self._clock() + self._next_wait()
                self._reminder()
            return None
        if msg is None:
            probe = self._probe_until
            if self._down_since is not None and probe is not None and self._clock() >= probe:
                self._back("reconnected")
            self._reminder()
            return None
        if msg.is_error_frame:
            if msg.arbitration_id & CAN_ERR_BUSOFF:
                self._down(
                    "bus-off: too many errors on the wire; check wiring, termination and bitrate, and "
                    "that restart-ms is set (deploy/can0.network) or the controller never restarts",
                    reopen=False,
                )
            elif msg.arbitration_id & CAN_ERR_RESTARTED:
                self._back("controller restarted")
            return msg
        if self._down_since is not None:
            self._back("frames arriving again")
        return msg

    def _recv_internal(self, timeout: float | None) -> tuple[can.Message | None, bool]:
        return self.recv(timeout), True

    def send(self, msg: can.Message, timeout: float | None = None) -> None:
        since, inner = self._down_since, self._inner
        if since is not None or inner is None:
            down_s = self._clock() - since if since is not None else 0.0
            raise BusDownError(
                f"the CAN bus {self._name} has been down for {down_s:.0f} s ({self._fault}); nothing was "
                "sent. It is being reconnected; check the adapter and 'ip link show'"
            )
        try:
            inner.send(msg, timeout)
        except (can.CanError, OSError) as err:
            code = getattr(err, "error_code", None) or getattr(err, "errno", None)
            if code in _LINK_ERRNOS:
                self._down(str(err), reopen=True)
                raise BusDownError(f"the CAN bus {self._name} went down: {err}; nothing was sent") from err
            raise

    def shutdown(self) -> None:
        inner, self._inner = self._inner, None
        if inner is not None:
            inner.shutdown()
        super().shutdown()
