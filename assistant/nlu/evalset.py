"""Evaluation sets in the dev_text.tsv format, and score_text.py's frame rule.

One place for it: the training run, the benchmark and the voice benchmark all
score against the same sets the same way as ``eval/score_text.py`` (a copy of the
project's shared scorer, kept in the repo with the public development set).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

Row = tuple[str, list[dict[str, Any]]]

DEV_SET = Path(__file__).resolve().parents[2] / "eval" / "dev_text.tsv"
"""The public development set (eval/README.md says where it came from): measured, never trained on."""


def parse_expected(s: str) -> list[dict[str, Any]]:
    """'intent{slot=value,...}; ...' or '-' -> commands as the parse JSON has them."""
    s = s.strip()
    if s == "-":
        return []
    out = []
    for part in s.split(";"):
        m = re.fullmatch(r"([a-z_]+\.[a-z_]+)(\{(.*)\})?", part.strip())
        if m is None:
            raise ValueError(f"not a command: {part!r}")
        slots: dict[str, Any] = {}
        for kv in filter(None, (m.group(3) or "").split(",")):
            k, v = kv.split("=")
            try:
                slots[k] = float(v) if "." in v else int(v)
            except ValueError:
                slots[k] = v
        out.append({"intent": m.group(1), "slots": slots})
    return out


def read_set(path: Path) -> list[Row]:
    """A dev_text.tsv-format file: text<TAB>expected; '#' lines are comments."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        text, expected = line.split("\t")
        rows.append((text, parse_expected(expected)))
    return rows


def norm_slots(intent: str, slots: Mapping[str, Any] | None) -> dict[str, Any]:
    out = dict(slots or {})
    if intent in ("doors.lock", "doors.unlock") and out.get("door") == "all":
        out.pop("door")
    return out


def same_value(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b) < 1e-6
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().lower() == b.strip().lower()
    try:
        return abs(float(a) - float(b)) < 1e-6
    except (TypeError, ValueError):
        return False


def frame_ok(expected: Sequence[Mapping[str, Any]], got: Sequence[Mapping[str, Any]]) -> bool:
    if [c["intent"] for c in expected] != [c.get("intent") for c in got]:
        return False
    for e, g in zip(expected, got, strict=False):
        es, gs = norm_slots(e["intent"], e["slots"]), norm_slots(e["intent"], g.get("slots"))
        if set(es) != set(gs) or not all(same_value(gs[k], es[k]) for k in es):
            return False
    return True
