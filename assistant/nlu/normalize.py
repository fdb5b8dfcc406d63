"""Slot spans -> catalog values, shared by every NLU engine (numbers are read by ``nlu.numbers``).

``normalize_slot`` maps the text of a slot as said ("my", "a crack", "fast")
to the catalog value for that intent's slot, through the same lists the
templates in ``intents/`` use, so the template parser and a neural tagger agree
on what each phrase means.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache

from hassil import Intents, is_match
from hassil.expression import Sentence
from hassil.intents import SlotList
from hassil.parse_expression import parse_sentence

from assistant.catalog import SLOT_SPECS
from assistant.nlu.base import Refusal
from assistant.nlu.numbers import Number, as_number, numbers_to_digits, parse_number


def number_refusal(intent: str, slot: str, value: Number) -> Refusal | None:
    """Why a number said for ``intent``'s ``slot`` cannot be used, or None when it can.

    Both engines call this, so a number outside the catalog is refused the same way, with the
    reason said, instead of being dropped into the slot's default ("250 percent" opening fully).
    """
    spec = SLOT_SPECS.get(intent, {}).get(slot)
    if spec is None or spec.kind == "enum":
        return None
    reason = spec.why_not(value)
    if reason is None or reason == "kind":
        return None
    return Refusal(intent, slot, value, reason)


_PLACES = frozenset({"window", "seat", "door", "zone"})


_PLACE_LISTS: dict[int, tuple[Intents, list[SlotList]]] = {}


def _place_lists(intents: Intents) -> list[SlotList]:
    cached = _PLACE_LISTS.get(id(intents))
    if cached is not None and cached[0] is intents:
        return cached[1]
    found = _find_place_lists(intents)
    _PLACE_LISTS.clear()
    _PLACE_LISTS[id(intents)] = (intents, found)
    return found


def _find_place_lists(intents: Intents) -> list[SlotList]:
    from assistant.nlu.intents import bound_lists

    seen: dict[int, SlotList] = {}
    for intent in intents.intents:
        for place in _PLACES:
            for slot_list in bound_lists(intents, intent, place):
                seen.setdefault(id(slot_list), slot_list)
    return list(seen.values())


_STRIP_PREFIXES = ("the ", "to ", "at ", "on ", "by ", "level ", "setting ", "a value of ")


@cache
def _slot_sentence(list_name: str, slot: str) -> Sentence:
    return parse_sentence(f"{{{list_name}:{slot}}}", keep_text=True)


_MATCHED: dict[tuple[int, str], tuple[SlotList, object]] = {}


def _match_list(text: str, slot_list: SlotList, rules: dict) -> object:  # type: ignore[type-arg]
    key = (id(slot_list), text)
    hit = _MATCHED.get(key)
    if hit is not None and hit[0] is slot_list:
        return hit[1]
    if len(_MATCHED) > 50_000:
        _MATCHED.clear()
    value = _match_list_uncached(text, slot_list, rules)
    _MATCHED[key] = (slot_list, value)
    return value


def _match_list_uncached(text: str, slot_list: SlotList, rules: dict) -> object:  # type: ignore[type-arg]
    name = slot_list.name or "value"
    ctx = is_match(
        text,
        _slot_sentence(name, "value"),
        slot_lists={name: slot_list},
        expansion_rules=rules,
        language="en",
    )
    if ctx is None:
        return None
    for entity in ctx.entities:
        if entity.name == "value":
            return entity.value
    return None


_RECHECK_S = 2.0
_CURRENT: list[tuple[float, Intents]] = []


def _current_intents(load: Callable[[], Intents]) -> Intents:
    # load_intents() stats every template file; a tagger calls this per slot, so
    # look again at most every couple of seconds
    now = time.monotonic()
    if not _CURRENT or now - _CURRENT[0][0] > _RECHECK_S:
        _CURRENT[:] = [(now, load())]
    return _CURRENT[0][1]


def normalize_slot(intent: str, slot: str, text: str) -> str | int | float | None:
    """The catalog value of ``slot`` of ``intent`` that ``text`` says, or None.

    >>> normalize_slot("window.open", "window", "passenger side"), normalize_slot("seat.heat", "level", "off")
    ('passenger', 0)
    """
    from assistant.nlu.intents import bound_lists, load_intents  # the lists live in intents/

    spec = SLOT_SPECS.get(intent, {}).get(slot)
    if spec is None or not isinstance(text, str):
        return None
    said = " ".join(text.lower().split()).strip(" .,!?")
    if not said:
        return None
    intents = _current_intents(load_intents)
    candidates = [said]
    for prefix in _STRIP_PREFIXES:
        if said.startswith(prefix):
            candidates.append(said[len(prefix) :])
    digits = numbers_to_digits(said)
    if digits != said:
        candidates.append(digits)
    for candidate in candidates:
        for slot_list in bound_lists(intents, intent, slot):
            value = _match_list(candidate, slot_list, intents.expansion_rules)
            if isinstance(value, float):
                value = as_number(value)
            if value is not None and value != "" and spec.accepts(value):
                return value  # type: ignore[return-value]
    if spec.kind == "enum" and slot in _PLACES:
        # a tagger may mark "passenger" in "open the passenger window": read it
        # with the other place lists (seat, zone, door) whose values fit this slot
        for candidate in candidates:
            for slot_list in _place_lists(intents):
                value = _match_list(candidate, slot_list, intents.expansion_rules)
                if isinstance(value, str) and spec.accepts(value):
                    return value
    if spec.kind != "enum":
        for candidate in candidates:
            number = parse_number(candidate)
            if number is not None and spec.accepts(number):
                return number
        return None
    as_value = said.replace(" ", "_").replace("-", "_")
    if as_value in spec.values:
        return as_value
    return None
