"""The cars that ship: a mapping per car, its allowlist, and the DBC it expects.

``mappings/NAME.yaml`` is a car; its allowlist is ``allowlists/NAME.yaml`` (the
reference car's is ``allowlist.yaml``, as before).  Only the reference car's DBC
ships: a real car's DBC is third-party data the user supplies (``--dbc``), checked
against the sha256 its mapping names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cantools.database

from firmware_bridge.config import DEFAULT_ALLOWLIST, DEFAULT_DBC, PACKAGE_DIR
from firmware_bridge.errors import MappingError
from firmware_bridge.mapping import Allowlist, VehicleMapping, load_mapping

MAPPINGS_DIR = PACKAGE_DIR / "mappings"
ALLOWLISTS_DIR = PACKAGE_DIR / "allowlists"
REFERENCE = "reference_car"


@dataclass(frozen=True)
class Car:
    name: str
    mapping_path: Path
    allowlist_path: Path
    dbc_path: Path | None
    """The DBC that ships with the project, or ``None`` when the user supplies it."""
    dbc_name: str
    """The file the mapping expects (for a user-supplied DBC: where to get it)."""
    dbc_sha256: str


def _car(path: Path, allowlist: Path | None = None) -> Car:
    if path.parent == MAPPINGS_DIR and path.stem == REFERENCE:
        return Car(REFERENCE, path, DEFAULT_ALLOWLIST, DEFAULT_DBC, DEFAULT_DBC.name, "")
    info = load_mapping(path).car
    return Car(
        info.name if info is not None else path.stem,
        path,
        allowlist or ALLOWLISTS_DIR / f"{path.stem}.yaml",
        None,
        info.dbc if info is not None else "",
        info.dbc_sha256 if info is not None else "",
    )


def car_from_mapping(path: Path, allowlist: Path) -> Car:
    """A car that does not ship (an imported or new mapping), with its allowlist."""
    return _car(Path(path), Path(allowlist))


def list_cars() -> list[Car]:
    """Every car that ships, the reference car first."""
    paths = sorted(MAPPINGS_DIR.glob("*.yaml"), key=lambda p: (p.stem != REFERENCE, p.stem))
    return [_car(p) for p in paths]


def find_car(name: str) -> Car:
    path = MAPPINGS_DIR / f"{name}.yaml"
    if "/" in name or not path.is_file():
        known = ", ".join(c.name for c in list_cars())
        raise MappingError(f"no car named {name!r}; known: {known} (car-assistant car list)")
    return _car(path)


def check_dbc_file(car: Car, dbc: Path) -> None:
    """Refuse a user-supplied DBC whose sha256 differs from the one the mapping was written for."""
    if not car.dbc_sha256:
        return
    try:
        digest = hashlib.sha256(Path(dbc).read_bytes()).hexdigest()
    except OSError as err:
        raise MappingError(f"cannot read DBC {dbc}: {err.strerror}") from err
    if digest != car.dbc_sha256:
        raise MappingError(
            f"{dbc} has sha256 {digest}, but {car.mapping_path} was written for {car.dbc_name} "
            f"with sha256 {car.dbc_sha256}; supply that file (see README: Another car)"
        )


Verdict = Literal["actuate", "report only", "not possible"]


@dataclass(frozen=True)
class Support:
    """One function of the assistant's catalog on this car."""

    signal: str
    verdict: Verdict
    why: str


def support_table(
    mapping: VehicleMapping,
    allowlist: Allowlist,
    db: cantools.database.can.Database,
    wanted: Mapping[str, bool],
) -> list[Support]:
    """For each vehicle signal the assistant knows (name -> whether it writes it), what this car allows."""
    out = []
    for name, writable in wanted.items():
        m = mapping.signals.get(name)
        if m is None:
            out.append(Support(name, "not possible", "the mapping does not name it"))
            continue
        if m.gpio is not None:
            if writable and m.gpio in allowlist.gpio:
                out.append(Support(name, "actuate", f"GPIO {m.gpio}"))
            else:
                out.append(Support(name, "report only", f"GPIO {m.gpio} is not on the allowlist"))
            continue
        assert m.status is not None
        seen = f"status {m.status.message}.{m.status.signal}"
        c = m.command
        if not writable:
            out.append(Support(name, "report only", f"the assistant never writes it; {seen}"))
        elif c is None:
            why = m.cannot or "the mapping has no command for it"
            out.append(Support(name, "report only", f"{why}; {seen}"))
        elif not {c.signal, *c.fixed} <= allowlist.can.get(c.message, frozenset()):
            out.append(Support(name, "report only", f"{c.message}.{c.signal} is not on the allowlist"))
        else:
            spec = mapping.messages.get(c.message)
            how = [c.style, f"{c.message}.{c.signal}"]
            if spec is not None and spec.cycle_s:
                how.append(f"every {spec.cycle_s * 1000:g} ms")
            if spec is not None and spec.checksum:
                how.append(f"checksum {spec.checksum}")
            if db.get_message_by_name(c.message).is_extended_frame:
                how.append("29-bit id")
            out.append(Support(name, "actuate", " ".join(how) + f"; {seen}"))
    return out
