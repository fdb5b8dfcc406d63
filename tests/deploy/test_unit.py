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
    assert args.command == "service" and args.no_sim
    assert args.log_level is None  # the config's logging.level decides


NETWORK = UNIT.parent / "can0.network"


def test_can0_network_uses_only_keys_this_systemd_networkd_knows() -> None:
    # networkd has no verify command; its key table (gperf strings "Section.Key") is in its binary
    binary = next(
        (p for p in (Path("/lib/systemd/systemd-networkd"), Path("/usr/lib/systemd/systemd-networkd"))
         if p.is_file()),
        None,
    )  # fmt: skip
    assert binary, "systemd-networkd is missing: apt-get install systemd (.ci/run does)"
    known = set(binary.read_bytes().split(b"\0")) | set(binary.read_bytes().split())
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(NETWORK.read_text(encoding="utf-8"))
    keys = [f"{section}.{key}" for section in parser.sections() for key in parser[section]]
    assert keys == ["Match.Name", "CAN.BitRate", "CAN.RestartSec", "Link.RequiredForOnline"]
    unknown = [k for k in keys if k.encode() not in known]
    assert unknown == []
    assert parser["Match"]["Name"] == "can0"
    assert parser["CAN"]["BitRate"] == "500K"  # BridgeConfig.bitrate, the bridge's default
    assert parser["CAN"]["RestartSec"] == "100ms"  # bus-off recovery (SupervisedBus waits for it)
