"""Property: no sequence of commands, answers, time and speeds reaches a forbidden vehicle state,
and no reply says more than the car confirmed."""

from __future__ import annotations

import random
from functools import cache
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from assistant.catalog import INTENTS, SlotSpec
from assistant.dialogue import Dialogue
from assistant.nlu.base import Command
from assistant.nlu.templates import TemplateParser
from assistant.vehicle.functions import FUNCTIONS
from assistant.vehicle.guards import GuardLimits
from assistant.vehicle.signals import load_signals
from assistant.vehicle.vehicle import Vehicle
from tests.assistant.vehicle.fakes import FakeBridge, FakeClock, ScriptedParser

LIMITS = GuardLimits()
TRUNK = "Vehicle.Body.Trunk.Rear.IsOpen"
MIRRORS = ("Vehicle.Body.Mirrors.DriverSide.IsFolded", "Vehicle.Body.Mirrors.PassengerSide.IsFolded")
LOCKS = tuple(n for n in load_signals() if n.endswith("IsLocked"))
VEHICLE_INTENTS = sorted(i for i in INTENTS if not i.startswith("assistant."))


def slot_value(spec: SlotSpec) -> st.SearchStrategy[object]:
    if spec.kind == "enum":
        return st.sampled_from(spec.values)
    lo, hi = spec.minimum or 0, min(spec.maximum or 200, 200)
    if spec.kind == "int":
        return st.integers(int(lo), int(hi))
    return st.floats(lo, hi, allow_nan=False).map(lambda v: round(v, 1))


@st.composite
def commands(draw: st.DrawFn) -> Command:
    intent = draw(st.sampled_from(VEHICLE_INTENTS))
    slots = {}
    for spec in INTENTS[intent]:
        if spec.required or draw(st.booleans()):
            slots[spec.name] = draw(slot_value(spec))
    return Command(intent, slots)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 160, allow_nan=False), commands()), min_size=1, max_size=12))
def test_guards_hold_for_any_sequence(steps: list[tuple[float, Command]]) -> None:
    bridge = FakeBridge()
    car = Vehicle(bridge)
    for speed, command in steps:
        bridge.values["Vehicle.Speed"] = speed
        before = bridge.state()
        action = car.execute(command)
        after = bridge.state()
        if speed > LIMITS.walking_speed_kmh:
            assert not (before[TRUNK] == 0 and after[TRUNK] == 1), command
            assert all(before[m] == after[m] for m in MIRRORS), command
        if speed > LIMITS.unlock_max_speed_kmh:
            assert not any(before[lock] == 1 and after[lock] == 0 for lock in LOCKS), command
        for name, value in after.items():
            spec = load_signals()[name]
            if spec.kind in ("int", "number"):
                assert spec.in_range(float(value)), (name, value, command)
        assert action.reply


# -- the dialogue: requests, undo, yes/no, cancel, repeat, time and speed in any order ------------

LOW_BEAM = "Vehicle.Body.Lights.Beam.Low.IsOn"
SPEED = "Vehicle.Speed"
REQUESTS = [
    "open the trunk",
    "close the trunk",
    "unlock the doors",
    "unlock the driver door",
    "lock the doors",
    "fold the mirrors",
    "unfold the mirrors",
    "turn off the headlights",
    "turn on the headlights",
    "turn the ac on and off",
    "open the windows",
    "close the windows",
    "open the window and close the window",
    "turn off the headlights and turn on the fog lights",
    "set the volume to 20",
    "are the doors locked",
    "what a nice day",
]
ANSWERS = ["undo", "yes", "yeah", "no", "d", "i", "cancel", "stop", "repeat that", ""]
STRAY_YES = {w: (Command("assistant.confirm"),) for w in ("d", "i")}  # as the shipped SLM reads them
SCRIPTED = "<scripted>"
CLEAR_YES = {"yes", "yeah"}  # of the words above, those that say yes


@cache
def template_parser() -> TemplateParser:
    return TemplateParser()


steps = st.one_of(
    st.tuples(st.just("say"), st.sampled_from(REQUESTS + ANSWERS)),
    # the words of the known holes, drawn more often: a question, a stray or late yes, an undo
    st.tuples(
        st.just("say"),
        st.sampled_from(["yes", "d", "undo", "turn off the headlights", "turn on the headlights"]),
    ),
    st.tuples(st.just("commands"), st.lists(commands(), min_size=1, max_size=3)),
    st.tuples(st.just("wait"), st.sampled_from([0.5, 3.0, 7.9, 8.5, 30.0])),
    st.tuples(st.just("speed"), st.sampled_from([0.0, 5.0, 8.0, 30.0, 120.0])),
    st.tuples(st.just("fault"), st.sampled_from(["none", "partial 0", "partial 2", "partial 3", "silent"])),
)
DRIVE = ("speed", 50.0)


def say(text: str) -> tuple[str, str]:
    return ("say", text)


@settings(max_examples=300, deadline=None)
# the sequences, then the random search
@example(0.0, [say("turn off the headlights"), say("turn on the headlights"), DRIVE, say("undo")], None)
@example(50.0, [say("turn off the headlights"), say("what a nice day"), say("yes")], None)
@example(50.0, [say("turn off the headlights"), say("d")], None)
@example(50.0, [say("turn off the headlights"), ("wait", 30.0), say("yes")], None)
@example(0.0, [say("unlock the doors"), ("fault", "partial 2"), say("lock the doors"), say("undo")], None)
@example(0.0, [say("turn the ac on and off")], None)
@given(
    st.sampled_from([0.0, 30.0, 120.0]),
    st.lists(steps, min_size=1, max_size=14),
    st.randoms(use_true_random=False),
)
def test_dialogue_never_acts_unsafely_or_says_what_the_car_did_not(
    speed0: float, script: list[tuple[str, Any]], rng: random.Random | None
) -> None:
    bridge, clock = FakeBridge({SPEED: speed0, LOW_BEAM: 1}), FakeClock()
    parser = ScriptedParser(template_parser(), STRAY_YES)
    car = Vehicle(bridge, LIMITS, clock=clock)
    dialogue = Dialogue(parser, car)
    prompt = car.replies.say("dialogue.confirm_headlights_off")
    asked_at: float | None = None  # when the turn just before asked its question
    for kind, arg in script:
        if kind == "wait":
            clock.advance(arg)
            continue
        if kind == "speed":
            bridge.values[SPEED] = arg
            continue
        if kind == "fault":
            bridge.fail_send_after, bridge.silent = None, set()
            if arg.startswith("partial"):
                bridge.fail_send_after = int(arg.split()[1])  # 0: nothing goes out
            elif arg == "silent":
                bridge.silent = set((rng or random.Random(0)).sample(sorted(bridge.values), 8))
            continue
        text = arg
        if kind == "commands":
            parser.script[SCRIPTED] = tuple(arg)
            text = SCRIPTED
        before = bridge.state()
        turn = dialogue.handle(text).settled(5)
        after = bridge.state()
        speed = float(before[SPEED])
        context = (text, turn.reply, [a.status for a in turn.actions])

        # nothing unsafe while moving, whatever the path (request, undo, yes)
        if speed > LIMITS.walking_speed_kmh:
            assert not (before[TRUNK] == 0 and after[TRUNK] == 1), context
            assert all(before[m] == after[m] for m in MIRRORS), context
        if speed > LIMITS.unlock_max_speed_kmh:
            assert not any(before[lock] == 1 and after[lock] == 0 for lock in LOCKS), context
        # headlights off while moving only on a clear yes to the question of the turn just before
        if speed > LIMITS.walking_speed_kmh and before[LOW_BEAM] == 1 and after[LOW_BEAM] == 0:
            assert text in CLEAR_YES, context
            assert asked_at is not None and clock() - asked_at <= LIMITS.question_timeout_s, context

        # the replies say what the car confirmed, no more
        assert turn.reply, context
        # one request never sets one function two ways ("the AC on and off"): neither is done
        wants: dict[str, set[object]] = {}
        for command in turn.commands:
            if car.handles(command.intent):
                for name, target in car.plan(command, before).targets.items():
                    wants.setdefault(FUNCTIONS[name].signal, set()).add(target)
        torn = {sig for sig, targets in wants.items() if len(targets) > 1}
        for action in turn.actions:
            if not action.intent.startswith("assistant."):
                assert not torn & set(action.confirmed), context
        confirmed: dict[str, object] = {}
        for action in turn.actions:
            if action.status in ("refused", "confirm", "answered", "expired"):
                assert not action.confirmed, context
            if action.status == "done":
                assert set(action.confirmed) == set(action.targets), context
            if action.unsent:
                assert "couldn't send" in action.reply, context
            if action.timed_out:
                assert "didn't confirm" in action.reply, context
            if action.status == "failed" and not action.confirmed:
                assert not action.previous, context
            confirmed.update(action.confirmed)
        changed = {sig for sig in after if after[sig] != before[sig]}
        assert changed <= set(confirmed), context
        assert all(after[sig] == value for sig, value in confirmed.items()), context
        # a question is said once: by the turn that asks it (or a "repeat that")
        asks = any(a.status == "confirm" for a in turn.actions)
        if prompt in turn.reply and text != "repeat that":
            assert asks, context
        if text != "repeat that":
            asked_at = clock() if asks else None
