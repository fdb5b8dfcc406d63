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
from assistant.vehicle.vehicle import Vehicle
from tests.assistant.vehicle.fakes import FakeBridge
from workbench.training.calibrate_policy import random_strings

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
    from tests.assistant.vehicle.fakes import FakeClock

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


def test_speech_the_templates_do_not_read_as_that_command_is_not_acted_on(bridge: FakeBridge) -> None:
    """'cheers mate' heard as 'mirrors make': the language model reads a fold at 0.99, the templates
    read nothing; 'sandwich' heard as 'fan which' set the fan (issue 10, out-of-domain speech)."""
    policy = load_policy()
    fold = Command("mirrors.fold", {}, 0.99)
    heard = Speech(0.12, (), "mirrors make")
    assert policy.evidence(fold, "mirrors make", heard)["templates"] == 0.0
    assert policy.evidence(fold, "fold the mirrors", Speech(0.12, (), "fold the mirrors"))["templates"] == 1.0
    assert "templates" not in policy.evidence(fold, "mirrors make")  # typed text: the text bars alone
    for text, outcome in (("mirrors make", ASKED), ("fan which", ASKED), ("fold the mirrors", ACTED)):
        d = Dialogue(load_parser("slm"), Vehicle(bridge))
        bridge.sent.clear()
        turn = d.handle(text, Speech(0.12, (), text))
        assert [x.outcome for x in turn.decisions] == [outcome], (text, turn.decisions)
        assert bool(bridge.sent) == (outcome == ACTED), text
        if outcome == ASKED:
            assert "templates 0.00 < 0.90" in turn.decisions[0].reason


def test_a_spoken_follow_up_counts_as_read_by_the_templates(bridge: FakeBridge) -> None:
    # a comfort function: the follow-up is as exact as a template match, and acts
    d = Dialogue(load_parser("slm"), Vehicle(bridge))
    d.handle("turn on the driver seat heating", Speech(0.3, (), "turn on the driver seat heating"))
    turn = d.handle("and the passenger side too", Speech(0.3, (), "and the passenger side too"))
    assert [c.intent for c in turn.commands] == ["seat.heat"]
    assert turn.decisions[0].evidence["templates"] == 1.0 and turn.decisions[0].outcome == ACTED
    # a safety function (a window opening): asked back, since the phrase may have been chatter
    d = Dialogue(load_parser("slm"), Vehicle(bridge))
    d.handle("open the driver window", Speech(0.3, (), "open the driver window"))
    turn = d.handle("and the passenger side too", Speech(0.3, (), "and the passenger side too"))
    assert [c.intent for c in turn.commands] == ["window.open"]
    assert turn.decisions[0].evidence["templates"] == 0.0 and turn.decisions[0].outcome == ASKED


def test_a_follow_up_asked_back_stays_the_referent_and_its_follow_ups_are_asked_too(
    bridge: FakeBridge,
) -> None:
    """'open the driver window', 'the other one' (asked back), 'and the rear ones too': the third turn
    means the windows, and is asked back in turn; nothing opened but the first window."""
    d = Dialogue(load_parser("slm"), Vehicle(bridge))
    d.handle("open the driver window", Speech(0.3, (), "open the driver window"))
    other = d.handle("the other one", Speech(0.3, (), "the other one"))
    assert [(c.intent, dict(c.slots)) for c in other.commands] == [("window.open", {"window": "passenger"})]
    assert other.decisions[0].outcome == ASKED and other.decisions[0].short == ("templates",)
    rear = d.handle("and the rear ones too", Speech(0.3, (), "and the rear ones too"))
    assert [(c.intent, dict(c.slots)) for c in rear.commands] == [("window.open", {"window": "rear"})]
    assert rear.decisions[0].outcome == ASKED
    # one actuation: the driver window; none for the passenger side or the rear
    assert len(bridge.sent) == 1 and all("DriverSide" in name for name in bridge.sent[0])


@pytest.mark.parametrize(
    "then", ["too much", "a bit less", "close it", "not that one, the rear", "do that again"]
)
def test_nothing_but_another_place_resolves_against_a_follow_up_not_carried_out(then: str) -> None:
    """'the other one' asked back, never answered: 'too much' would close the passenger window (a
    comfort command, acted) on a phrase alone; it refers to nothing done, so it means nothing."""
    passenger = "Vehicle.Cabin.Door.Row1.PassengerSide.Window.Position"
    bridge = FakeBridge(values={passenger: 50})
    d = Dialogue(load_parser("slm"), Vehicle(bridge))
    d.handle("open the driver window 20 percent", Speech(0.3, (), "open the driver window 20 percent"))
    assert d.handle("the other one", Speech(0.3, (), "the other one")).decisions[0].outcome == ASKED
    turn = d.handle(then, Speech(0.3, (), then))
    assert all(dec.outcome != ACTED or c.intent.startswith("assistant.") and c.intent != "assistant.undo"
               for c, dec in zip(turn.commands, turn.decisions, strict=True)), turn.commands
    assert bridge.values[passenger] == 50 and len(bridge.sent) == 1


def test_a_yes_to_a_follow_up_makes_it_the_change_not_that_one_undoes(bridge: FakeBridge) -> None:
    d = Dialogue(load_parser("slm"), Vehicle(bridge))
    d.handle("open the driver window", Speech(0.3, (), "open the driver window"))
    d.handle("the other one", Speech(0.3, (), "the other one"))
    d.handle("yes", Speech(0.3, (), "yes"))
    turn = d.handle("not that one, the rear", Speech(0.3, (), "not that one, the rear"))
    assert [c.intent for c in turn.commands][:1] == ["assistant.undo"]
    assert turn.decisions[0].outcome == ASKED  # an undo moves the car: asked back, from a phrase


def test_a_follow_up_of_what_is_a_safety_function_only_while_driving_is_asked_back(
    bridge: FakeBridge,
) -> None:
    # closing a window is comfort parked, safety at 60 km/h: "and the passenger's too" is asked back then
    bridge.values["Vehicle.Speed"] = 60.0
    bridge.values["Vehicle.Cabin.Door.Row1.DriverSide.Window.Position"] = 50
    bridge.values["Vehicle.Cabin.Door.Row1.PassengerSide.Window.Position"] = 50
    d = Dialogue(load_parser("slm"), Vehicle(bridge))
    first = d.handle("close the driver window", Speech(0.3, (), "close the driver window"))
    assert first.decisions[0].outcome == ACTED and first.decisions[0].risk == "safety"
    turn = d.handle("and the passenger's too", Speech(0.3, (), "and the passenger's too"))
    assert [(c.intent, dict(c.slots)) for c in turn.commands] == [("window.close", {"window": "passenger"})]
    assert turn.decisions[0].outcome == ASKED
    assert bridge.values["Vehicle.Cabin.Door.Row1.PassengerSide.Window.Position"] == 50


def test_a_follow_up_of_an_unanswered_question_is_asked_back_even_once_it_is_no_safety_function(
    bridge: FakeBridge,
) -> None:
    """At 60 km/h 'and the passenger's too' (a window closing) is asked back; the car stops; 'and the
    rear too' of that unanswered question is a comfort function now, and still asked back."""
    bridge.values["Vehicle.Speed"] = 60.0
    for side in ("Row1.DriverSide", "Row1.PassengerSide", "Row2.DriverSide", "Row2.PassengerSide"):
        bridge.values[f"Vehicle.Cabin.Door.{side}.Window.Position"] = 50
    d = Dialogue(load_parser("slm"), Vehicle(bridge))
    d.handle("close the driver window", Speech(0.3, (), "close the driver window"))
    asked = d.handle("and the passenger's too", Speech(0.3, (), "and the passenger's too"))
    assert asked.decisions[0].outcome == ASKED
    bridge.values["Vehicle.Speed"] = 0.0
    turn = d.handle("and the rear too", Speech(0.3, (), "and the rear too"))
    assert [(c.intent, dict(c.slots)) for c in turn.commands] == [("window.close", {"window": "rear"})]
    assert turn.decisions[0].outcome == ASKED and turn.decisions[0].risk == "comfort"
    assert bridge.values["Vehicle.Cabin.Door.Row2.DriverSide.Window.Position"] == 50


def test_no_the_rear_ones_redirects_an_unanswered_follow_up_asked_back(bridge: FakeBridge) -> None:
    d = Dialogue(load_parser("slm"), Vehicle(bridge))
    d.handle("open the driver window", Speech(0.3, (), "open the driver window"))
    d.handle("the other one", Speech(0.3, (), "the other one"))
    turn = d.handle("no, the rear ones", Speech(0.3, (), "no, the rear ones"))
    assert [(c.intent, dict(c.slots)) for c in turn.commands] == [("window.open", {"window": "rear"})]
    assert turn.decisions[0].outcome == ASKED and len(bridge.sent) == 1  # no undo: nothing was done


def test_a_command_asked_back_for_weak_evidence_is_no_referent(bridge: FakeBridge) -> None:
    """A window heard with a posterior under the bar is asked back; 'do that again' then has nothing
    to repeat, so it cannot carry the window out with no yes."""
    d = Dialogue(load_parser("slm"), Vehicle(bridge))
    weak = d.handle("open the driver window", Speech(0.00001, (), "open the driver window"))
    assert weak.decisions[0].outcome == ASKED and "asr" in weak.decisions[0].short
    d.handle("no", Speech(0.3, (), "no"))
    again = d.handle("do that again", Speech(0.3, (), "do that again"))
    assert not [c for c in again.commands if c.intent == "window.open"]


def test_words_the_templates_leave_unread_are_no_agreement() -> None:
    """'keep an open mind about it' heard as 'heat then open mind about it': the templates read 'heat' and
    dropped the rest, the language model acted on more heat at 0.99 (10 dB, piper joe)."""
    policy = load_policy()
    heat = Command("climate.adjust_temperature", {"direction": "up"}, 0.99)
    heard = "heat then open mind about it"
    assert [c.intent for c in policy.templates.parse(heard).commands] == [heat.intent]
    assert policy.template_agreement(heat, heard) == 0.0
    # what joins two requests, skip words and numbers are no unread words
    both = "turn on the headlights and the wipers please"
    lights = Command("lights.set", {"light": "headlights", "state": "on"})
    assert policy.template_agreement(lights, both) == 1.0
    assert policy.template_agreement(Command("climate.set_fan", {"level": 3}), "set the fan to three") == 1.0


def test_a_safety_command_the_recogniser_hardly_believes_is_not_acted_on(bridge: FakeBridge) -> None:
    """'the high beam of the lighthouse' (espeak-ng, 10 dB) heard 'the highbeam and the lights off' at a
    posterior of 0.000008: the templates read 'the lights off' whole, and the headlights went off."""
    d = Dialogue(load_parser("slm"), Vehicle(bridge))
    text = "the highbeam and the lights off"
    turn = d.handle(text, Speech(0.000008, (), text))
    pairs = zip(turn.commands, turn.decisions, strict=True)
    off = [(c, x) for c, x in pairs if c.slots.get("state") == "off"]
    assert off and off[0][1].evidence["templates"] == 1.0
    # asked back, or dropped as the second question of the turn (the high beams are asked first)
    assert off[0][1].outcome in (ASKED, DROPPED) and "asr 0.00 < 0.00" in off[0][1].reason
    assert not any(t.get("Vehicle.Body.Lights.Beam.Low.IsOn") == 0 for t in bridge.sent)
    # heard as plainly as a request is, it is carried out
    assert Dialogue(load_parser("slm"), Vehicle(bridge)).handle(
        "turn off the headlights", Speech(0.04, (), "turn off the headlights")
    ).decisions[0].outcome == ACTED


@pytest.mark.parametrize(
    ("first", "follow_up", "intent"),
    [
        ("close the windows", "unlock it", "doors.unlock"),
        ("turn on the fog lights", "unlock them", "doors.unlock"),
    ],
)
def test_a_spoken_follow_up_phrase_never_does_a_safety_command_unasked(
    first: str, follow_up: str, intent: str
) -> None:
    # hostile review: heard in the follow-up window, "unlock it" counts as a follow-up phrase, and the
    # language model reads it alone as doors.unlock, nothing like the last request (the windows); the
    # templates cannot vouch for it, so it is asked ("and the passenger side too" after a window still
    # acts: tests/assistant/test_follow_up.py)
    bridge = FakeBridge()
    dialogue = Dialogue(load_parser("slm"), Vehicle(bridge))
    dialogue.handle(first, Speech(confidence=0.5, heard=first))
    sent = len(bridge.sent)
    turn = dialogue.handle(follow_up, Speech(confidence=0.5, heard=follow_up))
    assert [c.intent for c in turn.commands] == [intent]
    assert [d.outcome for d in turn.decisions] == ["asked"], turn.reply
    assert len(bridge.sent) == sent
