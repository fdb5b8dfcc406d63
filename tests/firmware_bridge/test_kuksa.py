"""KUKSA vss_dbc.json import: round trip on a fixture in KUKSA's format, and what is skipped why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from firmware_bridge.bus import load_dbc
from firmware_bridge.errors import MappingError
from firmware_bridge.gpio import GPIO_OUTPUTS
from firmware_bridge.kuksa import export_kuksa, import_kuksa, read_kuksa
from firmware_bridge.mapping import check_mapping, load_allowlist, load_mapping

DATA = Path(__file__).resolve().parents[1] / "data"
DBC = DATA / "byoc_car.dbc"
FIXTURE = DATA / "kuksa_byoc_vss_dbc.json"
TRUNK = "Vehicle.Body.Trunk.Rear.IsOpen"
TEMP = "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature"
WINDOW = "Vehicle.Cabin.Door.Row1.DriverSide.Window.Position"
LOCK = "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked"


def _leaf(tree: dict[str, Any], name: str) -> dict[str, Any]:
    node: dict[str, Any] = tree
    parts = name.split(".")
    for part in parts[:-1]:
        node = node[part]["children"]
    return node[parts[-1]]


def test_import_converts_what_the_dbc_and_safe_transforms_carry_and_says_why_not_the_rest() -> None:
    result = import_kuksa(read_kuksa(FIXTURE), load_dbc(DBC))
    assert sorted(result.signals) == sorted([TRUNK, TEMP, WINDOW, LOCK])
    skipped = {s.name: s.reason for s in result.skipped}
    assert skipped == {
        "Vehicle.Cabin.Door.Row1.DriverSide.IsOpen": "DBC signal DriverDoorAjar is in no message",
        "Vehicle.Cabin.Door.Row1.PassengerSide.IsLocked": (
            "vss2dbc only: no dbc2vss status to confirm a write"
        ),
        "Vehicle.Cabin.Door.Row1.PassengerSide.Window.Position": (
            "operator BitXor is not allowed in 'x^2'; use + - * /"
        ),
    }
    assert result.signals[TRUNK] == {
        "status": {
            "message": "BODY_STATUS",
            "signal": "LiftgateLatch",
            "transform": {"map": {"LATCH_CLOSED": False, "LATCH_OPENING": True, "LATCH_OPENED": True,
                                  "LATCH_AJAR": True, "LATCH_FAULT": False}},
        },
        "command": {"message": "BODY_CMD", "signal": "LiftgateReq", "transform": {"map": {True: 1}}},
    }  # fmt: skip
    assert result.signals[LOCK] == {"status": {"message": "BODY_STATUS", "signal": "DriverLocked"}}


def test_round_trip_kuksa_to_ours_loads_checks_and_exports_back_the_same_blocks(tmp_path: Path) -> None:
    original = read_kuksa(FIXTURE)
    db = load_dbc(DBC)
    result = import_kuksa(original, db)
    mapping_path = tmp_path / "car.yaml"
    mapping_path.write_text(yaml.safe_dump(result.mapping("byoc", DBC.name, "test"), sort_keys=False))
    allow_path = tmp_path / "allow.yaml"
    allow_path.write_text(yaml.safe_dump(result.allowlist(db)))
    mapping = load_mapping(mapping_path)
    check_mapping(mapping, load_allowlist(allow_path), db, DBC, GPIO_OUTPUTS)
    assert mapping.car is not None and mapping.car.name == "byoc"
    temp = mapping.signals[TEMP]
    assert temp.command is not None and temp.command.transform is not None
    assert temp.command.transform.apply(40) == 30
    trunk = mapping.signals[TRUNK]
    assert trunk.status is not None and trunk.status.read("LATCH_AJAR") == 1

    # Our file read back as plain data and written as KUKSA gives the fixture's blocks again.
    ours = yaml.safe_load(mapping_path.read_text())["signals"]
    back = json.loads(json.dumps(export_kuksa(ours, result.kuksa_extra)))
    for name in result.signals:
        want = _leaf(original, name)
        got = _leaf(back, name)
        assert got.get("dbc2vss") == want.get("dbc2vss", want.get("dbc")), name
        assert got.get("vss2dbc") == want.get("vss2dbc"), name


def test_broken_kuksa_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "Vehicle": {\n    "children": {,}\n  }\n}\n')
    with pytest.raises(MappingError, match=rf"^{path}:3: not valid JSON"):
        read_kuksa(path)
