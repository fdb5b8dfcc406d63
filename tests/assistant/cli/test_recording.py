"""car-assistant monitor --log / --json and car-assistant replay, as a user runs them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.assistant.cli.test_cli import run


def test_monitor_records_and_replay_reaches_the_same_state(tmp_path: Path) -> None:
    env = dict(os.environ, CAR_ASSISTANT_SIM_WINDOW_TRAVEL_S="0.5")
    env.pop("CAR_ASSISTANT_CONFIG", None)
    log = tmp_path / "drive.asc"
    p = run(
        "monitor", "--nlu", "templates", "--json", "--log", str(log),
        "--say", "open the driver window", "--say", "turn on the fog lights", "--seconds", "1.5",
        env=env,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    assert {"say": "turn on the fog lights", "reply": "Fog lights on."} in lines
    tx = [line for line in lines if line.get("direction") == "tx"]
    assert [f["message"] for f in tx] == ["WINDOW_CMD", "LIGHT_CMD"]
    assert tx[0]["signals"] == {"WinSelect": "driver", "WinTargetPos": 100}
    assert "frames written to" in p.stderr and log.stat().st_size > 0

    p = run("replay", str(log), "--sim", env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "replayed 2 command frames" in p.stdout
    assert "the simulated car ended as recorded" in p.stdout


def test_replay_of_a_missing_file_is_one_error_line(tmp_path: Path) -> None:
    p = run("replay", str(tmp_path / "none.log"), "--sim")
    assert p.returncode == 1
    assert p.stderr.strip().splitlines() == [
        f"error: no recording at {tmp_path / 'none.log'}; make one with: car-assistant monitor --log none.log"
    ]
