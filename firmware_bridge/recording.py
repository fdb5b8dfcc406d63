"""Recording the bus to a standard log file, and replaying one into the simulated body controller.

Files are written and read by python-can's own writers and readers, which pick
the format from the extension: ``.log`` (candump -L), ``.asc`` (Vector ASCII),
``.blf`` (Vector binary), ``.csv``.  Any tool that reads those (candump,
canplayer, CANalyzer, SavvyCAN) reads a recording, and a recording from those
tools replays here.

A replay sends only the recording's command frames, and only those whose
message is on the allowlist, and only onto a virtual bus where a
``BodyControllerSim`` answers: a recording is never played onto a real car.
"""

from __future__ import annotations

import struct
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import can
from can.io.blf import BLFParseError

from firmware_bridge.bus import Frame, Value, decode, load_dbc
from firmware_bridge.config import BridgeConfig
from firmware_bridge.errors import BridgeConfigError, MappingError
from firmware_bridge.mapping import load_allowlist

FORMATS = (".log", ".asc", ".blf", ".csv")
"""File extensions a recording may have; python-can's writer and reader for each."""
READ_ERRORS = (
    OSError, ValueError, KeyError, IndexError, EOFError, can.CanError, BLFParseError, struct.error, zlib.error
)
"""What python-can's readers raise on a file that is not a recording of their format
(a .blf that is not Vector's, a torn header or object, a broken deflate stream)."""
REPLAY_GAP_CAP_S = 5.0
"""A longer silence between two commands in a recording is shortened to this."""


def _check_format(path: Path) -> None:
    if path.suffix.lower() not in FORMATS:
        raise BridgeConfigError(
            f"{path}: unknown recording format {path.suffix or '(no extension)'!r}; "
            f"name the file with one of {', '.join(FORMATS)}"
        )


def to_message(frame: Frame) -> can.Message:
    """``frame`` as the python-can message it was on the wire."""
    return can.Message(
        timestamp=frame.timestamp,
        arbitration_id=frame.id,
        is_extended_id=frame.id > 0x7FF,
        data=frame.data,
        is_rx=frame.direction == "rx",
    )


class Recorder:
    """Writes every frame it is given to ``path``: a ``CanBridge.subscribe`` callback; ``close()`` ends it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        _check_format(self.path)
        self._writer: can.Listener | None
        try:
            self._writer = can.Logger(str(self.path))
        except (OSError, ValueError) as err:
            raise MappingError(f"cannot write the recording {self.path}: {err}") from err
        self._lock = threading.Lock()
        self.frames = 0

    def __call__(self, frame: Frame) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.on_message_received(to_message(frame))
                self.frames += 1

    def close(self) -> None:
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.stop()


def check_complete(path: Path) -> None:
    """Refuse a .blf shorter than the size its own header declares: a torn copy.

    python-can reads such a file up to the tear without a word, so a replay would
    quietly stop early and still say it ended as recorded.  (A writer that never
    closed leaves the header's size at the header alone; that file is read.)
    """
    if path.suffix.lower() != ".blf":
        return
    reader = can.BLFReader(str(path))
    try:
        declared = reader.file_size
    finally:
        reader.stop()
    actual = path.stat().st_size
    if actual < declared:
        raise BLFParseError(
            f"torn: {actual} of the {declared} bytes its header declares; copy the whole file again"
        )


def read_recording(path: str | Path) -> list[can.Message]:
    """Every message of the recording at ``path``, in file order."""
    path = Path(path)
    _check_format(path)
    if not path.is_file():
        raise MappingError(f"no recording at {path}; make one with: car-assistant monitor --log {path.name}")
    try:
        check_complete(path)
        return list(can.LogReader(str(path)))
    except READ_ERRORS as err:
        raise MappingError(f"{path}: not a readable {path.suffix} recording: {err}") from err


@dataclass(frozen=True)
class Replay:
    """What a replay did and whether the simulated car ended where the recorded one did."""

    commands: int
    """Command frames sent to the simulated car."""
    skipped: int
    """Other frames of the recording not sent (status, unknown ids, commands not on the allowlist)."""
    recorded: Mapping[str, Value]
    """``MESSAGE.Signal`` -> the last value the recording's status frames reported."""
    replayed: Mapping[str, Value]
    """The same keys, as the simulated car reported them after the replay."""

    @property
    def differences(self) -> dict[str, tuple[Value | None, Value | None]]:
        return {
            key: (value, self.replayed.get(key))
            for key, value in self.recorded.items()
            if self.replayed.get(key) != value
        }

    @property
    def matches(self) -> bool:
        return not self.differences


def replay(
    path: str | Path,
    config: BridgeConfig,
    sim_options: Mapping[str, Any] | None = None,
    settle_s: float = 15.0,
    speed: float = 1.0,
    on_frame: Callable[[Frame], None] | None = None,
) -> Replay:
    """Play the recording's command frames into a fresh simulated controller on a virtual bus.

    Gaps between commands are kept (divided by ``speed``, at most
    ``REPLAY_GAP_CAP_S``), since a command sent before a travel ended may
    re-target it.  Afterwards the car gets up to ``settle_s`` to report the
    recorded end state.
    """
    from firmware_bridge.ecu_sim import BodyControllerSim

    if config.interface != "virtual":
        raise BridgeConfigError(
            "replay plays into the simulated controller on a virtual bus only, never onto "
            f"{config.interface}:{config.channel}; drop --can-interface"
        )
    if not speed > 0:
        raise BridgeConfigError(f"replay speed {speed!r} must be > 0")
    messages = read_recording(path)
    if not messages:  # else "ended as recorded (0 status signals)": nothing was compared
        raise MappingError(f"{path}: holds no frames; record a drive with: car-assistant monitor --log FILE")
    db = load_dbc(config.dbc_path)
    allowed = set(load_allowlist(config.allowlist_path).can)
    commands: list[can.Message] = []
    recorded: dict[str, Value] = {}
    skipped = 0
    status_names: set[str] = set()
    for msg in messages:
        frame = decode(db, msg, "rx")
        if frame.message in allowed and frame.signals:
            commands.append(msg)
            continue
        skipped += 1
        if frame.message and frame.signals and not msg.is_error_frame:
            status_names.add(frame.message)
            recorded.update({f"{frame.message}.{s}": v for s, v in frame.signals.items()})

    live: dict[str, Value] = {}
    changed = threading.Condition()
    node = can.Bus(interface="virtual", channel=config.channel, receive_own_messages=False)
    try:
        with BodyControllerSim(config, **dict(sim_options or {})):

            def listen(msg: can.Message) -> None:
                frame = decode(db, msg, "rx")
                if frame.message in status_names and frame.signals:
                    with changed:
                        live.update({f"{frame.message}.{s}": v for s, v in frame.signals.items()})
                        changed.notify_all()
                if on_frame is not None:
                    on_frame(frame)

            notifier = can.Notifier(node, [listen], timeout=0.05)
            try:
                previous: float | None = None
                for msg in commands:
                    if previous is not None:
                        time.sleep(min(max(0.0, msg.timestamp - previous) / speed, REPLAY_GAP_CAP_S))
                    previous = msg.timestamp
                    out = can.Message(
                        timestamp=time.time(),
                        arbitration_id=msg.arbitration_id,
                        is_extended_id=msg.is_extended_id,
                        data=msg.data,
                    )
                    node.send(out)
                    if on_frame is not None:
                        on_frame(decode(db, out, "tx"))
                with changed:
                    changed.wait_for(
                        lambda: all(live.get(k) == v for k, v in recorded.items()), timeout=settle_s
                    )
                    replayed = {k: live[k] for k in recorded if k in live}
            finally:
                notifier.stop()
    finally:
        node.shutdown()
    return Replay(len(commands), skipped, recorded, replayed)
