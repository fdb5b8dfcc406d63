"""The reference mapping covers the assistant's signal model; broken mappings fail at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_bridge import BridgeConfig, CanBridge, MappingError
from firmware_bridge.bus import load_dbc
from firmware_bridge.config import DEFAULT_ALLOWLIST, DEFAULT_DBC, DEFAULT_MAPPING
from firmware_bridge.gpio import GPIO_OUTPUTS
from firmware_bridge.mapping import check_mapping, load_allowlist, load_mapping
from tests.firmware_bridge.conftest import vehicle_signals

MAPPING = load_mapping(DEFAULT_MAPPING)
DB = load_dbc(DEFAULT_DBC)
ALLOWLIST = load_allowlist(DEFAULT_ALLOWLIST)


def test_reference_mapping_checks_clean_against_dbc_and_allowlist() -> None:
    check_mapping(MAPPING, ALLOWLIST, DB, DEFAULT_DBC, GPIO_OUTPUTS)


def test_every_vehicle_signal_is_mapped_for_reading_and_if_writable_for_writing() -> None:
    model = vehicle_signals()
    assert set(MAPPING.signals) == set(model)
    for name, spec in model.items():
        m = MAPPING.signals[name]
        if spec["writable"]:
            assert m.gpio is not None or (m.command is not None and m.status is not None), name
            if m.command is not None:
                assert m.command.message in ALLOWLIST.can, name
            else:
                assert m.gpio in ALLOWLIST.gpio, name
        else:
            assert m.status is not None and m.command is None and m.gpio is None, name


def test_dbc_ranges_and_choices_match_the_vehicle_signal_model() -> None:
    for name, spec in vehicle_signals().items():
        m = MAPPING.signals[name]
        refs = [r for r in (m.command, m.status) if r is not None]
        for ref in refs:
            sig = DB.get_message_by_name(ref.message).get_signal_by_name(ref.signal)
            where = f"{name} -> {ref.message}.{ref.signal}"
            if spec["kind"] == "enum":
                assert sig.choices is not None, where
                assert [str(c) for c in sig.choices.values()] == spec["values"], where
            elif spec["kind"] == "bool":
                assert (sig.minimum, sig.maximum, sig.length) == (0, 1, 1), where
            else:
                assert (sig.minimum, sig.maximum) == (spec["min"], spec["max"]), where
                if "step" in spec:
                    assert sig.scale == spec["step"], where


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_MAPPING.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "broken.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_mapping_naming_a_signal_the_dbc_lacks_fails_at_start_naming_both(
    tmp_path: Path, channel: str
) -> None:
    path = _broken(tmp_path, "signal: WinPosDriver}", "signal: WinPosDrvr}")
    bridge = CanBridge(BridgeConfig(channel=channel, mapping_path=path))
    with pytest.raises(MappingError) as caught:
        bridge.start()
    text = str(caught.value)
    for part in (
        "Vehicle.Cabin.Door.Row1.DriverSide.Window.Position",
        "WinPosDrvr",
        "WINDOW_STATUS",
        str(path),
        str(DEFAULT_DBC),
    ):
        assert part in text
    assert isinstance(caught.value, ValueError)


def test_mapping_naming_a_message_the_dbc_lacks_names_both(tmp_path: Path) -> None:
    path = _broken(tmp_path, "message: WIPER_CMD", "message: WIPER_COMMAND")
    with pytest.raises(MappingError, match=r"Vehicle\.Body\.Windshield\.Front\.Wiping\.Mode.*WIPER_COMMAND"):
        check_mapping(load_mapping(path), ALLOWLIST, DB, DEFAULT_DBC, GPIO_OUTPUTS)


def test_fixed_selector_value_must_be_a_choice(tmp_path: Path) -> None:
    path = _broken(tmp_path, "fixed: {WinSelect: driver}", "fixed: {WinSelect: drivr}")
    with pytest.raises(MappingError, match=r"WINDOW_CMD\.WinSelect = 'drivr'.*driver, passenger"):
        check_mapping(load_mapping(path), ALLOWLIST, DB, DEFAULT_DBC, GPIO_OUTPUTS)


def test_unknown_mapping_key_is_refused_by_name(tmp_path: Path) -> None:
    path = _broken(tmp_path, "confirm_timeout_s: 6.0", "confirm_timeout: 6.0")
    with pytest.raises(MappingError, match="unknown key.*confirm_timeout"):
        load_mapping(path)


def test_allowlist_naming_a_signal_the_dbc_lacks_fails(tmp_path: Path) -> None:
    path = tmp_path / "allow.yaml"
    path.write_text("can:\n  WINDOW_CMD: [WinSelect, WinTarget]\n", encoding="utf-8")
    with pytest.raises(MappingError, match=r"allowlist.*'WinTarget'.*WINDOW_CMD"):
        check_mapping(MAPPING, load_allowlist(path), DB, DEFAULT_DBC, GPIO_OUTPUTS)


def test_gpio_device_must_exist(tmp_path: Path) -> None:
    path = _broken(tmp_path, "device: interior_light", "device: reading_light")
    with pytest.raises(MappingError, match="Vehicle.Cabin.Light.IsDomeOn.*reading_light"):
        check_mapping(load_mapping(path), ALLOWLIST, DB, DEFAULT_DBC, GPIO_OUTPUTS)


def test_a_key_given_twice_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    """Plain YAML keeps the last: a second max_rate of 100000 silently switched off the speed's
    plausibility check."""
    path = _broken(tmp_path, "    max_rate: 100\n", "    max_rate: 100\n    max_rate: 100000\n")
    line = DEFAULT_MAPPING.read_text(encoding="utf-8").splitlines().index("    max_rate: 100") + 2
    twice = rf"^{path}:{line}: 'max_rate' is given twice \(first on line {line - 1}\)"
    with pytest.raises(MappingError, match=twice):
        load_mapping(path)


def test_broken_yaml_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("signals:\n  a: [1, 2\n", encoding="utf-8")
    with pytest.raises(MappingError, match=rf"^{path}:3: .*; fix the YAML there$") as caught:
        load_mapping(path)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("value", [".nan", "soon", "-1", "0"])
def test_a_bad_number_names_file_and_line(tmp_path: Path, value: str) -> None:
    """The error named the file but not the line."""
    path = _broken(tmp_path, "    max_age_s: 0.5\n", f"    max_age_s: {value}\n")
    line = DEFAULT_MAPPING.read_text(encoding="utf-8").splitlines().index("    max_age_s: 0.5") + 1
    with pytest.raises(MappingError, match=rf"^{path}:{line}: Vehicle.Speed: max_age_s must be a number"):
        load_mapping(path)
