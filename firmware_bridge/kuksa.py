"""KUKSA ``vss_dbc.json`` mappings to ours, and back.

KUKSA's CAN provider maps VSS to DBC in VSS JSON: each leaf may carry
``dbc2vss`` (synonym ``dbc``: a DBC signal read as the VSS value, with
``interval_ms``, ``on_change`` and ``transform``) and ``vss2dbc`` (a DBC signal the
VSS target is written to).  KUKSA names signals only; the DBC tells us their
messages.  ``transform.math`` goes through our safe math language (KUKSA uses
py-expression-eval, which allows more: an expression outside ours is skipped,
with the reason), ``transform.mapping`` becomes a ``map``.

A leaf becomes one of our signals when its DBC signal exists and its transforms
parse; it needs a ``dbc2vss`` (our bridge confirms every write by status).
``interval_ms`` / ``on_change`` are rate limits of KUKSA's feeder, which our
bridge does not need: they are kept only to write the file back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cantools.database

from firmware_bridge.errors import MappingError
from firmware_bridge.transforms import TransformError, parse_transform


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


@dataclass
class Imported:
    """What ``import_kuksa`` made: our mapping as plain data, and what it left out and why."""

    signals: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    kuksa_extra: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per signal, KUKSA's own options (interval_ms, on_change), kept for the way back."""

    def mapping(self, car: str, dbc: str, source: str) -> dict[str, Any]:
        """Our mapping file's content (write it with yaml.safe_dump)."""
        return {"car": {"name": car, "dbc": dbc, "source": source}, "signals": self.signals}

    def allowlist(self, db: cantools.database.can.Database) -> dict[str, Any]:
        """An allowlist naming every signal of each command message: review it before use."""
        can: dict[str, list[str]] = {}
        for entry in self.signals.values():
            if "command" in entry:
                message = db.get_message_by_name(entry["command"]["message"])
                can[message.name] = [s.name for s in message.signals]
        return {"can": can, "gpio": []}


def read_kuksa(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise MappingError(f"cannot read KUKSA mapping {path}: {err.strerror}") from err
    except json.JSONDecodeError as err:
        raise MappingError(f"{path}:{err.lineno}: not valid JSON: {err.msg}") from err
    if not isinstance(data, dict):
        raise MappingError(f"{path}: expected VSS JSON (an object of branches) at the top level")
    return data


def _leaves(node: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for key, child in node.items():
        if not isinstance(child, dict):
            continue
        name = f"{prefix}.{key}" if prefix else key
        if any(k in child for k in ("dbc2vss", "vss2dbc", "dbc")):
            yield name, child
        children = child.get("children")
        if isinstance(children, dict):
            yield from _leaves(children, name)


def _transform(raw: Any) -> dict[str, Any] | None:
    """KUKSA's transform as ours (raises TransformError when ours cannot express it)."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or len(raw) != 1:
        raise TransformError(f"transform must hold one of math / mapping, got {raw!r}")
    ((kind, body),) = raw.items()
    if kind == "math":
        ours: dict[str, Any] = {"math": body}
    elif kind == "mapping":
        pairs = isinstance(body, list) and all(isinstance(i, dict) and set(i) == {"from", "to"} for i in body)
        if not pairs:
            raise TransformError(f"mapping must be a list of {{from, to}}, got {body!r}")
        ours = {"map": {item["from"]: item["to"] for item in body}}
    else:
        raise TransformError(f"unknown KUKSA transform {kind!r}")
    parse_transform(ours)
    return ours


def import_kuksa(data: Mapping[str, Any], db: cantools.database.can.Database) -> Imported:
    """Convert every mapped VSS leaf that the DBC and our transforms can carry."""
    by_signal: dict[str, list[str]] = {}
    for message in db.messages:
        for sig in message.signals:
            by_signal.setdefault(sig.name, []).append(message.name)
    out = Imported()
    for name, leaf in _leaves(data, ""):
        read = leaf.get("dbc2vss", leaf.get("dbc"))
        write = leaf.get("vss2dbc")
        entry: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        try:
            for role, block in (("status", read), ("command", write)):
                if block is None:
                    continue
                if not isinstance(block, dict) or "signal" not in block:
                    raise MappingError(f"{role}: expected {{signal: ...}}, got {block!r}")
                signal = str(block["signal"])
                messages = by_signal.get(signal, [])
                if len(messages) != 1:
                    raise MappingError(
                        f"DBC signal {signal} is in {'no message' if not messages else ', '.join(messages)}"
                        + ("" if not messages else "; KUKSA names signals, so they must be unique")
                    )
                ref: dict[str, Any] = {"message": messages[0], "signal": signal}
                transform = _transform(block.get("transform"))
                if transform is not None:
                    ref["transform"] = transform
                entry[role] = ref
                kept = {k: block[k] for k in ("interval_ms", "on_change") if k in block}
                if kept:
                    extra[role] = kept
        except (MappingError, TransformError) as err:
            out.skipped.append(Skipped(name, str(err)))
            continue
        if "status" not in entry:
            out.skipped.append(Skipped(name, "vss2dbc only: no dbc2vss status to confirm a write"))
            continue
        out.signals[name] = entry
        if extra:
            out.kuksa_extra[name] = extra
    return out


def export_kuksa(
    signals: Mapping[str, Mapping[str, Any]], extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Our mapping's signals (plain data as ``Imported.signals``) as a KUKSA vss_dbc.json tree."""
    root: dict[str, Any] = {}
    for name, entry in signals.items():
        parts = name.split(".")
        node = root
        for part in parts[:-1]:
            branch = node.setdefault(part, {"type": "branch", "children": {}})
            node = branch["children"]
        leaf: dict[str, Any] = node.setdefault(parts[-1], {})
        for role, key in (("status", "dbc2vss"), ("command", "vss2dbc")):
            ref = entry.get(role)
            if ref is None:
                continue
            block: dict[str, Any] = {"signal": ref["signal"]}
            block.update((extra or {}).get(name, {}).get(role, {}))
            t = ref.get("transform")
            if t is not None:
                if "math" in t:
                    block["transform"] = {"math": t["math"]}
                else:
                    block["transform"] = {"mapping": [{"from": k, "to": v} for k, v in t["map"].items()]}
            leaf[key] = block
    return root
