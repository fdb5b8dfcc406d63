"""Property: no sequence of commands and speeds reaches a forbidden vehicle state."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.catalog import INTENTS, SlotSpec
from assistant.nlu.base import Command
from assistant.vehicle.guards import GuardLimits
from assistant.vehicle.signals import load_signals
from assistant.vehicle.vehicle import Vehicle
from tests.vehicle.fakes import FakeBridge

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
