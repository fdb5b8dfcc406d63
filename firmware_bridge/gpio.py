"""GPIO devices of the bridge: the interior-light relay, the push-to-talk button, a status LED.

gpiozero chooses the pin backend; "mock" (gpiozero's ``MockFactory``) runs
anywhere and is what tests and laptops use, the others need a Raspberry Pi
with the matching library installed ("lgpio" works on every Pi, and is the
only one on a Pi 5).  "auto" picks lgpio when the device tree says Raspberry
Pi, else mock; a Jetson's header is not driven by gpiozero, so it gets mock
too.  Mock is logged at start, with the reason, so a car whose button does
nothing says why.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import gpiozero
from gpiozero import LED, Button, DigitalOutputDevice

from firmware_bridge.config import GpioLevels, GpioPins
from firmware_bridge.errors import GpioError

log = logging.getLogger(__name__)

# Outputs a mapping may write (``gpio: {device: ...}``); the button and LED are the bridge's own.
GPIO_OUTPUTS = frozenset({"interior_light"})

_FACTORIES = {
    "mock": ("gpiozero.pins.mock", "MockFactory", ""),
    "native": ("gpiozero.pins.native", "NativeFactory", ""),
    "lgpio": ("gpiozero.pins.lgpio", "LGPIOFactory", "pip install lgpio"),
    "rpigpio": ("gpiozero.pins.rpigpio", "RPiGPIOFactory", "pip install RPi.GPIO"),
    "pigpio": ("gpiozero.pins.pigpio", "PiGPIOFactory", "pip install pigpio, and run pigpiod"),
}
PIN_FACTORIES = ("auto", *_FACTORIES)
"""What a pin_factory setting may name: auto (lgpio on a Raspberry Pi, else mock) or a factory above."""


DEVICE_TREE_MODEL = Path("/proc/device-tree/model")


def board_model(model_file: Path = DEVICE_TREE_MODEL) -> str:
    """The board's model string from the device tree ("Raspberry Pi 5 Model B Rev 1.0"); "" off a board."""
    try:
        return model_file.read_bytes().rstrip(b"\0").decode("ascii", "replace").strip()
    except OSError:
        return ""


def choose_pin_factory(name: str, model_file: Path = DEVICE_TREE_MODEL) -> tuple[str, str]:
    """The factory to use for the setting ``name`` ("auto" resolved), and why, for the start-up line."""
    if name != "auto":
        return name, "configured"
    model = board_model(model_file)
    if model.startswith("Raspberry Pi"):
        return "lgpio", f"auto: {model}"
    if not model:
        return "mock", "auto: no Raspberry Pi detected (no device-tree model); GPIO devices are simulated"
    return "mock", f"auto: {model} is not a Raspberry Pi; GPIO devices are simulated (set gpio.pin_factory)"


def make_pin_factory(name: str) -> gpiozero.Factory:
    """The gpiozero pin factory called ``name``, imported only when asked for."""
    if name not in _FACTORIES:
        raise GpioError(f"unknown pin factory {name!r}; use one of {', '.join(_FACTORIES)}")
    module, cls, hint = _FACTORIES[name]
    try:
        factory: gpiozero.Factory = getattr(importlib.import_module(module), cls)()
    except ImportError as err:
        raise GpioError(f"pin factory {name!r} is not installed ({hint}); or set pin_factory: mock") from err
    except (gpiozero.GPIOZeroError, OSError, RuntimeError) as err:
        raise GpioError(
            f"pin factory {name!r} found no usable GPIO on this machine ({err}); set pin_factory: mock"
        ) from err
    return factory


class BridgeGpio:
    """The bridge's GPIO devices on one pin factory; a device whose pin is ``None`` is left out."""

    def __init__(self, pins: GpioPins, factory_name: str = "mock", levels: GpioLevels | None = None) -> None:
        levels = levels or GpioLevels()
        self.factory_name, self.factory_reason = choose_pin_factory(factory_name)
        self.factory = make_pin_factory(self.factory_name)
        log.info("GPIO pin factory %s (%s)", self.factory_name, self.factory_reason)
        self._ptt_callbacks: list[Callable[[bool], None]] = []
        self.relay: DigitalOutputDevice | None = None
        self.button: Button | None = None
        self.led: LED | None = None
        try:
            if pins.interior_light is not None:
                self.relay = DigitalOutputDevice(
                    pins.interior_light,
                    active_high=levels.relay_active_high,
                    initial_value=False,
                    pin_factory=self.factory,
                )
            if pins.push_to_talk is not None:
                # pull-up: a button to ground, pressed reads low; pull-down: a button to 3.3 V
                self.button = Button(
                    pins.push_to_talk, pull_up=levels.button_pull_up, pin_factory=self.factory
                )
                self.button.when_pressed = lambda: self._push_to_talk(True)
                self.button.when_released = lambda: self._push_to_talk(False)
            if pins.status_led is not None:
                self.led = LED(pins.status_led, active_high=levels.led_active_high, pin_factory=self.factory)
        except gpiozero.GPIOZeroError as err:
            self.close()
            raise GpioError(f"cannot set up GPIO pins {pins}: {err}") from err

    def write(self, device: str, value: int) -> int:
        """Drive output ``device`` to 0/1 and return what its pin reads back."""
        relay = self._output(device)
        relay.value = bool(value)
        return self.read(device)

    def read(self, device: str) -> int:
        """Whether ``device`` is on, 0 or 1, from its pin's level now (active level applied)."""
        return 1 if self._output(device).value else 0

    def _output(self, device: str) -> DigitalOutputDevice:
        if device != "interior_light":
            raise GpioError(f"no GPIO output {device!r}; known: {', '.join(sorted(GPIO_OUTPUTS))}")
        if self.relay is None:
            raise GpioError(f"GPIO output {device!r} has no pin; set pins.{device} in the bridge config")
        return self.relay

    def on_push_to_talk(self, callback: Callable[[bool], None]) -> Callable[[], None]:
        """Call ``callback(True)`` on press and ``callback(False)`` on release; returns an unsubscribe."""
        self._ptt_callbacks.append(callback)
        return lambda: self._ptt_callbacks.remove(callback) if callback in self._ptt_callbacks else None

    def _push_to_talk(self, pressed: bool) -> None:
        for callback in list(self._ptt_callbacks):
            try:
                callback(pressed)
            except Exception:  # a listener's bug must not kill gpiozero's event thread
                log.exception("push-to-talk callback failed")

    def set_status_led(self, mode: Literal["off", "on", "blink"]) -> None:
        if self.led is None:
            return
        if mode == "on":
            self.led.on()
        elif mode == "off":
            self.led.off()
        elif mode == "blink":
            self.led.blink(on_time=0.25, off_time=0.25)
        else:
            raise GpioError(f"status LED mode {mode!r}; use off, on or blink")

    def close(self) -> None:
        for device in (self.relay, self.button, self.led):
            if device is not None:
                device.close()
        self.relay = self.button = self.led = None
        self.factory.close()
