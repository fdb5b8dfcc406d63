"""The firmware bridge: vehicle signal names to CAN frames and GPIO pins, and back.

Knows CAN, DBC and GPIO, nothing of speech; it never imports ``assistant``.
"""

from firmware_bridge.bridge import Actuation, CanBridge, Reading
from firmware_bridge.bus import Frame, load_dbc, open_bus
from firmware_bridge.config import BridgeConfig, GpioLevels, GpioPins
from firmware_bridge.ecu_sim import BodyControllerSim, DriveScenario, load_scenario, run_ecu_sim
from firmware_bridge.errors import (
    BridgeConfigError,
    BridgeError,
    BusOpenError,
    EncodeError,
    GpioError,
    MappingError,
    NotAllowedError,
    NotStartedError,
    SendError,
)
from firmware_bridge.monitor import format_frame

__all__ = [
    "Actuation",
    "BodyControllerSim",
    "BridgeConfig",
    "BridgeConfigError",
    "BridgeError",
    "BusOpenError",
    "CanBridge",
    "DriveScenario",
    "EncodeError",
    "Frame",
    "GpioError",
    "GpioLevels",
    "GpioPins",
    "MappingError",
    "NotAllowedError",
    "NotStartedError",
    "Reading",
    "SendError",
    "format_frame",
    "load_dbc",
    "load_scenario",
    "open_bus",
    "run_ecu_sim",
]
