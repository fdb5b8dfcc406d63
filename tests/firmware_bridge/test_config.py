"""BridgeConfig refuses what it does not know, by name."""

from __future__ import annotations

import pytest

from firmware_bridge import BridgeConfig, BridgeConfigError, GpioPins
from firmware_bridge.bus import open_bus


def test_defaults_are_a_virtual_bus_and_mock_pins() -> None:
    config = BridgeConfig()
    assert (config.interface, config.channel, config.pin_factory) == ("virtual", "vehicle0", "mock")
    assert config.dbc_path.name == "reference_car.dbc" and config.dbc_path.exists()


def test_udp_multicast_is_refused_because_it_leaves_loopback() -> None:
    with pytest.raises(BridgeConfigError, match="udp_multicast.*network"):
        BridgeConfig(interface="udp_multicast")


def test_unknown_interface_is_refused_with_the_choices() -> None:
    with pytest.raises(BridgeConfigError, match="'pcan'.*virtual, socketcan"):
        BridgeConfig(interface="pcan")


def test_open_bus_refuses_forbidden_interfaces_even_if_the_config_check_is_bypassed() -> None:
    config = BridgeConfig()
    object.__setattr__(config, "interface", "udp_multicast")
    with pytest.raises(BridgeConfigError, match="udp_multicast"):
        open_bus(config)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"chanel": "can0"}, "chanel"),
        ({"bitrate": 5}, "bitrate"),
        ({"pin_factory": "wiringpi"}, "wiringpi"),
        ({"pins": {"horn": 4}}, "horn"),
        ({"frame_log_size": 0}, "frame_log_size"),
    ],
)
def test_from_dict_names_the_bad_key(data: dict[str, object], match: str) -> None:
    with pytest.raises(BridgeConfigError, match=match):
        BridgeConfig.from_dict(data)


def test_pins_refuse_out_of_range_and_shared_pins() -> None:
    with pytest.raises(BridgeConfigError, match="interior_light"):
        GpioPins(interior_light=99)
    with pytest.raises(BridgeConfigError, match="share"):
        GpioPins(interior_light=4, push_to_talk=4)


def test_from_dict_socketcan() -> None:
    config = BridgeConfig.from_dict({"interface": "socketcan", "channel": "vcan0", "dbc_path": "x.dbc"})
    assert config.interface == "socketcan" and config.dbc_path.name == "x.dbc"
