"""Opening the CAN bus, and the decoded ``Frame`` every part of the bridge passes around."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import can
import cantools.database
import cantools.database.errors
from cantools.database.namedsignalvalue import NamedSignalValue

from firmware_bridge.config import FORBIDDEN_INTERFACES, INTERFACES, BridgeConfig
from firmware_bridge.errors import BridgeConfigError, BusOpenError, MappingError

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


def open_bus(config: BridgeConfig) -> can.BusABC:
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
