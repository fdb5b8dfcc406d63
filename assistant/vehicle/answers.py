"""Answers: what the car reports, said back ("All windows are closed.") for queries and status.

Only the status frames speak here: a value the car has not confirmed lately is
said with its age, and one it never reported is not guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from assistant.vehicle.functions import FUNCTIONS, SIDE_LABEL, SIDES
from assistant.vehicle.replies import Replies
from assistant.vehicle.signals import Value

SEAT_LEVEL_TEXT = {0: "off", 1: "low", 2: "medium", 3: "high"}
WIPER_TEXT = {
    "off": "off",
    "intermittent": "on intermittent",
    "low": "on low",
    "high": "on high",
    "auto": "on automatic",
}
LIGHT_TEXT = {
    "headlights": "headlights",
    "high_beams": "high beams",
    "fog_lights": "fog lights",
    "interior": "interior light",
    "hazards": "hazard lights",
}
SOURCE_TEXT = {"radio": "the radio", "bluetooth": "Bluetooth audio", "usb": "USB"}
QUERY_SIGNALS: dict[str, tuple[str, ...]] = {
    "windows": tuple(f"window.{s}" for s in SIDES),
    "doors": tuple(f"lock.{s}" for s in SIDES),
    "trunk": ("trunk",),
    "sunroof": ("sunroof",),
    "climate": ("temp.driver", "temp.passenger", "fan", "ac"),
    "lights": tuple(k for k in FUNCTIONS if k.startswith("light.")),
    "wipers": ("wipers",),
    "seat_heating": tuple(f"seat_heat.{s}" for s in SIDES),
    "media": ("source", "band", "frequency", "mute", "playback", "volume"),
}
"""The functions each query's answer is built from."""


def fmt(value: float) -> str:
    """A number as said: 21 not 21.0, 21.5 as it is."""
    return f"{value:g}"


def _on_off(flag: Value) -> str:
    return "on" if flag else "off"


class Answers:
    """Queries answered from the car's reported values."""

    def __init__(self, replies: Replies, reported: Callable[[], Mapping[str, Any]]) -> None:
        self.replies = replies
        self.reported = reported
        """Signal -> its last report with ``value`` and ``age_s`` (the bridge's ``reported()``)."""

    def query(self, subject: str, state: Mapping[str, Value]) -> str:
        """The answer from current values; from older ones said with their age; else that none came."""
        needed = [FUNCTIONS[f].signal for f in QUERY_SIGNALS.get(subject, ())]
        missing = [sig for sig in needed if sig not in state]
        if not missing:
            return self.answer(subject, state)
        reported = self.reported()
        if any(sig not in reported for sig in missing):
            return self.replies.say("query.unknown")
        age = max(float(reported[sig].age_s) for sig in missing)
        text = self.answer(subject, {**state, **{sig: reported[sig].value for sig in missing}})
        return self.replies.say("query.stale", ago=self._ago(age), answer=text[:1].lower() + text[1:])

    def _ago(self, age_s: float) -> str:
        if age_s < 2:
            return self.replies.say("query.age_moment").lower()
        if age_s < 90:
            return self.replies.say("query.age_seconds", n=int(age_s)).lower()
        if age_s < 90 * 60:
            minutes = round(age_s / 60)
            key = "query.age_minutes" if minutes > 1 else "query.age_minute"
            return self.replies.say(key, n=minutes).lower()
        return self.replies.say("query.age_hours", n=round(age_s / 3600)).lower()

    def answer(self, subject: str, state: Mapping[str, Value]) -> str:
        def get(fn: str) -> Value | None:
            return state.get(FUNCTIONS[fn].signal)

        if subject == "windows":
            opened = [(s, get(f"window.{s}")) for s in SIDES if get(f"window.{s}")]
            if not opened:
                return "All windows are closed."
            return "Open: " + ", ".join(f"the {SIDE_LABEL[s]} window {v} percent" for s, v in opened) + "."
        if subject == "doors":
            unlocked = [s for s in SIDES if get(f"lock.{s}") == 0]
            if not unlocked:
                return "All doors are locked."
            if len(unlocked) == len(SIDES):
                return "The car is unlocked."
            return "Unlocked: " + ", ".join(f"the {SIDE_LABEL[s]} door" for s in unlocked) + "."
        if subject == "trunk":
            return "The trunk is open." if get("trunk") else "The trunk is closed."
        if subject == "sunroof":
            pos = get("sunroof")
            return f"The sunroof is {pos} percent open." if pos else "The sunroof is closed."
        if subject == "climate":
            fan = get("fan")
            return (
                f"Driver side {fmt(float(get('temp.driver') or 0))} degrees, passenger side "
                f"{fmt(float(get('temp.passenger') or 0))} degrees, fan {f'level {fan}' if fan else 'off'}, "
                f"air conditioning {_on_off(get('ac') or 0)}."
            )
        if subject == "lights":
            on = [LIGHT_TEXT[k.split(".")[1]] for k in FUNCTIONS if k.startswith("light.") and get(k)]
            return "On: " + ", ".join(on) + "." if on else "All lights are off."
        if subject == "wipers":
            return f"The wipers are {WIPER_TEXT.get(str(get('wipers')), 'off')}."
        if subject == "seat_heating":
            heated = [(s, get(f"seat_heat.{s}")) for s in SIDES if get(f"seat_heat.{s}")]
            if not heated:
                return "Seat heating is off."
            return (
                "Seat heating: "
                + ", ".join(f"{SIDE_LABEL[s]} {SEAT_LEVEL_TEXT[int(v or 0)]}" for s, v in heated)
                + "."
            )
        if subject == "media":
            source = str(get("source") or "radio")
            where = SOURCE_TEXT.get(source, source)
            if source == "radio":
                band, khz = str(get("band") or "fm"), float(get("frequency") or 0)
                where += f", {band.upper()} {fmt(khz / 1000) if band == 'fm' else fmt(khz)}"
            muted = ", muted" if get("mute") else ""
            playing = str(get("playback") or "paused").capitalize()
            return f"{playing} from {where}, volume {get('volume')}{muted}."
        return "I don't know about that."
