from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.catalog import SLOT_SPECS
from assistant.nlu.normalize import normalize_slot
from assistant.nlu.numbers import numbers_to_digits, parse_number


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("twenty one", 21),
        ("twenty-one", 21),
        ("21", 21),
        ("ninety eight point seven", 98.7),
        ("98.7", 98.7),
        ("one oh five point one", 105.1),
        ("seventy two", 72),
        ("a hundred", 100),
        ("one hundred and five", 105),
        ("ten percent", 10),
        ("10%", 10),
        ("twenty two and a half", 22.5),
        ("zero", 0),
        ("seven", 7),
        ("fifteen hundred", 1500),
        ("ten ten", 1010),
        ("72 degrees", 72),
        ("minus five", -5),
    ],
)
def test_parse_number(text: str, number: int | float) -> None:
    got = parse_number(text)
    assert got == number
    assert type(got) is type(number)


@pytest.mark.parametrize(
    "text", ["", "half", "a", "and", "open the window", "oh five", "point", "one two three x"]
)
def test_parse_number_refuses_non_numbers(text: str) -> None:
    assert parse_number(text) is None


def test_numbers_to_digits_rewrites_spoken_numbers_only() -> None:
    assert numbers_to_digits("set it to twenty one degrees") == "set it to 21 degrees"
    assert numbers_to_digits("tune to one oh five point one fm") == "tune to 105.1 fm"
    assert numbers_to_digits("a hundred and one point nine") == "101.9"
    assert numbers_to_digits("open it a bit") == "open it a bit"
    assert numbers_to_digits("fan 3 volume 10") == "fan 3 volume 10"


@pytest.mark.parametrize(
    ("intent", "slot", "text", "value"),
    [
        ("window.open", "window", "passenger side window", "passenger"),
        ("window.open", "window", "my window", "driver"),
        ("window.open", "window", "rear windows", "rear"),
        ("window.open", "window", "the windows", "all"),
        ("window.open", "amount", "a crack", 20),
        ("window.open", "amount", "halfway", 50),
        ("window.open", "amount", "all the way", 100),
        ("window.open", "amount", "thirty percent", 30),
        ("sunroof.open", "amount", "a little", 20),
        ("climate.set_fan", "level", "max", 7),
        ("climate.set_fan", "level", "lowest", 1),
        ("climate.set_fan", "level", "off", 0),
        ("climate.set_fan", "level", "three", 3),
        ("climate.set_fan", "direction", "faster", "up"),
        ("seat.heat", "level", "off", 0),
        ("seat.heat", "level", "low", 1),
        ("seat.heat", "level", "medium", 2),
        ("seat.heat", "level", "high", 3),
        ("seat.heat", "level", "max", 3),
        ("seat.heat", "seat", "my", "driver"),
        ("wipers.set", "mode", "high", "high"),
        ("wipers.set", "mode", "fast", "high"),
        ("wipers.set", "mode", "on", "low"),
        ("wipers.set", "mode", "stop", "off"),
        ("climate.adjust_temperature", "direction", "cold", "up"),
        ("climate.adjust_temperature", "direction", "warmer", "up"),
        ("climate.adjust_temperature", "direction", "too hot", "down"),
        ("climate.adjust_temperature", "amount", "two", 2),
        ("climate.set_temperature", "value", "twenty two", 22),
        ("climate.set_temperature", "value", "ninety eight point five", 98.5),
        ("climate.set_temperature", "unit", "fahrenheit", "fahrenheit"),
        ("climate.set_temperature", "zone", "passenger side", "passenger"),
        ("climate.defrost", "target", "windscreen", "front"),
        ("climate.ac", "state", "off", "off"),
        ("lights.set", "light", "the lights", "headlights"),
        ("lights.set", "light", "brights", "high_beams"),
        ("doors.lock", "door", "the car", "all"),
        ("media.volume", "direction", "too loud", "down"),
        ("media.volume", "level", "fifteen", 15),
        ("media.source", "source", "my phone", "bluetooth"),
        ("radio.tune", "frequency", "ninety eight point seven", 98.7),
        ("radio.tune", "band", "fm", "fm"),
        ("vehicle.query", "subject", "boot", "trunk"),
    ],
)
def test_normalize_slot(intent: str, slot: str, text: str, value: str | int | float) -> None:
    got = normalize_slot(intent, slot, text)
    assert got == value
    assert type(got) is type(value)


@pytest.mark.parametrize(
    ("intent", "slot", "text"),
    [
        ("window.open", "window", "banana"),
        ("window.open", "colour", "red"),
        ("no.such", "window", "driver"),
        ("climate.set_fan", "level", "a thousand"),
        ("seat.heat", "level", ""),
    ],
)
def test_normalize_slot_none_when_it_cannot(intent: str, slot: str, text: str) -> None:
    assert normalize_slot(intent, slot, text) is None


_NUMBERISH = st.lists(
    st.sampled_from(
        [
            "one",
            "oh",
            "twenty",
            "point",
            "and",
            "a",
            "half",
            "hundred",
            "thousand",
            "minus",
            "7",
            "9.5",
            "%",
            "percent",
            "zero",
            "ninety",
            "x",
            "-",
            "é",
        ]
    ),
    max_size=8,
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), _NUMBERISH))
def test_number_reading_never_raises(text: str) -> None:
    value = parse_number(text)
    assert value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))
    assert isinstance(numbers_to_digits(text), str)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(SLOT_SPECS)), st.text(max_size=30))
def test_normalize_slot_gives_catalog_values_or_none(intent: str, text: str) -> None:
    for slot, spec in SLOT_SPECS[intent].items():
        value = normalize_slot(intent, slot, text)
        assert value is None or spec.accepts(value)
