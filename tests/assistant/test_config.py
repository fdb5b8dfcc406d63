"""Config values and files that must be refused with one clear line (issue 9, item 14)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.config import load_settings
from assistant.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-inf", "1e999"])
@pytest.mark.parametrize("name", ["VEHICLE_WALKING_SPEED_KMH", "SIM_WINDOW_TRAVEL_S", "VOICE_WAKE_CUTOFF"])
def test_nan_and_inf_from_the_environment_are_refused(name: str, raw: str) -> None:
    key = f"{name.split('_', 1)[0].lower()}.{name.split('_', 1)[1].lower()}"
    with pytest.raises(ConfigError, match=rf"^environment: {key}: '{raw}' is not a finite number$"):
        load_settings(None, environ={f"CAR_ASSISTANT_{name}": raw})


@pytest.mark.parametrize("raw", [".nan", ".inf", "-.inf"])
def test_nan_and_inf_in_a_file_are_refused(tmp_path: Path, raw: str) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"vehicle:\n  unlock_max_speed_kmh: {raw}\n")
    with pytest.raises(ConfigError, match=r"vehicle\.unlock_max_speed_kmh: .* is not a finite number"):
        load_settings(cfg, environ={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sim:\n  window_travel_s: true\n", r"sim\.window_travel_s: True is not a float"),
        ("vehicle:\n  walking_speed_kmh: no\n", r"vehicle\.walking_speed_kmh: False is not a float"),
        ("can:\n  channel: yes\n", r"can\.channel: True is not a str"),
    ],
)
def test_booleans_are_not_numbers_or_names(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(cfg, environ={})


def test_a_finite_number_still_passes(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("vehicle:\n  walking_speed_kmh: 4\nsim:\n  window_travel_s: 1.5e0\n")
    settings, _ = load_settings(cfg, environ={"CAR_ASSISTANT_VEHICLE_UNLOCK_MAX_SPEED_KMH": "12.5"})
    assert (settings.vehicle.walking_speed_kmh, settings.sim.window_travel_s) == (4.0, 1.5)
    assert settings.vehicle.unlock_max_speed_kmh == 12.5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "vehicle:\n  walking_speed_kmh: 30\n  unlock_max_speed_kmh: 5\n  walking_speed_kmh: 3\n",
            r"c\.yaml:4: 'walking_speed_kmh' is given twice \(first on line 2\); keep one$",
        ),
        (
            "can:\n  channel: a\nnlu:\n  engine: slm\ncan:\n  interface: virtual\n",
            r"c\.yaml:5: 'can' is given twice \(first on line 1\); keep one$",
        ),
    ],
)
def test_a_duplicate_key_is_an_error_with_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(cfg, environ={})


def _config_command(path: Path, unprivileged: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # root reads any file: without its two file-permission capabilities it cannot (util-linux's setpriv)
    drop = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
    return subprocess.run(
        [
            *(drop if unprivileged and os.geteuid() == 0 else []),
            *[sys.executable, "-m", "assistant.cli", "--config", str(path), "config"],
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )


def test_a_directory_as_config_is_one_error_line(tmp_path: Path) -> None:
    p = _config_command(tmp_path)
    assert p.returncode == 1
    assert p.stderr.splitlines() == [
        f"error: config file {tmp_path} is a directory; give a YAML file to --config"
    ]


def test_a_binary_file_as_config_is_one_error_line(tmp_path: Path) -> None:
    cfg = tmp_path / "model.onnx"
    cfg.write_bytes(b"\x08\x07\x12\x07pytorch\x1a\x052.13\xff\xfe\x00\x01")
    p = _config_command(cfg)
    assert p.returncode == 1
    assert p.stderr.splitlines() == [
        f"error: config file {cfg} is not text (byte 18 is not UTF-8); give a YAML file"
    ]


def test_a_binary_file_that_decodes_as_utf8_is_one_error_line(tmp_path: Path) -> None:
    cfg = tmp_path / "blob.bin"
    cfg.write_bytes(b"\x00\x01\x02\x03can:\n")
    p = _config_command(cfg)
    assert p.returncode == 1
    assert p.stderr.splitlines() == [
        f"error: config file {cfg} is not YAML (character 1 is a control character); give a YAML file"
    ]


def test_an_unreadable_config_is_one_error_line(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("can:\n  channel: x\n")
    cfg.chmod(0)
    p = _config_command(cfg, unprivileged=True)
    assert p.returncode == 1
    assert p.stderr.splitlines() == [
        f"error: config file {cfg} cannot be read (permission denied); check its mode"
    ]
