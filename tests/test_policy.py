"""Actuation by risk: weak evidence for a safety command is asked back and only a clear yes carries it out."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.catalog import INTENTS
from assistant.dialogue import Dialogue
from assistant.errors import IntentsError
from assistant.nlu.base import Command, Parse, Parser, load_parser
from assistant.nlu.templates import TemplateParser
from assistant.policy import (
    ACTED,
    ASKED,
    DROPPED,
    POLICY_DIR,
    Bars,
    Policy,
    Speech,
    load_bars,
    load_policy,
    load_risks,
)
from assistant.training.calibrate_policy import random_strings
from assistant.vehicle.vehicle import Vehicle
from tests.vehicle.fakes import FakeBridge

UNLOCKED = "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked"


class UnsureParser(Parser):
    """The templates' commands, with the confidence the test gives for some texts (a parser that doubts)."""

    name = "unsure"

    def __init__(self, doubt: dict[str, float]) -> None:
        self.templates = TemplateParser()
        self.doubt = doubt

    def parse(self, text: str) -> Parse:
        parse = self.templates.parse(text)
        if text not in self.doubt:
            return parse
        weak = tuple(Command(c.intent, c.slots, self.doubt[text]) for c in parse.commands)
        return Parse(text, weak, self.name)


@pytest.fixture
def bridge() -> FakeBridge:
    return FakeBridge()


def unsure(bridge: FakeBridge, **doubt: float) -> Dialogue:
    texts = {k.replace("_", " "): v for k, v in doubt.items()}
    return Dialogue(UnsureParser(texts), Vehicle(bridge))


def unlocks(bridge: FakeBridge) -> list[dict[str, object]]:
    return [t for t in bridge.sent if t.get(UNLOCKED) == 0]


def test_every_catalog_intent_has_a_risk_class() -> None:
    risks = load_risks()
    assert set(risks.intents) == set(INTENTS)
    assert risks.risk(Command("doors.unlock", {"door": "all"})) == "safety"
    assert risks.risk(Command("media.volume", {"direction": "up"})) == "harmless"
    assert risks.risk(Command("lights.set", {"light": "headlights", "state": "off"})) == "safety"
    assert risks.risk(Command("lights.set", {"light": "headlights", "state": "on"})) == "comfort"
    assert risks.risk(Command("window.close", {}), moving=True) == "safety"
    assert risks.risk(Command("window.close", {}), moving=False) == "comfort"


def test_a_weak_unlock_is_asked_back_and_yes_carries_it_out(bridge: FakeBridge) -> None:
    d = unsure(bridge, unlock_the_doors=0.8)
    turn = d.handle("unlock the doors")
    assert turn.reply == "Do you want me to unlock all doors?"
    assert turn.decisions[0].outcome == ASKED and turn.decisions[0].risk == "safety"
    assert "parse 0.80 < 0.95" in turn.decisions[0].reason
    assert unlocks(bridge) == []
    turn = d.handle("yes")
    assert turn.decisions[0].outcome == ACTED
    assert len(unlocks(bridge)) == 1
    assert turn.actions[0].intent == "doors.unlock" and turn.actions[0].status == "done"


@pytest.mark.parametrize("answer", ["no", "", "turn on the radio", "what's the weather like"])
def test_no_silence_or_anything_else_does_not_unlock(bridge: FakeBridge, answer: str) -> None:
    d = unsure(bridge, unlock_the_doors=0.8)
    assert d.handle("unlock the doors").decisions[0].outcome == ASKED
    d.handle(answer)
    assert unlocks(bridge) == []


@pytest.mark.parametrize("answer", ["no", "turn on the radio"])
def test_after_no_or_another_request_a_late_yes_does_nothing(bridge: FakeBridge, answer: str) -> None:
    d = unsure(bridge, unlock_the_doors=0.8)
    d.handle("unlock the doors")
    d.handle(answer)
    assert d.handle("yes").reply == "There's nothing to confirm."
    assert unlocks(bridge) == []


def test_an_unclear_yes_is_no_yes(bridge: FakeBridge) -> None:
    d = unsure(bridge, unlock_the_doors=0.8, yes=0.7)
    d.handle("unlock the doors")
    turn = d.handle("yes")
    assert turn.decisions[0].outcome == DROPPED
    assert turn.reply == "That wasn't a clear yes, so I left it."
    assert d.pending is None and unlocks(bridge) == []


def test_a_clear_unlock_acts_at_once(bridge: FakeBridge) -> None:
    turn = unsure(bridge).handle("unlock the doors")
    assert turn.decisions[0].outcome == ACTED and len(unlocks(bridge)) == 1


def test_a_weak_harmless_command_is_dropped_with_sorry(bridge: FakeBridge) -> None:
    turn = unsure(bridge, turn_the_volume_up=0.5).handle("turn the volume up")
    assert turn.decisions[0].outcome == DROPPED and turn.decisions[0].risk == "harmless"
    assert turn.reply == "Sorry?" and bridge.sent == []


def with_nbest_bar(bar: float) -> Policy:
    bars = load_bars()
    return Policy(bars={k: replace(b, act={**b.act, "nbest": bar}) for k, b in bars.items()})


def test_weak_speech_evidence_asks_back_a_safety_command(bridge: FakeBridge) -> None:
    d = unsure(bridge)
    d.policy = with_nbest_bar(0.5)
    # the recogniser's n-best disagree: two of three alternatives carry no unlock
    speech = Speech(None, ("turn on the radio", "lock the doors"), "unlock the doors")
    turn = d.handle("unlock the doors", speech)
    assert turn.decisions[0].evidence["nbest"] == pytest.approx(1 / 3)
    assert turn.decisions[0].outcome == ASKED and unlocks(bridge) == []


def test_one_question_at_a_time(bridge: FakeBridge) -> None:
    d = unsure(bridge, unlock_the_doors_and_open_the_trunk=0.8)
    turn = d.handle("unlock the doors and open the trunk")
    assert [x.outcome for x in turn.decisions] == [ASKED, DROPPED]
    d.handle("yes")
    assert len(unlocks(bridge)) == 1 and not any(t.get("Vehicle.Body.Trunk.Rear.IsOpen") for t in bridge.sent)


def test_random_letter_strings_rarely_act_and_never_say_yes() -> None:
    """Typed nonsense with the shipped language model: at most 0.5% acted, none a yes."""
    parser, policy = load_parser("slm"), load_policy()
    acted = yes = 0
    for text in random_strings(3000):
        for c in parser.parse(text).commands:
            if policy.decide(c, policy.evidence(c, text)).outcome == ACTED:
                acted += 1
                yes += c.intent == "assistant.confirm"
                break
    assert acted <= 15 and yes == 0


def test_bad_risk_file_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "risk.yaml"
    path.write_text("intents:\n  doors.unlock: scary\n")
    with pytest.raises(IntentsError, match=rf"{path}:2: risk 'scary' is not one of safety"):
        load_risks(path)
    path.write_text("intents:\n  doors.unlock: safety\n")
    with pytest.raises(IntentsError, match="no risk class for .*window.open"):
        load_risks(path)
    path.write_text("intents: [\n")
    with pytest.raises(IntentsError, match=rf"{path}:2"):
        load_risks(path)


def test_bad_threshold_names_file_and_line(tmp_path: Path) -> None:
    text = (POLICY_DIR / "thresholds.yaml").read_text().replace("parse: 0.95", "parse: 1.5", 1)
    path = tmp_path / "thresholds.yaml"
    path.write_text(text)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "parse: 1.5" in s)
    with pytest.raises(IntentsError, match=rf"{path}:{line}: safety.act.parse must be a number in \[0, 1\]"):
        load_bars(path)


def test_every_asked_intent_has_a_question(bridge: FakeBridge) -> None:
    policy = Policy()
    vehicle = Vehicle(bridge)
    d = Dialogue(TemplateParser(), vehicle)
    for intent, risk in policy.risks.intents.items():
        if risk == "harmless" or intent == "assistant.confirm":
            continue
        assert d.replies.has(f"ask.{intent}"), intent


def test_say_json_carries_the_decision() -> None:
    p = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "say", "--json", "zorblat open the sunroof"],
        capture_output=True, text=True, timeout=120,
    )
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    # (the retrained language model reads plain "br" as nothing at all, so it no longer shows a decision)
    # (the model retrained for issue 10 reads "zorblat the sunroof open flimflam" as nothing at all;
    # one made-up word before a plain request still makes a command to decide on: 3 of 4 words known)
    assert out["frames"] == []
    assert [c["intent"] for c in out["commands"]] == ["sunroof.open"]
    assert out["commands"][0]["decision"]["outcome"] == ASKED
    assert out["commands"][0]["decision"]["evidence"]["words"] == 0.75


def test_words_the_recogniser_spells_out_are_known() -> None:
    from assistant.policy import domain_words, words_known

    vocabulary = domain_words()
    assert words_known("set the temperature to twenty two degrees", vocabulary) == 1.0
    assert words_known("tune to ninety five point three f m", vocabulary) == 1.0
    # a lone letter is no word; spelled in a row it is
    assert words_known("c", vocabulary) == 0.0 and words_known("a c", vocabulary) == 1.0
    assert words_known("what is a caftan", vocabulary) < 1.0


def test_a_question_the_policy_asks_lapses_like_any_other(bridge: FakeBridge) -> None:
    """The policy's question is the vehicle's question: a yes after its time carries out nothing,
    and at the yes the guards are checked on the car as it is then."""
    from tests.vehicle.fakes import FakeClock

    clock = FakeClock()
    d = Dialogue(UnsureParser({"unlock the doors": 0.8}), Vehicle(bridge, clock=clock))
    assert d.handle("unlock the doors").reply == "Do you want me to unlock all doors?"
    clock.advance(9.0)  # past GuardLimits.question_timeout_s
    d.handle("yes")
    assert unlocks(bridge) == []
    assert d.handle("unlock the doors").reply == "Do you want me to unlock all doors?"
    bridge.values["Vehicle.Speed"] = 50.0  # the car pulls away before the yes
    d.handle("yes")
    assert unlocks(bridge) == []


@pytest.mark.parametrize(
    "text",
    ["no need to open the window", "don't open the window", "please don't unlock the doors",
     "never open the sunroof", "do not open the trunk", "no need to undo",
     "stop unlocking the doors", "should i open the trunk", "the kids keep asking me to open the window"],
)
def test_a_request_that_says_not_to_is_never_carried_out_at_once(bridge: FakeBridge, text: str) -> None:
    # the language model reads "no need to open the window" as window.open at 0.99: a negated request
    # moves nothing without a yes (asked back, or not understood)
    dialogue = Dialogue(load_parser("slm"), Vehicle(bridge))
    dialogue.handle("fold the mirrors")  # something to undo
    before = list(bridge.sent)
    turn = dialogue.handle(text)
    assert bridge.sent == before, (text, turn.reply)
    assert all(d.outcome != "acted" for d in turn.decisions if d.risk != "harmless"), turn.decisions


def test_never_mind_undo_that_still_undoes(bridge: FakeBridge) -> None:
    dialogue = Dialogue(load_parser("templates"), Vehicle(bridge))
    dialogue.handle("fold the mirrors")
    turn = dialogue.handle("never mind undo that")
    assert [d.outcome for d in turn.decisions] == ["acted"] and turn.reply == "Undone."


def test_a_number_no_one_could_read_is_asked_back_not_opened_fully(bridge: FakeBridge) -> None:
    """The language model drops "1e9" and reads the rest as a full opening, at 0.999 (hostile review)."""
    from assistant.policy import unreadable_number

    texts = ("open it 1e9 percent", "0x50 percent", "21.5 degrees", "1,000")
    assert [unreadable_number(t) for t in texts] == ["1e9", "0x50", None, None]
    d = Dialogue(load_parser("slm"), Vehicle(bridge))
    turn = d.handle("open the window 1e9 percent")
    assert [c.intent for c in turn.commands] == ["window.open"]
    assert turn.decisions[0].outcome == ASKED
    assert bridge.sent == []
    d.handle("no")
    assert bridge.sent == []
    # with every evidence bar at 0, the unread number alone asks the command back
    zero = {"parse": 0.0, "words": 0.0, "asr": 0.0, "nbest": 0.0}
    trusting = Policy(bars={risk: Bars(act=zero, ask=zero) for risk in load_bars()})
    d = Dialogue(load_parser("slm"), Vehicle(bridge), policy=trusting)
    assert d.handle("open the window 50 percent").decisions[0].outcome == ACTED
    turn = d.handle("open the window 1e9 percent")
    assert turn.decisions[0].outcome == ASKED and "1e9" in turn.decisions[0].reason


def test_a_key_given_twice_in_a_policy_file_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    """Plain YAML keeps the last: a second 'trunk.open: harmless' made the trunk harmless without a word."""
    text = (POLICY_DIR / "risk.yaml").read_text()
    assert "  trunk.open: safety\n" in text
    path = tmp_path / "risk.yaml"
    path.write_text(text.replace("  trunk.open: safety\n", "  trunk.open: safety\n  trunk.open: harmless\n"))
    line = text.splitlines().index("  trunk.open: safety") + 2
    twice = rf"{path}:{line}: 'trunk.open' is given twice \(first on line {line - 1}\)"
    with pytest.raises(IntentsError, match=twice):
        load_risks(path)
    text = (POLICY_DIR / "thresholds.yaml").read_text()
    path = tmp_path / "thresholds.yaml"
    zero = "    act: {parse: 0, words: 0, asr: 0, nbest: 0}\n"
    path.write_text(text.replace("  safety:\n", "  safety:\n" + zero, 1))
    with pytest.raises(IntentsError, match=rf"{path}:\d+: 'act' is given twice"):
        load_bars(path)
