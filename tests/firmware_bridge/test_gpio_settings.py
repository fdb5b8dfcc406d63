"""GPIO from the settings: pin factory chosen by board, pins and active levels as configured."""

from __future__ import annotations

import threading
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from firmware_bridge import BridgeConfig, GpioLevels, GpioPins
from firmware_bridge.errors import BridgeConfigError
from firmware_bridge.gpio import BridgeGpio, choose_pin_factory

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def model_file(tmp_path: Path, model: bytes) -> Path:
    path = tmp_path / "model"
    path.write_bytes(model)  # the device tree's string ends in a NUL
    return path


def test_auto_picks_lgpio_on_a_raspberry_pi(tmp_path: Path) -> None:
    factory, why = choose_pin_factory("auto", model_file(tmp_path, b"Raspberry Pi 5 Model B Rev 1.0\0"))
    assert factory == "lgpio" and "Raspberry Pi 5" in why


def test_auto_falls_back_to_mock_off_a_pi_and_says_why(tmp_path: Path) -> None:
    jetson = model_file(tmp_path, b"NVIDIA Jetson Orin Nano Developer Kit\0")
    factory, why = choose_pin_factory("auto", jetson)
    assert factory == "mock" and "Jetson Orin Nano" in why and "not a Raspberry Pi" in why
    factory, why = choose_pin_factory("auto", tmp_path / "absent")
    assert factory == "mock" and "no Raspberry Pi detected" in why


def test_a_configured_factory_is_used_as_is(tmp_path: Path) -> None:
    assert choose_pin_factory("mock", model_file(tmp_path, b"Raspberry Pi 4\0")) == ("mock", "configured")


def test_active_low_relay_and_led_and_a_pull_down_button() -> None:
    levels = GpioLevels(relay_active_high=False, led_active_high=False, button_pull_up=False)
    gpio = BridgeGpio(GpioPins(interior_light=5, push_to_talk=6, status_led=13), "mock", levels)
    try:
        assert gpio.relay is not None and gpio.led is not None and gpio.button is not None
        pins = [gpio.relay.pin.info.name, gpio.button.pin.info.name, gpio.led.pin.info.name]
        assert pins == ["GPIO5", "GPIO6", "GPIO13"]
        assert gpio.relay.pin.state == 1  # off: an active-low relay board idles high
        assert gpio.write("interior_light", 1) == 1
        assert gpio.relay.pin.state == 0
        gpio.set_status_led("on")
        assert gpio.led.pin.state == 0
        pressed: list[bool] = []
        done = threading.Event()
        gpio.on_push_to_talk(lambda p: (pressed.append(p), done.set()))
        gpio.button.pin.drive_high()  # a button to 3.3 V: pressed reads high
        assert done.wait(1.0) and pressed == [True]
    finally:
        gpio.close()


def test_levels_from_a_config_mapping_and_unknown_ones_refused() -> None:
    config = BridgeConfig.from_dict({"levels": {"relay_active_high": False}})
    assert config.levels == GpioLevels(relay_active_high=False)
    with pytest.raises(BridgeConfigError, match="unknown level.*relay_active_low"):
        BridgeConfig.from_dict({"levels": {"relay_active_low": True}})


def test_lgpio_is_a_dependency_on_64_bit_arm_linux_only() -> None:
    deps = [Requirement(d) for d in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]]
    lgpio = next(r for r in deps if r.name == "lgpio")
    assert lgpio.marker is not None
    pi = {"platform_machine": "aarch64", "sys_platform": "linux", "python_version": "3.11"}
    assert lgpio.marker.evaluate(pi)
    assert not lgpio.marker.evaluate({**pi, "platform_machine": "x86_64"})
    # no cp313 aarch64 wheel: Debian's python3-lgpio there (deploy/README.md)
    assert not lgpio.marker.evaluate({**pi, "python_version": "3.13"})
