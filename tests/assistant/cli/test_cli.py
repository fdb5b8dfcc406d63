"""The console script as a user runs it: exact JSON contracts and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.config import load_settings
from assistant.errors import ConfigError


def run(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_parse_json_prints_the_contract() -> None:
    p = run("parse", "--json", "--nlu", "templates", "close the windows and turn on the AC")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["text"] == "close the windows and turn on the AC"
    assert [(c["intent"], c["slots"]) for c in out["commands"]] == [
        ("window.close", {"window": "all"}),
        ("climate.ac", {"state": "on"}),
    ]
    assert all(0 <= c["confidence"] <= 1 for c in out["commands"])


def test_parse_json_lines_from_stdin_keep_order_and_survive_bad_lines() -> None:
    lines = ["lock the doors", "x" * 600, "", "what's the weather"]
    p = run("parse", "--json", "--nlu", "templates", "-", stdin="\n".join(lines) + "\n")
    assert p.returncode == 0, p.stderr
    outs = [json.loads(line) for line in p.stdout.splitlines()]
    assert [o["text"] for o in outs] == lines
    assert outs[0]["commands"][0]["intent"] == "doors.lock"
    assert outs[1]["commands"] == [] and "500" in outs[1]["error"]
    assert outs[2]["commands"] == [] and outs[3]["commands"] == []


def test_say_json_has_commands_actions_frames_reply() -> None:
    p = run("say", "--json", "--nlu", "templates", "turn on the fog lights")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["commands"][0]["intent"] == "lights.set"
    assert out["actions"][0]["status"] == "done"
    directions = {f["direction"] for f in out["frames"]}
    assert directions == {"tx", "rx"}
    tx = next(f for f in out["frames"] if f["direction"] == "tx")
    assert tx["id"].startswith("0x") and tx["signals"] and bytes.fromhex(tx["data"])
    assert out["reply"] == "Fog lights on."


def test_bad_config_is_one_error_line(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("can:\n  interfase: socketcan\n")
    p = run("--config", str(cfg), "config")
    assert p.returncode == 1
    assert p.stderr.strip().splitlines() == [
        f"error: {cfg}: unknown key can.interfase; known: "
        "interface, channel, simulate, dbc, mapping, car, dbc_unverified"
    ]


def test_malformed_config_names_file_and_line(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("can:\n  interface: virtual\n   channel: [x\n")
    with pytest.raises(ConfigError, match=rf"{cfg}:3"):
        load_settings(cfg, environ={})


def test_mapping_naming_a_missing_dbc_signal_fails_at_start(tmp_path: Path) -> None:
    from firmware_bridge.config import DEFAULT_MAPPING

    text = DEFAULT_MAPPING.read_text().replace("WinTargetPos", "WinTargetPosition", 1)
    mapping = tmp_path / "m.yaml"
    mapping.write_text(text)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"can:\n  mapping: {mapping}\n")
    p = run("--config", str(cfg), "say", "--nlu", "templates", "open the window")
    assert p.returncode == 1
    assert p.stderr.startswith("error: ") and "WinTargetPosition" in p.stderr and "Vehicle." in p.stderr


def test_precedence_flags_over_env_over_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("nlu:\n  engine: slm\ncan:\n  channel: from-file\nsim:\n  window_travel_s: 1.5\n")
    env = {"CAR_ASSISTANT_CAN_CHANNEL": "from-env"}
    s, source = load_settings(cfg, environ=env)
    assert (s.nlu.engine, s.can.channel, s.sim.window_travel_s, source) == ("slm", "from-env", 1.5, str(cfg))
    s, _ = load_settings(cfg, environ=env, overrides={"can": {"channel": "from-flag"}})
    assert s.can.channel == "from-flag"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CAR_ASSISTANT_SIM_WINDOW_TRAVEL_S": "0"}, "below the minimum"),
        ({"CAR_ASSISTANT_CAN_SIMULATE": "maybe"}, "is not a bool"),
        ({"CAR_ASSISTANT_NLU_ENGINE": "gpt"}, "is not one of slm, templates"),
        ({"CAR_ASSISTANT_WHAT_EVER": "1"}, "unknown setting CAR_ASSISTANT_WHAT_EVER"),
    ],
)
def test_bad_environment_values_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(None, environ=env)


def test_the_language_model_is_the_default_engine() -> None:
    settings, _ = load_settings(None, environ={})
    assert settings.nlu.engine == "slm"
    p = run("parse", "--json", "quieter please", env={"PATH": "/usr/bin:/bin"})
    assert p.returncode == 0, p.stderr
    assert [(c["intent"], c["slots"]) for c in json.loads(p.stdout)["commands"]] == [
        ("media.volume", {"direction": "down"})
    ]


@pytest.mark.parametrize("value", ["nan", "-1", "0", "abc"])
def test_monitor_seconds_must_be_a_positive_number(value: str) -> None:
    """nan or -1 ended monitor at once with exit 0 and not a word."""
    p = run("monitor", "--seconds", value)
    assert p.returncode == 2
    assert p.stderr.splitlines()[-1] == (
        f"car-assistant monitor: error: argument --seconds: {value!r}: give a number of seconds > 0, e.g. 5"
    )
