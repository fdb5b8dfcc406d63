"""Bridge settings: which CAN bus, which DBC and mapping, which GPIO pins.

The bridge only takes a finished ``BridgeConfig``.  Where the values come from
is the caller's business; the assistant applies CLI flags > environment >
config file > these defaults, and hands the result to ``BridgeConfig.from_dict``
(which rejects unknown keys and bad values by name).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from importlib.resources import files
from pathlib import Path
from typing import Any

from firmware_bridge.errors import BridgeConfigError

# the DBC, mappings, allowlists and scenarios are package data (pyproject.toml), in a wheel as in a checkout
PACKAGE_DIR = Path(str(files("firmware_bridge")))
DEFAULT_DBC = PACKAGE_DIR / "dbc" / "reference_car.dbc"
DEFAULT_MAPPING = PACKAGE_DIR / "mappings" / "reference_car.yaml"
DEFAULT_ALLOWLIST = PACKAGE_DIR / "allowlist.yaml"

# python-can interfaces the bridge will open.  Others are refused rather than
# passed through, so a typo never opens some unexpected backend.
INTERFACES = ("virtual", "socketcan")
# udp_multicast looks like a harmless in-process fake but its frames leave
# loopback onto the LAN; the car's commands must never do that.
FORBIDDEN_INTERFACES = {
    "udp_multicast": "it sends CAN frames as UDP multicast onto the network; use 'virtual' for "
    "in-process tests or 'socketcan' with vcan0 for a bench",
}
PIN_FACTORIES = ("auto", "mock", "native", "lgpio", "rpigpio", "pigpio")
"""auto: lgpio on a Raspberry Pi (from the device tree's model), else mock, said at start."""


@dataclass(frozen=True)
class GpioPins:
    """GPIO pin numbers (BCM numbering as int, or any gpiozero pin name such as "BOARD11").

    ``None`` leaves that device out.
    """

    interior_light: int | str | None = 17
    """Relay output driving the dome light; high = light on."""
    push_to_talk: int | str | None = 27
    """Push-to-talk button input, to ground, internal pull-up."""
    status_led: int | str | None = 22
    """Status LED output; high = lit."""

    def __post_init__(self) -> None:
        for f in fields(self):
            pin = getattr(self, f.name)
            if pin is None:
                continue
            if isinstance(pin, bool) or not isinstance(pin, int | str) or pin == "":
                raise BridgeConfigError(f"pins.{f.name}: {pin!r} is not a pin; give a BCM number or a name")
            if isinstance(pin, int) and not 0 <= pin <= 53:
                raise BridgeConfigError(f"pins.{f.name}: BCM pin {pin} is out of range 0..53")
        used = [p for p in (getattr(self, f.name) for f in fields(self)) if p is not None]
        if len(set(used)) != len(used):
            raise BridgeConfigError(f"pins: two devices share a pin ({used}); give each its own pin")


@dataclass(frozen=True)
class GpioLevels:
    """How each device is wired: which level means on."""

    relay_active_high: bool = True
    """The interior-light relay closes on a high pin (most relay boards); False for active-low boards."""
    led_active_high: bool = True
    """The status LED lights on a high pin (LED to ground); False when wired to 3.3 V."""
    button_pull_up: bool = True
    """The push-to-talk button connects the pin to ground (internal pull-up, pressed reads low);
    False for a button to 3.3 V with the internal pull-down."""


@dataclass(frozen=True)
class BridgeConfig:
    """Everything the bridge needs to open the bus and the GPIO pins."""

    interface: str = "virtual"
    """python-can interface: "virtual" (in-process) or "socketcan" (Linux, e.g. can0/vcan0)."""
    channel: str = "vehicle0"
    """Bus channel: a virtual bus name, or a socketcan device such as "can0" or "vcan0"."""
    bitrate: int = 500_000
    """bit/s.  socketcan ignores it (set it with ``ip link set can0 type can bitrate ...``)."""
    dbc_path: Path = DEFAULT_DBC
    """The DBC the car speaks."""
    mapping_path: Path = DEFAULT_MAPPING
    """Vehicle signal name -> DBC message/signal (or GPIO device) mapping."""
    allowlist_path: Path = DEFAULT_ALLOWLIST
    """The command messages/signals and GPIO outputs the assistant may ever write."""
    pin_factory: str = "mock"
    """gpiozero pin factory: "mock" (no hardware), or "native", "lgpio", "rpigpio", "pigpio" on a Pi."""
    pins: GpioPins = field(default_factory=GpioPins)
    """Which GPIO pin each device uses."""
    levels: GpioLevels = field(default_factory=GpioLevels)
    """Active levels of the GPIO devices."""
    frame_log_size: int = 500
    """Frames kept in the recent-frames log; status traffic is about 70 frames/s."""

    def __post_init__(self) -> None:
        if self.interface in FORBIDDEN_INTERFACES:
            raise BridgeConfigError(
                f"interface: {self.interface!r} is refused: {FORBIDDEN_INTERFACES[self.interface]}"
            )
        if self.interface not in INTERFACES:
            raise BridgeConfigError(
                f"interface: unknown interface {self.interface!r}; use one of {', '.join(INTERFACES)}"
            )
        if not self.channel:
            raise BridgeConfigError("channel: empty; give a virtual bus name or a device such as can0")
        if not 10_000 <= self.bitrate <= 1_000_000:
            raise BridgeConfigError(f"bitrate: {self.bitrate} bit/s is outside 10000..1000000")
        if self.pin_factory not in PIN_FACTORIES:
            raise BridgeConfigError(
                f"pin_factory: unknown factory {self.pin_factory!r}; use one of {', '.join(PIN_FACTORIES)}"
            )
        if self.frame_log_size < 1:
            raise BridgeConfigError(f"frame_log_size: {self.frame_log_size} must be at least 1")
        for name in ("dbc_path", "mapping_path", "allowlist_path"):
            object.__setattr__(self, name, Path(getattr(self, name)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BridgeConfig:
        """A config from plain data (a parsed config file section); unknown keys are refused by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BridgeConfigError(
                f"unknown bridge setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        values = dict(data)
        if "pins" in values and not isinstance(values["pins"], GpioPins):
            pins = values["pins"]
            if not isinstance(pins, Mapping):
                raise BridgeConfigError("pins: give a mapping of device name to pin")
            pin_names = {f.name for f in fields(GpioPins)}
            bad = sorted(set(pins) - pin_names)
            if bad:
                raise BridgeConfigError(
                    f"unknown pin(s) {', '.join(bad)}; known: {', '.join(sorted(pin_names))}"
                )
            values["pins"] = GpioPins(**pins)
        if "levels" in values and isinstance(values["levels"], Mapping):
            level_names = {f.name for f in fields(GpioLevels)}
            bad = sorted(set(values["levels"]) - level_names)
            if bad:
                raise BridgeConfigError(
                    f"unknown level(s) {', '.join(bad)}; known: {', '.join(sorted(level_names))}"
                )
            values["levels"] = GpioLevels(**values["levels"])
        try:
            return cls(**values)
        except TypeError as err:
            raise BridgeConfigError(f"bad bridge setting: {err}") from err
