"""Answers: what the car reports, said back ("All windows are closed.") for queries and status.

Only the status frames speak here: a value the car has not confirmed lately is
said with its age, and one it never reported is not guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from assistant.vehicle.functions import FUNCTIONS, SIDE_LABEL, SIDES
from assistant.vehicle.replies import Replies
from assistant.vehicle.signals import Value

if TYPE_CHECKING:
    from assistant.vehicle.actuation import Reading

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


class Answers:
    """Queries answered from the car's reported values."""

    def __init__(self, replies: Replies, reported: Callable[[], Mapping[str, Reading]]) -> None:
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

    def word(self, group: str, value: Value) -> str:
        """A slot or signal value as said ("auto" -> "on automatic"): ``words.<group>.<value>``."""
        return self.replies.words(f"words.{group}.{value}")

    def answer(self, subject: str, state: Mapping[str, Value]) -> str:
        """What the car reports about ``subject``, said in the words of replies.yaml's ``answer``."""

        def get(fn: str) -> Value | None:
            return state.get(FUNCTIONS[fn].signal)

        say, words = self.replies.say, self.replies.words
        if subject == "windows":
            opened = [(s, get(f"window.{s}")) for s in SIDES if get(f"window.{s}")]
            if not opened:
                return say("answer.windows_closed")
            items = (words("answer.window_item", side=SIDE_LABEL[s], percent=v) for s, v in opened)
            return say("answer.windows_open", list=", ".join(items))
        if subject == "doors":
            unlocked = [s for s in SIDES if get(f"lock.{s}") == 0]
            if not unlocked:
                return say("answer.doors_locked")
            if len(unlocked) == len(SIDES):
                return say("answer.doors_unlocked")
            items = (words("answer.door_item", side=SIDE_LABEL[s]) for s in unlocked)
            return say("answer.doors_some_unlocked", list=", ".join(items))
        if subject == "trunk":
            return say("answer.trunk_open") if get("trunk") else say("answer.trunk_closed")
        if subject == "sunroof":
            pos = get("sunroof")
            return say("answer.sunroof_open", percent=pos) if pos else say("answer.sunroof_closed")
        if subject == "climate":
            return say(
                "answer.climate",
                driver=fmt(float(get("temp.driver") or 0)),
                passenger=fmt(float(get("temp.passenger") or 0)),
                fan_text=self.fan_text(get("fan") or 0),
                ac=words("answer.on") if get("ac") else words("answer.off"),
            )
        if subject == "lights":
            on = [self.word("light", k.split(".")[1]) for k in FUNCTIONS if k.startswith("light.") and get(k)]
            return say("answer.lights_on", list=", ".join(on)) if on else say("answer.lights_off")
        if subject == "wipers":
            mode = str(get("wipers"))
            known = self.replies.has(f"words.wipers.{mode}")
            return say("answer.wipers", mode_text=self.word("wipers", mode if known else "off"))
        if subject == "seat_heating":
            heated = [(s, get(f"seat_heat.{s}")) for s in SIDES if get(f"seat_heat.{s}")]
            if not heated:
                return say("answer.seat_heating_off")
            items = (
                words("answer.seat_item", side=SIDE_LABEL[s], level_text=self.word("seat_level", int(v or 0)))
                for s, v in heated
            )
            return say("answer.seat_heating", list=", ".join(items))
        if subject == "media":
            source = str(get("source") or "radio")
            known = self.replies.has(f"words.source.{source}")
            fields: dict[str, Any] = {
                "playback": str(get("playback") or "paused"),
                "source_text": self.word("source", source) if known else source,
                "volume": get("volume"),
                "muted": words("answer.muted") if get("mute") else "",
            }
            if source != "radio":
                return say("answer.media", **fields)
            band, khz = str(get("band") or "fm"), float(get("frequency") or 0)
            station = f"{band.upper()} {fmt(khz / 1000) if band == 'fm' else fmt(khz)}"
            return say("answer.media_radio", station=station, **fields)
        return say("answer.unknown_subject")

    def fan_text(self, level: Value) -> str:
        """The fan as said: "off" or "level 3"."""
        if not level:
            return self.replies.words("answer.fan_off")
        return self.replies.words("answer.fan_level", level=level)
