"""deploy/car-assistant.service: systemd accepts it, and it says what the service promises."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path

from assistant.cli import build_argparser

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "car-assistant.service"


def unit_fields() -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return {section: dict(parser[section]) for section in parser.sections()}


def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: apt-get install systemd (.ci/run does)"
    # verify checks that ExecStart exists: point the unit at a stand-in under a temporary prefix,
    # as install.sh --prefix does
    prefix = tmp_path / "opt"
    exe = prefix / "venv" / "bin" / "car-assistant"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n", encoding="utf-8")
    exe.chmod(0o755)
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text(encoding="utf-8").replace("/opt/car-assistant", str(prefix)))
    p = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "car-assistant.service" not in p.stderr, p.stderr  # a warning about our unit is a failure too


def test_unit_is_a_notify_service_with_a_watchdog_and_the_offline_promise() -> None:
    service = unit_fields()["Service"]
    assert service["Type"] == "notify"
    assert service["WatchdogSec"] == "10s"
    assert service["Restart"] == "on-failure"
    assert service["RestrictAddressFamilies"].split() == ["AF_UNIX", "AF_NETLINK", "AF_CAN"]
    assert service["IPAddressDeny"] == "any"
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    # PrivateNetwork would move the service into a namespace without can0
    assert "PrivateNetwork" not in service
    unit = unit_fields()["Unit"]
    assert "sys-subsystem-net-devices-can0.device" in unit["After"].split()
    assert "sound.target" in unit["After"].split()


def test_unit_execstart_is_a_command_line_the_cli_accepts() -> None:
    argv = shlex.split(unit_fields()["Service"]["ExecStart"])
    assert argv[0] == "/opt/car-assistant/venv/bin/car-assistant"
    args = build_argparser().parse_args(argv[1:])
    assert args.command == "service" and args.no_sim and args.log_level == "info"
