"""The gpio section of the config reaches the bridge: factory, pins, levels."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import load_settings
from assistant.errors import ConfigError
from assistant.runtime import bridge_config
from firmware_bridge import GpioLevels, GpioPins


def test_gpio_section_sets_pins_levels_and_factory(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "gpio:\n  pin_factory: mock\n  interior_light_pin: BOARD11\n  push_to_talk_pin: 5\n"
        "  status_led_pin: ''\n  relay_active_high: false\n",
        encoding="utf-8",
    )
    settings, _ = load_settings(path, environ={})
    config = bridge_config(settings)
    assert config.pin_factory == "mock"
    assert config.pins == GpioPins(interior_light="BOARD11", push_to_talk=5, status_led=None)
    assert config.levels == GpioLevels(relay_active_high=False)


def test_default_factory_is_auto_and_pins_are_the_documented_ones() -> None:
    config = bridge_config(load_settings(environ={})[0])
    assert config.pin_factory == "auto"
    assert config.pins == GpioPins(17, 27, 22)


def test_a_bad_pin_is_a_config_error_naming_gpio() -> None:
    settings, _ = load_settings(environ={"CAR_ASSISTANT_GPIO_PUSH_TO_TALK_PIN": "99"})
    with pytest.raises(ConfigError, match="gpio: .*99 is out of range"):
        bridge_config(settings)
