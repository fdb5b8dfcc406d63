"""``car-assistant car``: the cars that ship, checking a car's mapping, importing a KUKSA mapping.

car list                      one car per line, name first, then the DBC it expects
car check --car NAME          the mapping against its DBC, then the supported-function table
car import-kuksa FILE --dbc   a KUKSA vss_dbc.json as our mapping (stdout or -o), skipped leaves on stderr
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from assistant.errors import InputError
from assistant.vehicle.signals import load_signals
from firmware_bridge.bus import load_dbc
from firmware_bridge.cars import car_from_mapping, check_dbc_file, find_car, list_cars, support_table
from firmware_bridge.errors import MappingError
from firmware_bridge.gpio import GPIO_OUTPUTS
from firmware_bridge.kuksa import import_kuksa, read_kuksa
from firmware_bridge.mapping import check_mapping, load_allowlist, load_mapping


def cmd_car_list(args: argparse.Namespace) -> int:
    for car in list_cars():
        if car.dbc_path is not None:
            print(f"{car.name}  {car.dbc_path.name} (ships with the project)")
        else:
            sha = f" sha256 {car.dbc_sha256}" if car.dbc_sha256 else ""
            print(f"{car.name}  {car.dbc_name or '?'} (supply it: --dbc FILE){sha}")
    return 0


def cmd_car_check(args: argparse.Namespace) -> int:
    if args.mapping:
        if not args.allowlist:
            raise MappingError("car check --mapping FILE needs --allowlist FILE (what the bridge may write)")
        car = car_from_mapping(Path(args.mapping), Path(args.allowlist))
    else:
        car = find_car(args.car)
    dbc = Path(args.dbc) if args.dbc else car.dbc_path
    if dbc is None:
        raise MappingError(
            f"{car.name} needs its DBC, which does not ship: car check --car {car.name} --dbc {car.dbc_name}"
        )
    check_dbc_file(car, dbc)
    db = load_dbc(dbc)
    mapping = load_mapping(car.mapping_path)
    allowlist = load_allowlist(Path(args.allowlist) if args.allowlist else car.allowlist_path)
    check_mapping(mapping, allowlist, db, dbc, GPIO_OUTPUTS)
    catalog = {name: spec.writable for name, spec in load_signals().items()}
    rows = support_table(mapping, allowlist, db, catalog)
    print(f"{car.name}: {car.mapping_path.name} checks clean against {dbc.name} and {allowlist.path.name}")
    width = max(len(r.signal) for r in rows)
    for row in rows:
        print(f"{row.signal:<{width}}  {row.verdict:<12}  {row.why}")
    counts = {v: sum(r.verdict == v for r in rows) for v in ("actuate", "report only", "not possible")}
    extra = sorted(set(mapping.signals) - set(catalog))
    summary = ", ".join(f"{n} {v}" for v, n in counts.items())
    if extra:
        summary += f"; {len(extra)} more signals the assistant does not use"
    print(summary)
    return 0


def _write(path: Path, text: str, flag: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:  # was a FileNotFoundError / IsADirectoryError traceback
        raise InputError(f"cannot write {path} ({err.strerror or err}); give {flag} a writable file") from err


def cmd_car_import_kuksa(args: argparse.Namespace) -> int:
    dbc = Path(args.dbc)
    db = load_dbc(dbc)
    result = import_kuksa(read_kuksa(Path(args.file)), db)
    name = args.name or Path(args.file).stem
    text = yaml.safe_dump(
        result.mapping(name, dbc.name, f"imported from KUKSA {Path(args.file).name}"), sort_keys=False
    )
    if args.output:
        _write(Path(args.output), text, "-o")
    else:
        sys.stdout.write(text)
    if args.allowlist:
        _write(
            Path(args.allowlist),
            "# Every signal of each command message: review before use; the bridge writes only these.\n"
            + yaml.safe_dump(result.allowlist(db), sort_keys=False),
            "--allowlist",
        )
    print(f"converted {len(result.signals)} signals, skipped {len(result.skipped)}", file=sys.stderr)
    for skipped in result.skipped:
        print(f"  skipped {skipped.name}: {skipped.reason}", file=sys.stderr)
    return 0


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``car`` with its subcommands through cli.py's ``add``."""
    car = add("car", lambda args: args.car_func(args), "the cars that ship: list, check, import from KUKSA")
    sub = car.add_subparsers(dest="car_command", required=True, metavar="CAR_COMMAND")
    p = sub.add_parser("list", help="the cars that ship, one per line, name first")
    p.set_defaults(car_func=cmd_car_list)
    p = sub.add_parser("check", help="validate a car's mapping against its DBC; print what it can do")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--car", metavar="NAME", help="a car that ships (car list)")
    which.add_argument("--mapping", metavar="FILE", help="a mapping that does not ship (with --allowlist)")
    p.add_argument("--dbc", metavar="FILE", help="the car's DBC (for cars whose DBC does not ship)")
    p.add_argument("--allowlist", metavar="FILE", help="another allowlist than the car's own")
    p.set_defaults(car_func=cmd_car_check)
    p = sub.add_parser("import-kuksa", help="convert a KUKSA vss_dbc.json mapping into ours")
    p.add_argument("file", metavar="VSS_DBC_JSON")
    p.add_argument("--dbc", required=True, metavar="FILE", help="the DBC the KUKSA mapping names signals of")
    p.add_argument("--name", metavar="CAR", help="car name in the mapping (default: the file's stem)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the mapping here (default: stdout)")
    p.add_argument("--allowlist", metavar="FILE", help="also write an allowlist of the command messages")
    p.set_defaults(car_func=cmd_car_import_kuksa)
