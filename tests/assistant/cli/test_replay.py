"""``car-assistant replay FILE --car NAME``: recordings written with python-can's own writers, read back.

Each recording holds real DBC-encoded status frames, a frame whose id the DBC lacks and one too
short to decode: the last two are counted, and the state changes come out in VSS names.
"""

from __future__ import annotations

import time
from pathlib import Path

import can
import cantools.database
import pytest

from assistant.cli import main
from assistant.cli.replay import replay_file
from firmware_bridge import CanBridge
from firmware_bridge.bus import load_dbc
from firmware_bridge.cars import find_car
from firmware_bridge.config import DEFAULT_DBC
from firmware_bridge.gpio import GPIO_OUTPUTS
from firmware_bridge.mapping import check_mapping, load_allowlist, load_mapping
from tests.firmware_bridge.test_honda import DBC as HONDA_DBC
from tests.firmware_bridge.test_honda import HondaBody, _config, seal

T0 = 1_764_500_000.0
SPEED = "Vehicle.Speed"
GEAR = "Vehicle.Powertrain.Transmission.SelectedGear"
WINDOW = "Vehicle.Cabin.Door.Row1.DriverSide.Window.Position"
LOW = "Vehicle.Body.Lights.Beam.Low.IsOn"


def _record(path: Path, frames: list[tuple[float, int, bytes]]) -> Path:
    with can.Logger(str(path)) as logger:
        for t, arbitration_id, data in frames:
            logger.on_message_received(
                can.Message(timestamp=T0 + t, arbitration_id=arbitration_id, is_extended_id=False, data=data)
            )
    return path


def _reference_drive(path: Path) -> Path:
    db = load_dbc(DEFAULT_DBC)
    motion = db.get_message_by_name("VEHICLE_MOTION")
    window = db.get_message_by_name("WINDOW_STATUS")
    light = db.get_message_by_name("LIGHT_STATUS")

    def encode(message: cantools.database.can.Message, **values: int | float | str) -> bytes:
        full: dict[str, int | float | str] = {s.name: 0 for s in message.signals} | values
        return bytes(message.encode(full, strict=True))

    return _record(
        path,
        [
            (0.0, motion.frame_id, encode(motion, VehicleSpeed=0, SelectedGear="park")),
            (0.1, window.frame_id, encode(window, WinPosDriver=0)),
            (0.2, light.frame_id, encode(light)),
            (0.3, 0x7FF, b"\x01\x02"),  # not in the DBC
            (0.4, motion.frame_id, b"\x00"),  # too short to decode
            (1.0, motion.frame_id, encode(motion, VehicleSpeed=0, SelectedGear="park")),  # no change
            (1.5, window.frame_id, encode(window, WinPosDriver=40)),
            (2.0, light.frame_id, encode(light, LowBeamOn=1)),
            (2.5, motion.frame_id, encode(motion, VehicleSpeed=12.5, SelectedGear="drive")),
        ],
    )


@pytest.mark.parametrize("suffix", [".log", ".asc", ".blf"])
def test_replay_prints_state_changes_in_vss_names_and_counts_what_it_cannot_decode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    path = _reference_drive(tmp_path / f"drive{suffix}")
    assert main(["replay", str(path), "--car", "reference_car"]) == 0
    lines = capsys.readouterr().out.splitlines()
    changes = [line.split() for line in lines if not line.startswith("#")]
    by_signal: dict[str, list[tuple[float, str]]] = {}
    for t, signal, _, value in changes:
        by_signal.setdefault(signal, []).append((float(t), value))
    assert by_signal[SPEED] == [(0.0, "0.0"), (2.5, "12.5")]
    assert by_signal[GEAR] == [(0.0, "park"), (2.5, "drive")]
    assert by_signal[WINDOW] == [(0.1, "0"), (1.5, "40")]
    assert by_signal[LOW] == [(0.2, "0"), (2.0, "1")]
    summary = lines[-1]
    assert summary.startswith(f"# drive{suffix} (reference_car, from 2025-11-30T")
    assert "9 frames, 7 status, 0 other, 1 unknown id, 1 undecodable, 0 bad checksum" in summary
    assert summary.endswith(f"; {len(changes)} changes") and len(changes) == 16


def test_a_frame_whose_checksum_is_wrong_is_counted_and_not_believed(tmp_path: Path) -> None:
    honda = find_car("honda")
    db = load_dbc(HONDA_DBC)
    mapping = load_mapping(honda.mapping_path)
    protections = check_mapping(mapping, load_allowlist(honda.allowlist_path), db, HONDA_DBC, GPIO_OUTPUTS)
    doors = db.get_message_by_name("DOORS_STATUS")
    path = _record(
        tmp_path / "honda.log",
        [
            (0.0, doors.frame_id, seal(doors, {"TRUNK_OPEN": 0}, 0)),
            (0.1, doors.frame_id, seal(doors, {"TRUNK_OPEN": 1}, 1, wrong=True)),
            (0.2, doors.frame_id, seal(doors, {"TRUNK_OPEN": 0}, 2)),
            (0.3, doors.frame_id, seal(doors, {"TRUNK_OPEN": 1}, 3)),
        ],
    )
    result = replay_file(path, db, mapping, protections)
    trunk = [(round(c.time_s, 3), c.value) for c in result.changes if c.signal.endswith("Trunk.Rear.IsOpen")]
    assert trunk == [(0.0, 0), (0.3, 1)]
    assert result.counts["bad_checksum"] == 1 and result.counts["status"] == 3


def test_unreadable_input_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(tmp_path / "drive.mp3")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert "give a recording ending in .log, .asc, .blf" in err[0]
    assert main(["replay", str(tmp_path / "missing.log")]) == 1
    assert "no such recording" in capsys.readouterr().err


def test_a_car_whose_dbc_does_not_ship_needs_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _record(tmp_path / "x.log", [(0.0, 0x7FF, b"\x00")])
    assert main(["replay", str(path), "--car", "honda"]) == 1
    assert "--dbc honda_crv_touring_2016_can_generated.dbc" in capsys.readouterr().err


def test_a_recorded_drive_replays_to_the_state_the_bridge_ended_with(tmp_path: Path) -> None:
    """The bus of a Honda drive recorded as ``monitor --log`` would, then replayed: same final state."""
    channel = "replay-recorded-honda-drive"
    path = tmp_path / "honda_drive.blf"
    body = HondaBody(channel, cyclic=True)
    recorder = can.Bus(interface="virtual", channel=channel)
    logger = can.Logger(str(path))
    notifier = can.Notifier(recorder, [logger])
    try:
        with CanBridge(_config(channel)) as bridge:
            assert bridge.wait_ready(2.0)
            assert bridge.actuate({LOW: 1}).ok
            assert bridge.actuate({"Vehicle.Body.Lights.Beam.High.IsOn": 1}).ok
            body.stopping.set()  # the car goes quiet; what the bridge believes now is the end state
            assert body.thread is not None
            body.thread.join()
            time.sleep(0.1)
            final = bridge.state()
    finally:
        body.close()
        notifier.stop()  # stops the logger too, closing the file
        recorder.shutdown()
    honda = find_car("honda")
    db = load_dbc(HONDA_DBC)
    mapping = load_mapping(honda.mapping_path)
    protections = check_mapping(mapping, load_allowlist(honda.allowlist_path), db, HONDA_DBC, GPIO_OUTPUTS)
    result = replay_file(path, db, mapping, protections)
    assert result.state == final and final[LOW] == 1
    assert result.counts["bad_checksum"] == result.counts["undecodable"] == result.counts["unknown_id"] == 0
    assert result.counts["other"] > 0, "the bridge's own switch frames were recorded too"


def test_a_garbage_or_torn_blf_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """a .blf that is not Vector's gave a BLFParseError traceback; a torn one replayed silently."""
    garbage = tmp_path / "garbage.blf"
    garbage.write_bytes(bytes(range(256)) * 8)
    whole = _reference_drive(tmp_path / "drive.blf").read_bytes()
    torn = tmp_path / "torn.blf"
    torn.write_bytes(whole[: len(whole) * 2 // 3])
    for args in (["replay", str(garbage)], ["replay", str(garbage), "--sim"], ["replay", str(torn)],
                 ["replay", str(torn), "--sim"]):
        assert main(args) == 1, args
        out, err = capsys.readouterr()
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, err)
        assert ".blf recording" in lines[0], (args, err)
        assert "changes" not in out and "ended as recorded" not in out


def test_a_recording_without_frames_is_an_error_not_a_match(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--sim said 'the simulated car ended as recorded (0 status signals)' of an empty file."""
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    for args in (["replay", str(empty)], ["replay", str(empty), "--sim"]):
        assert main(args) == 1, args
        out, err = capsys.readouterr()
        hint = "record a drive with: car-assistant monitor --log FILE"
        assert err == f"error: {empty}: holds no frames; {hint}\n"
        assert "ended as recorded" not in out


def test_the_global_car_flag_picks_the_car(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`car-assistant --car honda replay FILE` decoded the drive as the reference car's, without a word."""
    drive = _reference_drive(tmp_path / "drive.log")
    assert main(["--car", "honda", "replay", str(drive)]) == 1
    assert "--car honda --dbc honda_crv_touring_2016_can_generated.dbc" in capsys.readouterr().err
    assert main(["--car", "honda", "replay", str(drive), "--sim"]) == 1
    assert "--sim plays into the simulated reference car; drop --car honda" in capsys.readouterr().err
    assert main(["--car", "honda", "replay", "--car", "ford", str(drive)]) == 1
    assert capsys.readouterr().err == "error: --car honda and replay --car ford disagree; give one\n"
    assert main(["--car", "reference_car", "replay", str(drive)]) == 0
    assert "(reference_car, from " in capsys.readouterr().out
