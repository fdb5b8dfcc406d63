"""GPIO devices with gpiozero's mock pin factory."""

from __future__ import annotations

import threading

import pytest

from firmware_bridge import BridgeConfig, CanBridge, GpioError, GpioPins
from firmware_bridge.gpio import BridgeGpio

DOME = "Vehicle.Cabin.Light.IsDomeOn"


def test_dome_light_drives_the_relay_and_confirms_by_reading_the_pin_back(bridge: CanBridge) -> None:
    relay = bridge.gpio.relay
    assert relay is not None and relay.pin.state == 0
    result = bridge.actuate({DOME: 1})
    assert result.ok and result.confirmed == {DOME: 1}
    assert relay.pin.state == 1
    assert bridge.value(DOME) == 1
    assert bridge.actuate({DOME: 0}).ok
    assert relay.pin.state == 0 and bridge.state()[DOME] == 0


def test_dome_light_state_follows_the_pin_not_the_request(bridge: CanBridge) -> None:
    relay = bridge.gpio.relay
    assert relay is not None
    relay.pin.state = 1  # someone else switched the relay
    assert bridge.value(DOME) == 1


def test_push_to_talk_callback_on_press_and_release(bridge: CanBridge) -> None:
    events: list[bool] = []
    changed = threading.Event()

    def on_ptt(pressed: bool) -> None:
        events.append(pressed)
        changed.set()

    bridge.on_push_to_talk(on_ptt)
    button = bridge.gpio.button
    assert button is not None
    button.pin.drive_low()  # pressed: the button pulls the pin to ground
    assert changed.wait(1.0)
    changed.clear()
    button.pin.drive_high()
    assert changed.wait(1.0)
    assert events == [True, False]


def test_status_led(bridge: CanBridge) -> None:
    led = bridge.gpio.led
    assert led is not None
    bridge.set_status_led("on")
    assert led.pin.state == 1
    bridge.set_status_led("off")
    assert led.pin.state == 0


def test_device_without_a_pin_is_left_out() -> None:
    gpio = BridgeGpio(GpioPins(interior_light=None, push_to_talk=None, status_led=5))
    try:
        assert gpio.relay is None and gpio.button is None and gpio.led is not None
        with pytest.raises(GpioError, match="pins.interior_light"):
            gpio.write("interior_light", 1)
    finally:
        gpio.close()


def test_missing_real_pin_factory_says_to_use_mock() -> None:
    # pigpio is not installed here; on a Pi it is, and then this would need a daemon.
    with pytest.raises(GpioError, match="pin_factory: mock"):
        BridgeGpio(GpioPins(), "pigpio")


def test_bridge_config_with_pins_from_dict() -> None:
    config = BridgeConfig.from_dict({"pins": {"interior_light": 5, "push_to_talk": 6, "status_led": None}})
    assert config.pins == GpioPins(5, 6, None)
