"""Scoring as ``eval/score_text.py`` does it, plus slot F1, rejection and per-intent figures.

A frame is right when the intents come in the same order and every command has
the same slot keys with equal values (numbers within 1e-6, words case-blind);
``door=all`` on doors.lock/unlock counts as no door, as the catalog says.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.nlu.evalset import Row, frame_ok, norm_slots, parse_expected, read_set

__all__ = ["NONE", "Row", "Scores", "frame_ok", "label", "parse_expected", "read_set"]

NONE = "(none)"
"""Label of an utterance with no command (out of scope)."""


def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Word edits (substitutions, insertions, deletions) that turn ``a`` into ``b``."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y))
        prev = cur
    return prev[-1]


def _triples(commands: Sequence[Mapping[str, Any]]) -> Counter[tuple[str, str, str]]:
    out: Counter[tuple[str, str, str]] = Counter()
    for c in commands:
        for k, v in norm_slots(c["intent"], c.get("slots")).items():
            value = f"{float(v):g}" if isinstance(v, (int, float)) else str(v).strip().lower()
            out[(c["intent"], k, value)] += 1
    return out


def label(commands: Sequence[Mapping[str, Any]]) -> str:
    """One label per utterance for the confusion matrix: the first intent, or (none)."""
    return str(commands[0]["intent"]) if commands else NONE


@dataclass
class Scores:
    """Counts over one set for one engine; ``summary()`` gives the rates."""

    n: int = 0
    frame: int = 0
    intent: int = 0
    slot_tp: int = 0
    slot_fp: int = 0
    slot_fn: int = 0
    oos_total: int = 0
    oos_rejected: int = 0
    in_scope_rejected: int = 0
    per_intent: dict[str, list[int]] = field(default_factory=dict)  # intent -> [right, total]
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)  # (want, got) single-command rows

    def add(self, expected: Sequence[Mapping[str, Any]], got: Sequence[Mapping[str, Any]]) -> bool:
        self.n += 1
        i_ok = [c["intent"] for c in expected] == [c.get("intent") for c in got]
        f_ok = frame_ok(expected, got)
        self.intent += i_ok
        self.frame += f_ok
        want, have = _triples(expected), _triples(got)
        tp = sum((want & have).values())
        self.slot_tp += tp
        self.slot_fp += sum(have.values()) - tp
        self.slot_fn += sum(want.values()) - tp
        if not expected:
            self.oos_total += 1
            self.oos_rejected += not got
        elif not got:
            self.in_scope_rejected += 1
        for name in {c["intent"] for c in expected} or {NONE}:
            right_total = self.per_intent.setdefault(name, [0, 0])
            right_total[0] += i_ok
            right_total[1] += 1
        if len(expected) <= 1:
            self.confusion[(label(expected), label(got))] += 1
        return f_ok

    def summary(self) -> dict[str, Any]:
        n = max(self.n, 1)
        p = self.slot_tp / max(self.slot_tp + self.slot_fp, 1)
        r = self.slot_tp / max(self.slot_tp + self.slot_fn, 1)
        return {
            "n": self.n,
            "frame_acc": self.frame / n,
            "intent_acc": self.intent / n,
            "slot_precision": p,
            "slot_recall": r,
            "slot_f1": 2 * p * r / (p + r) if p + r else 0.0,
            "oos_total": self.oos_total,
            "oos_rejected": self.oos_rejected,
            "oos_false_accepts": self.oos_total - self.oos_rejected,
            "in_scope_rejected": self.in_scope_rejected,
        }
