"""`car-assistant replay FILE --car NAME`: a car's recording read back as vehicle-state changes.

The recording is a candump ``.log``, a Vector ``.asc`` or a ``.blf`` (python-can's readers: also
``.csv`` and ``.trc``).  Every frame is decoded with the car's DBC; a status frame's signals go
through the car's mapping (transforms included) to vehicle signals in VSS names, and each change is
printed with its time since the first frame.  Nothing is sent anywhere.

Frames are counted, never fatal: ids the DBC does not know, frames it cannot decode (short,
garbled), frames of a checksummed message whose checksum is wrong (not believed, as the bridge
would not), and frames of messages the mapping reads nothing from.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import can
import cantools.database

from assistant.errors import InputError
from firmware_bridge.bus import Value, decode, load_dbc
from firmware_bridge.cars import check_dbc_file, find_car
from firmware_bridge.checksums import FrameProtection
from firmware_bridge.errors import MappingError
from firmware_bridge.gpio import GPIO_OUTPUTS
from firmware_bridge.mapping import VehicleMapping, check_mapping, load_allowlist, load_mapping
from firmware_bridge.recording import READ_ERRORS, check_complete
from firmware_bridge.transforms import TransformError

READABLE = (".log", ".asc", ".blf", ".csv", ".trc")


@dataclass(frozen=True)
class Change:
    """One vehicle signal taking a new value in the recording."""

    time_s: float
    """Seconds since the recording's first frame."""
    signal: str
    value: Value


@dataclass
class Replay:
    """What a recording held: the state changes, the final state, and how many frames of each kind."""

    changes: list[Change] = field(default_factory=list)
    state: dict[str, Value] = field(default_factory=dict)
    start: float | None = None
    """Time stamp (seconds since the epoch) of the first frame."""
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("frames", "status", "other", "unknown_id", "undecodable", "bad_checksum", "not_data"), 0
        )
    )


def _readings(mapping: VehicleMapping) -> dict[str, list[tuple[str, str]]]:
    """DBC message -> (DBC signal, vehicle signal) for every status the mapping reads."""
    out: dict[str, list[tuple[str, str]]] = {}
    for name, m in mapping.signals.items():
        if m.status is not None:
            out.setdefault(m.status.message, []).append((m.status.signal, name))
    return out


def replay_file(
    path: Path,
    db: cantools.database.can.Database,
    mapping: VehicleMapping,
    protections: dict[str, FrameProtection],
    on_change: Callable[[Change], None] | None = None,
) -> Replay:
    """Read ``path`` frame by frame into a ``Replay``; ``on_change`` sees each change as it is found."""
    readings = _readings(mapping)
    result = Replay()
    counts = result.counts
    for msg in _frames(path):
        counts["frames"] += 1
        if result.start is None:
            result.start = msg.timestamp
        if msg.is_error_frame or msg.is_remote_frame:
            counts["not_data"] += 1
            continue
        frame = decode(db, msg, "rx")
        if not frame.message:
            counts["unknown_id"] += 1
            continue
        if not frame.signals:
            counts["undecodable"] += 1
            continue
        if not _sealed(protections.get(frame.message), frame.data):
            counts["bad_checksum"] += 1
            continue
        if frame.message not in readings:
            counts["other"] += 1
            continue
        counts["status"] += 1
        for signal, name in readings[frame.message]:
            status = mapping.signals[name].status
            raw = frame.signals.get(signal)
            if status is None or raw is None:
                continue
            try:
                value = status.read(raw)
            except TransformError:
                continue  # a value the mapping has no vehicle meaning for
            if result.state.get(name) != value or name not in result.state:
                result.state[name] = value
                change = Change(msg.timestamp - result.start, name, value)
                result.changes.append(change)
                if on_change is not None:
                    on_change(change)
    return result


def _sealed(protection: FrameProtection | None, data: bytes) -> bool:
    """False when the message has a checksum and this frame's is wrong."""
    if protection is None or protection.algorithm is None:
        return True
    try:
        return protection.verify(data) is not None
    except (cantools.database.DecodeError, ValueError, KeyError):
        return False


def _frames(path: Path) -> Iterator[can.Message]:
    if path.suffix.lower() not in READABLE:
        what = path.suffix or "a file without suffix"
        raise InputError(f"{path}: cannot read {what}; give a recording ending in {', '.join(READABLE)}")
    if not path.is_file():
        raise InputError(f"{path}: no such recording; check the path")
    try:
        # .asc counts from its header's date only when asked; the others store epoch times
        options = {"relative_timestamp": False} if path.suffix.lower() == ".asc" else {}
        check_complete(path)
        yield from can.LogReader(str(path), **options)
    except READ_ERRORS as err:
        raise InputError(f"{path}: unreadable as a {path.suffix} recording: {err}") from err


def _car_name(args: argparse.Namespace) -> str:
    """``replay --car`` or the global ``car-assistant --car`` (ignored before: a Honda drive was
    decoded as the reference car's), else the reference car."""
    mine, outer = args.car, getattr(args, "global_car", None)
    if mine and outer and mine != outer:
        raise InputError(f"--car {outer} and replay --car {mine} disagree; give one")
    return str(mine or outer or "reference_car")


def cmd_replay(args: argparse.Namespace) -> int:
    args.car = _car_name(args)
    if args.sim:
        return _replay_into_sim(args)
    car = find_car(args.car)
    dbc = Path(args.dbc) if args.dbc else car.dbc_path
    if dbc is None:
        raise MappingError(
            f"{car.name} needs its DBC, which does not ship: "
            f"replay FILE --car {car.name} --dbc {car.dbc_name}"
        )
    check_dbc_file(car, dbc)
    db = load_dbc(dbc)
    mapping = load_mapping(car.mapping_path)
    protections = check_mapping(mapping, load_allowlist(car.allowlist_path), db, dbc, GPIO_OUTPUTS)
    path = Path(args.file)

    def show(change: Change) -> None:
        print(f"{change.time_s:10.3f}  {change.signal} = {change.value}", flush=True)

    result = replay_file(path, db, mapping, protections, show)
    if not result.counts["frames"]:
        raise InputError(f"{path}: holds no frames; record a drive with: car-assistant monitor --log FILE")
    start = (
        datetime.fromtimestamp(result.start, UTC).isoformat(timespec="milliseconds")
        if result.start is not None
        else "no frames"
    )
    counts = result.counts
    print(
        f"# {path.name} ({car.name}, from {start}): {counts['frames']} frames, {counts['status']} status, "
        f"{counts['other']} other, {counts['unknown_id']} unknown id, {counts['undecodable']} undecodable, "
        f"{counts['bad_checksum']} bad checksum, {counts['not_data']} error/remote; "
        f"{len(result.changes)} changes"
    )
    return 0


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``replay`` through cli.py's ``add``."""
    p = add("replay", cmd_replay, "a recording (.log, .asc, .blf) as vehicle-state changes in VSS names")
    p.add_argument("file", metavar="FILE", help="the recording: candump .log, .asc, .blf (also .csv, .trc)")
    p.add_argument("--car", metavar="NAME", help="whose DBC and mapping (car list); default: reference_car")
    p.add_argument(
        "--sim",
        action="store_true",
        help="play its commands into the simulated reference car; exit 1 unless it ends as recorded",
    )
    p.add_argument("--speed", type=float, default=1.0, help="--sim: faster (2) or slower (0.5) than recorded")
    p.add_argument("--dbc", metavar="FILE", help="the car's DBC (for cars whose DBC does not ship)")


def _replay_into_sim(args: argparse.Namespace) -> int:
    """``replay FILE --sim``: the recording's allowlisted commands into a fresh simulated car."""
    from assistant.config import load_settings
    from assistant.runtime import bridge_config
    from firmware_bridge import Frame, format_frame
    from firmware_bridge.recording import replay

    if args.car != "reference_car":
        raise InputError(f"--sim plays into the simulated reference car; drop --car {args.car}")
    settings, _ = load_settings(args.config)
    sim = {"window_travel_s": settings.sim.window_travel_s, "scenario": settings.sim.scenario}

    def show(frame: Frame) -> None:
        if frame.direction == "tx":
            print(format_frame(frame), flush=True)

    result = replay(args.file, bridge_config(settings), sim, speed=args.speed, on_frame=show)
    print(f"# replayed {result.commands} command frames ({result.skipped} other frames not sent)")
    if result.matches:
        print(f"# the simulated car ended as recorded ({len(result.recorded)} status signals)")
        return 0
    for key, (recorded, replayed) in result.differences.items():
        print(f"# differs: {key} recorded {recorded}, replayed {replayed}")
    return 1
