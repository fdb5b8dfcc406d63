"""The wheel works on its own: built, installed into a fresh venv, run elsewhere with the network off.

Issue 11, item 2: a wheel once lacked intents/ and models/slm, so ``parse`` and ``say``
failed everywhere but in a checkout. Here the wheel is built from a copy of the source
(pip, this venv's setuptools, no build isolation so nothing is downloaded), the copy is
deleted, and the wheel is installed with ``--no-deps`` into a new venv. That venv sees
this environment's site-packages through a ``.pth`` line (a plain path: its ``.pth``
files, the editable install's finder among them, are not run), so the dependencies
need no download, while ``assistant`` and ``firmware_bridge`` resolve to the wheel's
copies only. The commands run from an empty folder, no PYTHONPATH, under
``unshare -n`` (no network at all). What this proves: the wheel holds every file the
runtime reads and its console script works; ``pip check`` shows its declared
dependencies are met. It does not prove that pip resolves them from PyPI.

Needs unshare (util-linux); under root ``unshare -n`` works as is, otherwise a user
namespace (``-r``) grants it. About a minute, most of it ``simulate``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from assistant import __version__

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "assistant", "firmware_bridge", "intents", "models")
"""What the build reads; assistant/_data links to intents/ and models/, so they are copied beside it."""
OFFLINE = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-r", "-n"]


@dataclass
class Installed:
    wheel: Path
    venv: Path
    home: Path
    cwd: Path

    def run(
        self, *args: str, timeout: float = 120, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        # no PYTHONPATH (a checkout's would shadow the wheel), no settings of the caller's
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("CAR_ASSISTANT")}
        env.update(HOME=str(self.home), XDG_CACHE_HOME=str(self.home / "cache"), VIRTUAL_ENV=str(self.venv))
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return subprocess.run(
            [*OFFLINE, *args], cwd=self.cwd, env=env, input=stdin, capture_output=True, text=True,
            timeout=timeout,
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    assert shutil.which("unshare"), "unshare is missing: install util-linux"
    root = tmp_path_factory.mktemp("install")
    src = root / "src"
    src.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(root / "dist"), src],
        check=True, capture_output=True, text=True, timeout=300,
    )
    shutil.rmtree(src)  # nothing may read the sources once the wheel is built
    (wheel,) = (root / "dist").glob("car_assistant-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )
    deps = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site / "_test_deps.pth").write_text("\n".join(deps) + "\n", encoding="utf-8")
    subprocess.run(
        [*pip, "--python", str(venv / "bin" / "python"), "install", "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    cwd = root / "elsewhere"
    cwd.mkdir()
    yield Installed(wheel, venv, root / "home", cwd)


def test_the_wheel_holds_the_data_the_runtime_reads(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    shipped = {
        "assistant/_data/intents/replies.yaml",
        "assistant/_data/intents/windows.yaml",
        "assistant/_data/models/slm/manifest.json",
        "assistant/_data/models/slm/model.onnx",
        "assistant/_data/models/slm/tokenizer.json",
        "assistant/_data/models/slm/labels.json",
        "assistant/vehicle/signals.yaml",
        "assistant/asr/pronunciations.dict",
        "firmware_bridge/dbc/reference_car.dbc",
        "firmware_bridge/mappings/reference_car.yaml",
        "firmware_bridge/allowlist.yaml",
        "firmware_bridge/scenarios/parked.yaml",
        "firmware_bridge/physics/reference_car.yaml",
        "assistant/_data/intents/policy/risk.yaml",
        "assistant/_data/models/whisper/manifest.json",
    }
    assert shipped - names == set()
    # every file of intents/, the risk policy's folder and the recogniser's out-of-scope text included
    intents = {
        p.relative_to(REPO / "intents").as_posix() for p in (REPO / "intents").rglob("*") if p.is_file()
    }
    assert "out_of_scope.txt" in intents
    prefix = "assistant/_data/intents/"
    assert {n.removeprefix(prefix) for n in names if n.startswith(prefix)} == intents


def test_the_installed_package_is_the_wheel_and_its_dependencies_are_met(installed: Installed) -> None:
    code = "import assistant, firmware_bridge; print(assistant.__file__); print(firmware_bridge.__file__)"
    out = installed.run("python", "-c", code)
    assert out.returncode == 0, out.stderr
    assert all(Path(line).is_relative_to(installed.venv) for line in out.stdout.split()), out.stdout
    check = installed.run("python", "-m", "pip", "check")
    assert check.returncode == 0 and "No broken requirements" in check.stdout, check.stdout + check.stderr
    version = installed.run("car-assistant", "--version")
    assert (version.returncode, version.stdout.strip()) == (0, f"car-assistant {__version__}")


@pytest.mark.parametrize("engine", ["slm", "templates"])
def test_parse_offline_from_elsewhere(installed: Installed, engine: str) -> None:
    out = installed.run("car-assistant", "parse", "--nlu", engine, "--json", "close the windows")
    assert out.returncode == 0, out.stderr
    commands = json.loads(out.stdout)["commands"]
    assert [(c["intent"], c["slots"]) for c in commands] == [("window.close", {"window": "all"})]


def test_say_offline_from_elsewhere(installed: Installed) -> None:
    out = installed.run("car-assistant", "say", "--json", "lock the doors")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert [c["intent"] for c in result["commands"]] == ["doors.lock"]
    assert [a["status"] for a in result["actions"]] == ["done"]
    assert "locked" in result["reply"].lower()


def test_console_offline_from_elsewhere(installed: Installed) -> None:
    out = installed.run("car-assistant", "console", stdin="open the sunroof\n:quit\n")
    assert out.returncode == 0, out.stderr
    assert "car> Opening the sunroof." in out.stdout and "Cabin.Sunroof.Position: 0 -> 100" in out.stdout


def test_simulate_offline_from_elsewhere(installed: Installed) -> None:
    # the whole voice stack from the installed packages: piper speech, wake word, VAD, recognizer
    sim = installed.cwd / "sim"
    out = installed.run("car-assistant", "simulate", "--json", "--out", str(sim), timeout=300)
    assert out.returncode == 0, out.stderr
    records = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert len(records) == 8
    lock = next(r for r in records if r["asked"] == "lock the doors")
    # what was heard and done, when it fails (it once did in a fresh-clone run, not reproduced since)
    assert (lock["verdict"], lock["confirmed"]) == ("right", True), json.dumps(lock["turns"])
    assert (sim / "drive.wav").stat().st_size > 0
