"""Numbers keep their sign and decimals, and both engines pass on or refuse them the same way.

A number inside its slot's catalog range goes to the vehicle, which clamps it to the car's range
and says so ("set the temperature to -40": 16 degrees, the lowest); one outside it is refused with
the reason said, and nothing moves ("open the window -50 percent" must not open it 50 %, nor
"250 percent" open it fully).
"""

from __future__ import annotations

import pytest

from assistant.catalog import SLOT_SPECS
from assistant.dialogue import Dialogue
from assistant.nlu.base import Parse, Parser, Refusal
from assistant.nlu.normalize import number_refusal
from assistant.nlu.numbers import (
    is_spelled_number,
    number_in,
    number_spans,
    numbers_to_digits,
    parse_number,
    spell_number,
)
from assistant.nlu.slm import SlmParser
from assistant.nlu.templates import TemplateParser
from assistant.runtime import Car
from assistant.vehicle.replies import load_replies


@pytest.fixture(scope="module")
def engines() -> dict[str, Parser]:
    return {"slm": SlmParser(), "templates": TemplateParser()}


def _read(parse: Parse) -> tuple[list[tuple[str, dict[str, object]]], list[tuple[str, str, object, str]]]:
    commands = [(c.intent, dict(c.slots)) for c in parse.commands]
    refused = [(r.intent, r.slot, r.value, r.reason) for r in parse.refused]
    return commands, refused


# text -> (commands, refusals); the same for both engines
CASES: dict[str, tuple[list[tuple[str, dict[str, object]]], list[tuple[str, str, object, str]]]] = {
    "set the temperature to -40": ([("climate.set_temperature", {"value": -40})], []),
    "set the temperature to minus 40 degrees": ([("climate.set_temperature", {"value": -40})], []),
    "open the window -50 percent": ([], [("window.open", "amount", -50, "below")]),
    "open the window minus 50 percent": ([], [("window.open", "amount", -50, "below")]),
    "open the window 250 percent": ([], [("window.open", "amount", 250, "above")]),
    "open the sunroof 250 percent": ([], [("sunroof.open", "amount", 250, "above")]),
    "set the fan to -3": ([], [("climate.set_fan", "level", -3, "below")]),
    "fan to -3": ([], [("climate.set_fan", "level", -3, "below")]),
    "set the fan to 2.5": ([], [("climate.set_fan", "level", 2.5, "whole")]),
    "volume -5": ([], [("media.volume", "level", -5, "below")]),
    "set the volume to -5": ([], [("media.volume", "level", -5, "below")]),
    "set the volume to 5000": ([], [("media.volume", "level", 5000, "above")]),
    "set the driver seat heat to -2": ([], [("seat.heat", "level", -2, "below")]),
    "tune to 99.99 fm": ([], [("radio.tune", "frequency", 99.99, "decimals")]),
    "tune to 99.9 fm": ([("radio.tune", {"frequency": 99.9, "band": "fm"})], []),
    # inside the catalog, outside the car: passed on, and the vehicle clamps it and says so
    "set the fan to 12": ([("climate.set_fan", {"level": 12})], []),
    "set the temperature to 150": ([("climate.set_temperature", {"value": 150})], []),
    "open the window 50 percent": ([("window.open", {"amount": 50})], []),
    # Whisper writes "a thousand" as "1,000": the language model read it as 1 and opened the window 1 %
    "open the window 1,000 percent": ([], [("window.open", "amount", 1000, "above")]),
    "set the volume to 1,500": ([], [("media.volume", "level", 1500, "above")]),
}


@pytest.mark.parametrize("engine", ["slm", "templates"])
@pytest.mark.parametrize("text", list(CASES))
def test_both_engines_keep_the_sign_and_refuse_the_same(
    engines: dict[str, Parser], engine: str, text: str
) -> None:
    commands, refused = _read(engines[engine].parse(text))
    want_commands, want_refused = CASES[text]
    # the window defaults to the driver's; neither engine needs to say so
    assert [(i, {k: v for k, v in s.items() if k != "window"}) for i, s in commands] == want_commands
    assert refused == want_refused


def test_a_refusal_leaves_the_other_requests_of_the_sentence(engines: dict[str, Parser]) -> None:
    for parser in engines.values():
        commands, refused = _read(parser.parse("volume -5 and lock the doors"))
        assert [i for i, _ in commands] == ["doors.lock"]
        assert refused == [("media.volume", "level", -5, "below")]


@pytest.mark.parametrize(
    "text, value",
    [
        ("-40", -40),
        ("minus 40", -40),
        ("minus forty", -40),
        ("\u22125", -5),
        ("99.99", 99.99),
        ("-2.5", -2.5),
    ],
)
def test_parse_number_keeps_the_sign(text: str, value: float) -> None:
    assert parse_number(text) == value


def test_numbers_to_digits_keeps_the_sign() -> None:
    assert numbers_to_digits("set it to minus forty") == "set it to -40"
    assert numbers_to_digits("set it to minus 40") == "set it to -40"
    assert numbers_to_digits("twenty one minus") == "21 minus"


def test_number_in_reads_the_whole_number_around_a_span() -> None:
    text = "tune to 99.99 fm and set the temperature to -40"
    assert number_spans(text) == [(8, 13, 99.99), (44, 47, -40)]
    assert number_in(text, 8, 10) == 99.99  # "99" of "99.99"
    assert number_in(text, 45, 47) == -40  # "40" of "-40"
    assert number_in(text, 0, 4) is None


def test_every_number_slot_has_a_refusal_reply() -> None:
    say = load_replies().say
    for intent, slots in SLOT_SPECS.items():
        for slot, spec in slots.items():
            if spec.kind == "enum":
                continue
            for reason in ("below", "above", "whole", "decimals"):
                reply = Refusal(intent, slot, -1, reason).reply(say)
                assert "-1" in reply and "{" not in reply
    assert number_refusal("window.open", "amount", 50) is None
    assert number_refusal("window.open", "amount", 0) == Refusal("window.open", "amount", 0, "below")


@pytest.mark.parametrize("engine", ["slm", "templates"])
def test_a_refused_number_moves_nothing_and_says_why(
    engines: dict[str, Parser], engine: str, car: Car
) -> None:
    dialogue = Dialogue(engines[engine], car.vehicle)
    turn = dialogue.handle("open the window -50 percent")
    assert turn.frames == ()
    assert [a.status for a in turn.actions] == ["refused"]
    assert turn.reply == "The window opening can't go as low as -50, so I left it as it is."
    turn = dialogue.handle("open the window 250 percent")
    assert turn.frames == ()
    assert "250" in turn.reply
    turn = dialogue.handle("set the temperature to -40")
    assert turn.frames  # clamped by the vehicle, with the reason
    assert "lowest" in turn.reply


def test_the_reader_reads_what_the_speller_says() -> None:
    # one module both ways: every number the recogniser's language model and the training text spell
    # (via unicode-rbnf) must come back as the same value, or a spoken 105 would read as 15
    for n in [*range(0, 1200), 1010, 2026, 9999, 12345]:
        said = spell_number(n)
        assert "-" not in said, said
        assert parse_number(said) == n, said
    assert spell_number("95.3") == "ninety five point three"
    assert spell_number("101.05") == "one hundred one point zero five"
    assert parse_number(spell_number("101.05")) == 101.05
    assert spell_number(-40) == "minus forty"
    assert parse_number(spell_number(-40)) == -40
    assert is_spelled_number("ninety five point three")
    assert not is_spelled_number("95.3")
    assert not is_spelled_number("ten percent")
