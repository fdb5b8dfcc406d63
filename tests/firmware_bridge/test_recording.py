"""Recording through python-can's writers, and replay into the simulated controller."""

from __future__ import annotations

import time
from pathlib import Path

import can
import pytest

from firmware_bridge import BodyControllerSim, BridgeConfig, CanBridge, Frame
from firmware_bridge.errors import BridgeConfigError, MappingError
from firmware_bridge.recording import FORMATS, Recorder, read_recording, replay
from tests.firmware_bridge.conftest import FAST

DRIVER_WINDOW = "Vehicle.Cabin.Door.Row1.DriverSide.Window.Position"
FOG = "Vehicle.Body.Lights.Fog.Front.IsOn"


def record_session(config: BridgeConfig, path: Path) -> None:
    """A short drive: the driver window half open, fog lights on, recorded frame by frame."""
    recorder = Recorder(path)
    with BodyControllerSim(config, **FAST) as _sim, CanBridge(config) as bridge:  # type: ignore[arg-type]
        assert bridge.wait_ready(2.0)
        unsubscribe = bridge.subscribe(recorder)
        assert bridge.actuate({DRIVER_WINDOW: 50}).ok
        assert bridge.actuate({FOG: 1}).ok
        time.sleep(0.2)  # a few status frames after the last change
        unsubscribe()
    recorder.close()


@pytest.mark.parametrize("suffix", FORMATS)
def test_every_format_round_trips_ids_payloads_and_order(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"drive{suffix}"
    frames = [
        Frame(1000.0 + i / 100, "tx" if i % 2 else "rx", 0x300 + i, bytes([i, 2, 3]), "") for i in range(5)
    ]
    recorder = Recorder(path)
    for frame in frames:
        recorder(frame)
    recorder.close()
    back = read_recording(path)
    assert [(m.arbitration_id, bytes(m.data), m.is_extended_id) for m in back] == [
        (f.id, f.data, False) for f in frames
    ]
    if suffix != ".csv":  # python-can's CSV has no direction column
        assert [m.is_rx for m in back] == [f.direction == "rx" for f in frames]


def test_a_recorded_session_replays_to_the_same_vehicle_state(tmp_path: Path, config: BridgeConfig) -> None:
    path = tmp_path / "session.log"
    record_session(config, path)
    replay_config = BridgeConfig(channel=config.channel + "-replay")
    result = replay(path, replay_config, FAST, settle_s=5)
    assert result.commands == 2
    assert result.recorded["WINDOW_STATUS.WinPosDriver"] == 50
    assert result.recorded["LIGHT_STATUS.FogFrontOn"] == 1
    assert result.matches, result.differences


def test_a_replay_missing_a_command_does_not_match(tmp_path: Path, config: BridgeConfig) -> None:
    path = tmp_path / "session.blf"
    record_session(config, path)
    cut = tmp_path / "cut.blf"
    # the fog-light command (LIGHT_CMD, 0x304) dropped from the recording
    with can.Logger(str(cut)) as writer:
        for msg in read_recording(path):
            if msg.arbitration_id != 0x304:
                writer.on_message_received(msg)
    result = replay(cut, BridgeConfig(channel=config.channel + "-replay"), FAST, settle_s=1)
    assert result.commands == 1
    assert result.differences == {"LIGHT_STATUS.FogFrontOn": (1, 0)}


def test_replay_never_plays_onto_a_real_bus(tmp_path: Path) -> None:
    path = tmp_path / "session.log"
    path.write_text("", encoding="utf-8")
    with pytest.raises(BridgeConfigError, match="virtual bus only"):
        replay(path, BridgeConfig(interface="socketcan", channel="can0"))


def test_unknown_format_and_missing_file_are_errors_naming_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(BridgeConfigError, match=r"\.log, \.asc, \.blf, \.csv"):
        Recorder(tmp_path / "drive.txt")
    with pytest.raises(MappingError, match="monitor --log"):
        read_recording(tmp_path / "nothing.asc")


def _blf(path: Path, n: int = 300) -> Path:
    """A .blf of n frames with varied payloads (so the compressed file is many containers' worth)."""
    recorder = Recorder(path)
    for i in range(n):
        recorder(Frame(1000.0 + i / 100, "rx", 0x300 + i % 7, bytes((i * k) % 251 for k in range(1, 9)), ""))
    recorder.close()
    return path


def test_a_blf_that_is_not_vectors_or_is_torn_is_one_clear_error(tmp_path: Path) -> None:
    """python-can raises BLFParseError or struct.error on these, and reads a torn file up to the tear
    without a word (so a replay stopped early and still said it ended as recorded)."""
    garbage = tmp_path / "garbage.blf"
    garbage.write_bytes(b"not a binary logging file at all" * 20)
    with pytest.raises(MappingError, match="not a readable .blf recording"):
        read_recording(garbage)
    whole = _blf(tmp_path / "whole.blf").read_bytes()
    assert len(read_recording(tmp_path / "whole.blf")) == 300
    for cut in (50, 200, len(whole) // 2, len(whole) - 10):
        torn = tmp_path / f"torn{cut}.blf"
        torn.write_bytes(whole[:cut])
        with pytest.raises(MappingError, match="not a readable .blf recording"):
            read_recording(torn)
