"""Reply templates from intents/replies.yaml."""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from assistant.errors import IntentsError
from assistant.package_data import data_path

REPLIES_FILE = data_path("intents", "replies.yaml")

REPLY_KEYS = frozenset(
    {
        "answer.climate",
        "answer.door_item",
        "answer.doors_locked",
        "answer.doors_some_unlocked",
        "answer.doors_unlocked",
        "answer.fan_level",
        "answer.fan_off",
        "answer.lights_off",
        "answer.lights_on",
        "answer.media",
        "answer.media_radio",
        "answer.muted",
        "answer.off",
        "answer.on",
        "answer.seat_heating",
        "answer.seat_heating_off",
        "answer.seat_item",
        "answer.sunroof_closed",
        "answer.sunroof_open",
        "answer.trunk_closed",
        "answer.trunk_open",
        "answer.unknown_subject",
        "answer.volume",
        "answer.window_item",
        "answer.windows_closed",
        "answer.windows_open",
        "answer.wipers",
        "ask.assistant.undo",
        "cancel.stopped",
        "cancel.unconfirmed",
        "clamped.above",
        "clamped.below",
        "dialogue.cancel",
        "dialogue.confirm_expired",
        "dialogue.confirm_headlights_off",
        "dialogue.confirm_nothing",
        "dialogue.confirm_unclear",
        "dialogue.contradiction",
        "dialogue.deny_nothing",
        "dialogue.deny_pending",
        "dialogue.empty",
        "dialogue.error",
        "dialogue.help",
        "dialogue.no_command",
        "dialogue.repeat_nothing",
        "dialogue.too_long",
        "dialogue.undo_done",
        "dialogue.undo_nothing",
        "failure.bus_down",
        "failure.bus_lost",
        "failure.car_cannot",
        "failure.car_lacks",
        "failure.rejected",
        "failure.send",
        "failure.timeout",
        "failure.unhealthy",
        "failure.unsent",
        "partial.done",
        "policy.sorry",
        "query.age_hours",
        "query.age_minute",
        "query.age_minutes",
        "query.age_moment",
        "query.age_seconds",
        "query.stale",
        "query.unknown",
        "refused.mirrors_at_walking_speed",
        "refused.radio_band",
        "refused.trunk_at_walking_speed",
        "refused.unlock_below_speed",
        "stopped.moving",
        "stopped.unconfirmed",
        "where.closed",
        "where.folded",
        "where.open",
        "where.percent",
        "where.unfolded",
        "why.acted",
        "why.acted_after_yes",
        "why.acted_moving",
        "why.acted_replaced",
        "why.acted_timeout",
        "why.dropped",
        "why.dropped_error",
        "why.nothing",
        "why.other",
    }
)
"""Every reply the code says by name; checked against the file at load, so a missing one
stops the start, not an utterance. tests/assistant/vehicle/test_reply_keys.py finds them in the code."""

_ANSWERED = ("assistant.", "vehicle.query")
"""Intents that answer rather than actuate: they have no ``done.<intent>`` reply."""


WORD_SLOTS = {
    "wipers": ("wipers.set", "mode"),
    "light": ("lights.set", "light"),
    "source": ("media.source", "source"),
    "media_action": ("media.control", "action"),
}
"""``words.<group>.<value>`` groups whose values are a catalog slot's (intent, slot)."""
SEAT_LEVELS = range(4)
"""``words.seat_level.<n>``: the seat heating levels the car has (signals.yaml, 0..3)."""


def required_keys() -> frozenset[str]:
    """REPLY_KEYS, ``done.<intent>`` for every catalog intent that moves something, and the word for
    every value a reply may name."""
    from assistant.catalog import INTENTS, SLOT_SPECS

    words = {
        f"words.{group}.{value}"
        for group, (intent, slot) in WORD_SLOTS.items()
        for value in SLOT_SPECS[intent][slot].values
    }
    words |= {f"words.seat_level.{n}" for n in SEAT_LEVELS}
    return REPLY_KEYS | words | {f"done.{i}" for i in INTENTS if not i.startswith(_ANSWERED)}


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


class Replies:
    def __init__(self, table: dict[str, Any]) -> None:
        self.table = table

    def say(self, key: str, **fields: Any) -> str:
        """The reply at ``key`` ("section.name") with ``fields`` filled, first letter capitalised."""
        text = self.words(key, **fields)
        return text[:1].upper() + text[1:]

    def words(self, key: str, **fields: Any) -> str:
        """The text at ``key`` with ``fields`` filled, as written: a part of a sentence ("the driver
        door") that another reply puts in the middle of itself."""
        # "done.window.open": a section, then a name that may itself hold dots
        section, _, name = key.partition(".")
        node: Any = self.table.get(section)
        if name:
            node = node.get(name) if isinstance(node, dict) else None
        if not isinstance(node, str):
            raise KeyError(f"no reply {key!r} in {REPLIES_FILE.name}")
        return str(node).format_map(_Blank(fields))

    def has(self, key: str) -> bool:
        try:
            self.say(key)
        except KeyError:
            return False
        return True


@cache
def load_replies(path: Path = REPLIES_FILE) -> Replies:
    try:
        table = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise IntentsError(
            f"{path} is missing; restore it with: git checkout -- intents/replies.yaml (or reinstall)"
        ) from err
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        line = mark.line + 1 if mark is not None else "?"
        raise IntentsError(f"{path}:{line}: {err.problem}; fix the YAML there") from err
    if not isinstance(table, dict):
        raise IntentsError(f"{path}: expected a mapping of reply templates")
    _check(table, path)
    return Replies(table)


def _check(table: dict[str, Any], path: Path) -> None:
    """Every template well formed, every reply the code needs present."""
    for section, node in table.items():
        leaves = node.items() if isinstance(node, dict) else [(None, node)]
        for name, text in leaves:
            key = f"{section}.{name}" if name is not None else str(section)
            if not isinstance(text, str):
                raise IntentsError(f"{path}: reply {key!r} is not a string; quote the sentence")
            try:
                list(string.Formatter().parse(text))
            except ValueError as err:
                raise IntentsError(f"{path}: reply {key!r} has a broken {{field}} ({err}); fix it") from err
    replies = Replies(table)
    missing = sorted(k for k in required_keys() if not replies.has(k))
    if missing:
        raise IntentsError(
            f"{path}: no reply for {', '.join(missing)}, which the assistant says; "
            "add it (or restore it with: git checkout -- intents/replies.yaml)"
        )
