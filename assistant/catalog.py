"""The command catalog of ``shared/spec/commands.md`` as data.

Intent and slot names and value sets here are the public contract; every
parser engine's output is checked against them (``validate``), so no engine
can emit a command the vehicle layer does not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SlotValue = str | int | float


@dataclass(frozen=True)
class SlotSpec:
    """What one slot of one intent may carry."""

    name: str
    kind: str  # "enum", "int" or "number"
    values: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    required: bool = False
    decimals: int | None = None  # digits after the point a number may carry (FM: 0.1 MHz steps)

    def accepts(self, value: object) -> bool:
        return self.why_not(value) is None

    def why_not(self, value: object) -> str | None:
        """Why ``value`` does not fit: "kind", "whole", "decimals", "below" or "above"; None if it does."""
        if self.kind == "enum":
            return None if isinstance(value, str) and value in self.values else "kind"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            return "kind"
        if self.minimum is not None and value < self.minimum:
            return "below"
        if self.maximum is not None and value > self.maximum:
            return "above"
        if self.kind == "int" and not float(value).is_integer():
            return "whole"
        if self.decimals is not None:
            scaled = float(value) * 10**self.decimals
            if abs(scaled - round(scaled)) > 1e-6:
                return "decimals"
        return None


def _enum(name: str, *values: str, required: bool = False) -> SlotSpec:
    return SlotSpec(name, "enum", tuple(values), required=required)


WINDOW = _enum("window", "driver", "passenger", "rear_left", "rear_right", "front", "rear", "all")
SEAT = _enum("seat", "driver", "passenger", "rear_left", "rear_right")
DOOR = _enum("door", "all", "driver", "passenger", "rear_left", "rear_right")
ZONE = _enum("zone", "driver", "passenger", "all")
AMOUNT = SlotSpec("amount", "int", minimum=1, maximum=100)
DIRECTION = _enum("direction", "up", "down")
STATE = _enum("state", "on", "off", required=True)

# Values the parser may emit; the vehicle layer clamps to what the car allows
# and says so. Ranges here only reject nonsense (negative volume, 5-digit fan):
# a number said outside them is refused by the parser with the reason said
# (``nlu.base.Refusal``), never dropped into the slot's default. A percentage
# above 100 or below 1 is nonsense, not an overshoot: the window range is the
# car's, so clamping 250 would pick a travel nobody asked for.
INTENTS: dict[str, tuple[SlotSpec, ...]] = {
    "window.open": (WINDOW, AMOUNT),
    "window.close": (WINDOW,),
    "sunroof.open": (AMOUNT,),
    "sunroof.close": (),
    "climate.set_temperature": (
        SlotSpec("value", "number", minimum=-100, maximum=200, required=True),
        _enum("unit", "celsius", "fahrenheit"),
        ZONE,
    ),
    "climate.adjust_temperature": (
        _enum("direction", "up", "down", required=True),
        SlotSpec("amount", "number", minimum=0, maximum=100),
        ZONE,
    ),
    "climate.set_fan": (SlotSpec("level", "int", minimum=0, maximum=100), DIRECTION),
    "climate.ac": (STATE,),
    "climate.defrost": (_enum("target", "front", "rear"), STATE),
    "climate.recirculation": (STATE,),
    "seat.heat": (SEAT, SlotSpec("level", "int", minimum=0, maximum=100)),
    "lights.set": (
        _enum("light", "headlights", "high_beams", "fog_lights", "interior", "hazards", required=True),
        STATE,
    ),
    "doors.lock": (DOOR,),
    "doors.unlock": (DOOR,),
    "trunk.open": (),
    "trunk.close": (),
    "wipers.set": (_enum("mode", "off", "intermittent", "low", "high", "auto", required=True),),
    "mirrors.fold": (),
    "mirrors.unfold": (),
    "media.volume": (SlotSpec("level", "int", minimum=0, maximum=1000), DIRECTION),
    "media.mute": (),
    "media.unmute": (),
    "media.control": (_enum("action", "play", "pause", "next", "previous", required=True),),
    "media.source": (_enum("source", "radio", "bluetooth", "usb", required=True),),
    "radio.tune": (
        SlotSpec("frequency", "number", minimum=0, maximum=100000, decimals=1),
        _enum("band", "fm", "am"),
    ),
    "vehicle.query": (
        _enum(
            "subject",
            "windows",
            "doors",
            "trunk",
            "sunroof",
            "climate",
            "lights",
            "wipers",
            "seat_heating",
            "media",
            required=True,
        ),
    ),
    "assistant.cancel": (),
    "assistant.confirm": (),
    "assistant.deny": (),
    "assistant.undo": (),
    "assistant.help": (),
    "assistant.repeat": (),
    "assistant.why": (),
}

SLOT_SPECS: dict[str, dict[str, SlotSpec]] = {
    intent: {s.name: s for s in specs} for intent, specs in INTENTS.items()
}


def problems(intent: str, slots: Mapping[str, object]) -> list[str]:
    """Every way ``intent`` + ``slots`` breaks the catalog; empty when valid."""
    specs = SLOT_SPECS.get(intent)
    if specs is None:
        return [f"unknown intent {intent!r}"]
    out = []
    for name, value in slots.items():
        spec = specs.get(name)
        if spec is None:
            out.append(f"{intent} has no slot {name!r}")
        elif not spec.accepts(value):
            out.append(f"{intent}: {name}={value!r} is not a catalog value")
    for spec in specs.values():
        if spec.required and spec.name not in slots:
            out.append(f"{intent}: required slot {spec.name!r} missing")
    return out


def is_valid(intent: str, slots: Mapping[str, object]) -> bool:
    return not problems(intent, slots)
