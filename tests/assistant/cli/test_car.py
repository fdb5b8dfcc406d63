"""``car-assistant car``: list, check (the supported-function table), import-kuksa."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.cli import main
from assistant.vehicle.signals import load_signals

DATA = Path(__file__).resolve().parents[2] / "data"
DBC = DATA / "byoc_car.dbc"


def test_car_list_names_the_reference_car_first_with_its_dbc(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["car", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[0] == "reference_car"
    assert "reference_car.dbc (ships with the project)" in lines[0]


def test_car_check_prints_one_row_per_catalog_function(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["car", "check", "--car", "reference_car"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("reference_car: reference_car.yaml checks clean")
    rows = {line.split()[0]: line for line in out[1:-1]}
    catalog = load_signals()
    assert set(rows) == set(catalog)
    assert "report only" in rows["Vehicle.Speed"] and "never writes it" in rows["Vehicle.Speed"]
    dome = rows["Vehicle.Cabin.Light.IsDomeOn"]
    assert "actuate" in dome and "GPIO interior_light" in dome
    writable = sum(spec.writable for spec in catalog.values())
    assert out[-1] == f"{writable} actuate, {len(catalog) - writable} report only, 0 not possible"


def test_unknown_car_is_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["car", "check", "--car", "delorean"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no car named 'delorean'; known: reference_car")
    assert len(err.splitlines()) == 1


def test_import_kuksa_then_check_the_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mapping, allow = tmp_path / "byoc.yaml", tmp_path / "byoc_allow.yaml"
    args = ["car", "import-kuksa", str(DATA / "kuksa_byoc_vss_dbc.json"), "--dbc", str(DBC), "--name", "byoc"]
    assert main([*args, "-o", str(mapping), "--allowlist", str(allow)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "converted 4 signals, skipped 3"
    assert "skipped Vehicle.Cabin.Door.Row1.PassengerSide.Window.Position: operator BitXor" in err[3]
    check = ["car", "check", "--mapping", str(mapping), "--allowlist", str(allow), "--dbc", str(DBC)]
    assert main(check) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "byoc: byoc.yaml checks clean against byoc_car.dbc and byoc_allow.yaml"
    trunk = next(line for line in out if line.startswith("Vehicle.Body.Trunk.Rear.IsOpen "))
    assert "actuate" in trunk and "29-bit id" in trunk


def test_check_of_a_broken_mapping_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (DATA / "byoc_car.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("algorithm: autosar_e2e_p2", "algorithm: crc42"))
    line = next(i for i, s in enumerate(bad.read_text().splitlines(), 1) if s.strip() == "BODY_CMD:")
    argv = ["car", "check", "--mapping", str(bad), "--allowlist", str(DATA / "byoc_car_allowlist.yaml")]
    assert main([*argv, "--dbc", str(DBC)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}:{line}: messages: BODY_CMD: unknown checksum algorithm 'crc42'")


def test_import_kuksa_to_an_unwritable_place_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-o into a missing folder or onto a folder gave a FileNotFoundError / IsADirectoryError traceback."""
    base = ["car", "import-kuksa", str(DATA / "kuksa_byoc_vss_dbc.json"), "--dbc", str(DBC)]
    for extra, flag in (
        (["-o", str(tmp_path / "no" / "such.yaml")], "-o"),
        (["-o", str(tmp_path)], "-o"),
        (["-o", str(tmp_path / "ok.yaml"), "--allowlist", str(tmp_path)], "--allowlist"),
    ):
        assert main(base + extra) == 1, extra
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith("error: cannot write "), err
        assert err[0].endswith(f"; give {flag} a writable file"), err
