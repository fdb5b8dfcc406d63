"""deploy/install.sh into a temporary prefix: the steps this machine can check without root."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "deploy" / "install.sh"


def install(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(INSTALL), *args], capture_output=True, text=True, timeout=600, cwd="/"
    )


def borrowed_dependencies(tmp_path: Path) -> Path:
    """The test environment's packages minus its own car-assistant, for an install made with --no-deps.

    Its editable-install hook has the same module name as the new install's and would win.
    """
    farm = tmp_path / "deps"
    farm.mkdir()
    for sp in site.getsitepackages():
        for entry in Path(sp).iterdir():
            if entry.name.startswith(("__editable__", "car_assistant")) or entry.suffix == ".pth":
                continue
            if not (farm / entry.name).exists():
                (farm / entry.name).symlink_to(entry)
    return farm


def test_install_into_a_prefix_runs_again_and_uninstalls(tmp_path: Path) -> None:
    prefix = tmp_path / "root"
    python = shutil.which("python3.11") or shutil.which("python3")
    assert python
    p = install("--prefix", str(prefix), "--python", python, "--no-deps", "--no-vosk")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "skipped apt, the service user and systemctl" in p.stdout
    opt, etc = prefix / "opt" / "car-assistant", prefix / "etc" / "car-assistant"
    unit = prefix / "etc" / "systemd" / "system" / "car-assistant.service"
    assert (opt / "venv" / "bin" / "car-assistant").is_file()
    assert (opt / "src" / "models" / "slm" / "model.onnx").is_file()
    assert not (opt / "src" / ".git").exists() and not (opt / "src" / ".venv").exists()
    assert (prefix / "etc" / "systemd" / "network" / "80-can0.network").is_file()
    config = (etc / "config.yaml").read_text(encoding="utf-8")
    assert f"vosk_model: {prefix}/var/lib/car-assistant/vosk-model-small-en-us-0.15" in config
    assert f"ExecStart={opt}/venv/bin/car-assistant service --no-sim" in unit.read_text(encoding="utf-8")

    # the unit as installed (its ExecStart now exists) passes systemd's own check
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: apt-get install systemd (.ci/run does)"
    v = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert v.returncode == 0, v.stderr

    # the installed command runs the installed copy with the installed config
    env = dict(os.environ, PYTHONPATH=str(borrowed_dependencies(tmp_path)))
    env.pop("CAR_ASSISTANT_CONFIG", None)
    c = subprocess.run(
        [str(opt / "venv" / "bin" / "car-assistant"), "--config", str(etc / "config.yaml"), "config"],
        capture_output=True, text=True, timeout=120, env=env, cwd="/",
    )  # fmt: skip
    assert c.returncode == 0, c.stderr
    assert "interface: socketcan" in c.stdout and "channel: can0" in c.stdout
    assert f"dbc: {opt}/src/firmware_bridge/dbc/reference_car.dbc" in c.stdout

    # again: nothing breaks, and the driver's own config stays
    (etc / "config.yaml").write_text(config + "# mine\n", encoding="utf-8")
    p = install("--prefix", str(prefix), "--python", python, "--no-deps", "--no-vosk")
    assert p.returncode == 0, p.stderr
    assert "kept" in p.stdout and (etc / "config.yaml").read_text(encoding="utf-8").endswith("# mine\n")

    p = install("--prefix", str(prefix), "--uninstall")
    assert p.returncode == 0, p.stderr
    assert not opt.exists() and not unit.exists() and (etc / "config.yaml").is_file()
    p = install("--prefix", str(prefix), "--uninstall", "--purge")
    assert p.returncode == 0, p.stderr
    assert not etc.exists()


def test_a_system_install_without_root_says_what_to_do() -> None:
    # as root (CI), the check is run as nobody
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    p = subprocess.run([*drop, "bash", str(INSTALL)], capture_output=True, text=True, timeout=60, cwd="/")
    assert p.returncode == 1, p.stderr
    assert "needs root" in p.stderr and "--prefix DIR" in p.stderr


def test_unknown_option_is_refused() -> None:
    p = install("--prefx", "/tmp/x")
    assert p.returncode == 2 and "unknown option --prefx" in p.stderr
