"""The bridge's error tree: one root, one subclass per failure, each with a short ``code``.

Each class also inherits the standard exception it resembles, so callers that
know nothing of the bridge still catch it sensibly (``SendError`` is an
``OSError``).  python-can and cantools exceptions are wrapped with
``raise ... from err`` so the original stays in the traceback.
"""

from __future__ import annotations


class BridgeError(Exception):
    """Root of every error the firmware bridge raises on purpose."""

    code = "bridge"


class BridgeConfigError(BridgeError, ValueError):
    """A bridge setting is wrong (unknown key, unknown interface); the message names it."""

    code = "bridge_config"


class MappingError(BridgeError, ValueError):
    """A mapping or allowlist names something the DBC lacks, or is malformed."""

    code = "mapping"


class NotAllowedError(BridgeError, PermissionError):
    """A write to a read-only signal, or to a message/signal not on the allowlist."""

    code = "not_allowed"


class EncodeError(BridgeError, ValueError):
    """``encode(strict=True)`` refused a value: out of range, or not a choice name."""

    code = "encode"


class SendError(BridgeError, OSError):
    """The CAN bus refused or failed to send a frame."""

    code = "send"


class BusDownError(SendError):
    """The CAN bus is down (bus-off, adapter unplugged, interface down); nothing was sent.

    The bus is being reconnected in the background; the message says since when.
    """

    code = "bus_down"


class BusOpenError(BridgeError, OSError):
    """The CAN bus could not be opened (no such interface, no permission)."""

    code = "bus_open"


class GpioError(BridgeError, OSError):
    """A GPIO pin factory or pin could not be set up."""

    code = "gpio"


class NotStartedError(BridgeError, RuntimeError):
    """The bridge or simulator was used before ``start()`` or after ``close()``."""

    code = "not_started"


class CarCannotError(NotAllowedError):
    """The assistant knows the function but this car's mapping has no command for it (status only)."""

    code = "car_cannot"
