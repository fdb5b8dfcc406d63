"""car-assistant status, the config file search order and journald-friendly log lines."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import pytest

from assistant import config as config_module
from assistant.config import load_settings
from assistant.logconfig import configure_logging
from assistant.status import model_files
from tests.assistant.cli.test_cli import run


def test_status_json_names_versions_engines_models_bus_and_gpio() -> None:
    p = run("status", "--json", "--nlu", "templates")
    assert p.returncode == 0, p.stderr
    status = json.loads(p.stdout)
    assert status["versions"]["python-can"][0].isdigit()
    assert status["engines"]["nlu"] == "templates"
    assert set(status["models"]["slm"]) == {"model.onnx", "tokenizer.json", "labels.json"}
    assert all(state.startswith("ok ") for state in status["models"]["slm"].values())
    assert status["can"] == {"bus": "virtual:vehicle0", "state": "opens (in-process virtual bus)", "ok": True}
    assert status["gpio"]["pin_factory"].startswith("mock (auto: ")  # this machine is no Raspberry Pi


def test_status_exits_1_and_says_what_is_wrong_when_the_bus_is_missing() -> None:
    p = run("status", "--json", "--can-interface", "socketcan", "--can-channel", "nosuchcan0")
    assert p.returncode == 1
    assert json.loads(p.stdout)["can"]["link"].startswith("no interface nosuchcan0")
    assert p.stderr.startswith("problem: CAN bus: cannot open: cannot open CAN bus socketcan:nosuchcan0")


def test_a_model_file_that_changed_is_a_mismatch(tmp_path: Path) -> None:
    (tmp_path / "a.onnx").write_bytes(b"weights")
    (tmp_path / "b.json").write_bytes(b"{}")
    good = hashlib.sha256(b"weights").hexdigest()
    files = {"a.onnx": {"sha256": good}, "b.json": {"sha256": "0" * 64}, "c.txt": {"sha256": ""}}
    manifest = {"files": files}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    states = model_files(tmp_path)
    assert states["a.onnx"] == f"ok {good[:16]}"
    assert states["b.json"].startswith("MISMATCH ")
    assert states["c.txt"] == "missing"



@pytest.mark.parametrize("text", ['{"files": 3}', '{"files": {"model.onnx": "abc"}}', "[]", '{"files":'])
def test_a_manifest_of_the_wrong_shape_is_unreadable_not_a_traceback(tmp_path: Path, text: str) -> None:
    (tmp_path / "manifest.json").write_text(text, encoding="utf-8")
    assert list(model_files(tmp_path)) == ["manifest.json"]
    assert model_files(tmp_path)["manifest.json"].startswith("unreadable: ")


def test_status_checks_the_model_the_parser_loads(tmp_path: Path) -> None:
    """With nlu.model_dir set, status hashed the shipped model and said all was well (exit 0) while
    every request failed on the configured one's broken manifest."""
    shipped = Path(__file__).parents[2] / "models" / "slm"
    for name in ("model.onnx", "tokenizer.json", "labels.json"):
        (tmp_path / name).write_bytes((shipped / name).read_bytes())
    (tmp_path / "manifest.json").write_text('{"files": 3}', encoding="utf-8")
    env = {**os.environ, "CAR_ASSISTANT_NLU_MODEL_DIR": str(tmp_path)}
    p = run("status", "--json", env=env)
    assert p.returncode == 1, p.stdout
    assert list(json.loads(p.stdout)["models"]["slm"]) == ["manifest.json"]
    assert p.stderr.startswith("problem: model file manifest.json: unreadable")


def test_config_file_order_xdg_then_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system = tmp_path / "etc" / "config.yaml"
    system.parent.mkdir()
    system.write_text("nlu: {engine: templates}\n", encoding="utf-8")
    monkeypatch.setattr(config_module, "SYSTEM_CONFIG", system)
    xdg = tmp_path / "xdg"
    settings, source = load_settings(environ={"XDG_CONFIG_HOME": str(xdg)})
    assert source == str(system) and settings.nlu.engine == "templates"
    user = xdg / "car-assistant" / "config.yaml"
    user.parent.mkdir(parents=True)
    user.write_text("logging: {level: info}\n", encoding="utf-8")
    settings, source = load_settings(environ={"XDG_CONFIG_HOME": str(xdg)})
    assert source == str(user)
    assert settings.logging.level == "info" and settings.nlu.engine == "slm"  # one file, not a merge
    named = {"XDG_CONFIG_HOME": str(xdg), "CAR_ASSISTANT_CONFIG": str(system)}
    settings, source = load_settings(environ=named)
    assert source == str(system)


def test_log_lines_carry_the_journal_priority_under_systemd(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("info", {"JOURNAL_STREAM": "8:1234"})
        logging.getLogger("assistant.test").error("bus down")
        logging.getLogger("assistant.test").info("ready")
        logging.getLogger("assistant.test").debug("hidden")
        lines = capsys.readouterr().err.splitlines()
        assert lines == ["<3>assistant.test: bus down", "<6>assistant.test: ready"]
        configure_logging("warning", {})
        logging.getLogger("assistant.test").warning("plain")
        line = capsys.readouterr().err.strip()
        assert line.endswith("WARNING assistant.test: plain") and "\x1b[" not in line
    finally:
        for handler in list(root.handlers):
            if handler not in saved[0]:
                root.removeHandler(handler)
        root.setLevel(saved[1])


def test_log_level_flag_and_config_section() -> None:
    p = run("--log-level", "loud", "status")
    assert p.returncode == 2 and "invalid choice: 'loud'" in p.stderr
    p = run("status", env={"CAR_ASSISTANT_LOGGING_LEVEL": "loud", "PATH": "/usr/bin:/bin"})
    assert p.returncode == 1
    assert p.stderr.strip() == (
        "error: environment: logging.level: 'loud' is not one of debug, info, warning, error"
    )
