"""Planning: one catalog command and the car's state -> a ``Request`` (targets, reply fields).

A planner decides what a command asks of the car (which functions, which
targets, clamped to what the signal allows); it moves nothing. The guards,
asks and the bridge come after, in ``Vehicle.apply``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from assistant.nlu.base import Command
from assistant.vehicle.answers import Answers, fmt
from assistant.vehicle.functions import (
    DOOR_GROUP_LABEL,
    FUNCTIONS,
    SIDE_LABEL,
    SIDES,
    WINDOW_GROUP_LABEL,
    WINDOW_GROUPS,
)
from assistant.vehicle.replies import Replies
from assistant.vehicle.signals import SignalSpec, Value


@dataclass(frozen=True)
class Request:
    """What one command asks of the car, before the guards."""

    targets: dict[str, Value] = field(default_factory=dict)  # function name -> target
    fields: dict[str, Any] = field(default_factory=dict)  # for the reply template
    notes: tuple[str, ...] = ()  # spoken after the reply (clamping)
    refusal: str | None = None
    answer: str | None = None  # a reply that needs no actuation (queries)


TEMP_STEP_C = 1.0
FAN_ON_LEVEL = 3
SEAT_ON_LEVEL = 2
VOLUME_STEP = 3
FM_MHZ = (87.5, 108.0)
AM_KHZ = (530, 1710)

Slots = Mapping[str, Any]
State = dict[str, Value]


class Planner:
    """The planner table: intent -> the function that turns its slots and the state into a request."""

    def __init__(self, signals: Mapping[str, SignalSpec], replies: Replies, answers: Answers) -> None:
        self.signals = signals
        self.replies = replies
        self.answers = answers
        self._planners: dict[str, Callable[[Slots, State], Request]] = {
            "window.open": self._window_open,
            "window.close": self._window_close,
            "sunroof.open": self._sunroof_open,
            "sunroof.close": lambda s, st: Request({"sunroof": 0}),
            "climate.set_temperature": self._set_temperature,
            "climate.adjust_temperature": self._adjust_temperature,
            "climate.set_fan": self._set_fan,
            "climate.ac": lambda s, st: Request({"ac": int(s["state"] == "on")}, {"state": s["state"]}),
            "climate.defrost": self._defrost,
            "climate.recirculation": lambda s, st: Request(
                {"recirculation": int(s["state"] == "on")}, {"state": s["state"]}
            ),
            "seat.heat": self._seat_heat,
            "lights.set": self._lights,
            "doors.lock": lambda s, st: self._doors(s, 1),
            "doors.unlock": lambda s, st: self._doors(s, 0),
            "trunk.open": lambda s, st: Request({"trunk": 1}),
            "trunk.close": lambda s, st: Request({"trunk": 0}),
            "wipers.set": lambda s, st: Request(
                {"wipers": s["mode"]}, {"mode_text": self.answers.word("wipers", s["mode"])}
            ),
            "mirrors.fold": lambda s, st: Request({"mirror.driver": 1, "mirror.passenger": 1}),
            "mirrors.unfold": lambda s, st: Request({"mirror.driver": 0, "mirror.passenger": 0}),
            "media.volume": self._volume,
            "media.mute": lambda s, st: Request({"mute": 1}),
            "media.unmute": lambda s, st: Request({"mute": 0}),
            "media.control": self._media_control,
            "media.source": lambda s, st: Request(
                {"source": s["source"]}, {"source_text": self.answers.word("source", s["source"])}
            ),
            "radio.tune": self._radio_tune,
            "vehicle.query": lambda s, st: Request(answer=self.answers.query(s["subject"], st)),
        }

    def handles(self, intent: str) -> bool:
        return intent in self._planners

    def plan(self, command: Command, state: Mapping[str, Value]) -> Request:
        return self._planners[command.intent](command.slots, dict(state))

    # -- helpers ------------------------------------------------------------

    def _clamp(self, function: str, value: float) -> tuple[float, tuple[str, ...]]:
        spec = self.signals[FUNCTIONS[function].signal]
        clamped = spec.clamp(value)
        note: tuple[str, ...] = ()
        unit = {"celsius": "degrees", "percent": "percent"}.get(spec.unit, "")
        if spec.maximum is not None and value > spec.maximum:
            note = (
                self.replies.say("clamped.above", limit=fmt(spec.maximum), unit=unit).replace("  ", " "),
            )
        elif spec.minimum is not None and value < spec.minimum:
            note = (
                self.replies.say("clamped.below", limit=fmt(spec.minimum), unit=unit).replace("  ", " "),
            )
        return clamped, note

    @staticmethod
    def _zones(slots: Slots) -> tuple[list[str], str]:
        zone = slots.get("zone", "all")
        if zone == "all":
            return ["driver", "passenger"], ""
        return [zone], f"{zone} side "

    # -- planners -----------------------------------------------------------

    def _window_open(self, slots: Slots, state: State) -> Request:
        group = slots.get("window", "driver")
        amount = int(slots.get("amount", 100))
        to = "" if amount == 100 else f" {amount} percent"
        return Request(
            {f"window.{side}": amount for side in WINDOW_GROUPS[group]},
            {"what": WINDOW_GROUP_LABEL[group], "to_percent": to},
        )

    def _window_close(self, slots: Slots, state: State) -> Request:
        group = slots.get("window", "driver")
        return Request(
            {f"window.{side}": 0 for side in WINDOW_GROUPS[group]}, {"what": WINDOW_GROUP_LABEL[group]}
        )

    def _sunroof_open(self, slots: Slots, state: State) -> Request:
        amount = int(slots.get("amount", 100))
        return Request({"sunroof": amount}, {"to_percent": "" if amount == 100 else f" {amount} percent"})

    def _set_temperature(self, slots: Slots, state: State) -> Request:
        value = float(slots["value"])
        unit = slots.get("unit")
        # Nobody asks for 50 °C in a cabin: a bare 50+ is Fahrenheit.
        if unit == "fahrenheit" or (unit is None and value >= 50):
            value = (value - 32) * 5 / 9
        zones, zone_text = self._zones(slots)
        target, notes = self._clamp("temp.driver", value)
        return Request(
            {f"temp.{z}": target for z in zones}, {"zone_text": zone_text, "temperature": fmt(target)}, notes
        )

    def _adjust_temperature(self, slots: Slots, state: State) -> Request:
        step = float(slots.get("amount", TEMP_STEP_C)) * (1 if slots["direction"] == "up" else -1)
        zones, zone_text = self._zones(slots)
        targets: dict[str, Value] = {}
        notes: tuple[str, ...] = ()
        for z in zones:
            current = float(state.get(FUNCTIONS[f"temp.{z}"].signal, 21.0))
            targets[f"temp.{z}"], notes = self._clamp(f"temp.{z}", current + step)
        shown = targets[f"temp.{zones[0]}"]
        return Request(targets, {"zone_text": zone_text, "temperature": fmt(float(shown))}, notes)

    def _set_fan(self, slots: Slots, state: State) -> Request:
        current = int(state.get(FUNCTIONS["fan"].signal, 0))
        if "level" in slots:
            wanted = float(slots["level"])
        elif "direction" in slots:
            wanted = current + (1 if slots["direction"] == "up" else -1)
        else:
            wanted = FAN_ON_LEVEL if current == 0 else current
        level, notes = self._clamp("fan", wanted)
        return Request({"fan": level}, {"fan_text": self.answers.fan_text(level)}, notes)

    def _defrost(self, slots: Slots, state: State) -> Request:
        target = slots.get("target", "front")
        return Request(
            {f"defrost.{target}": int(slots["state"] == "on")},
            {"target_text": target, "state": slots["state"]},
        )

    def _seat_heat(self, slots: Slots, state: State) -> Request:
        seat = slots.get("seat", "driver")
        fn = f"seat_heat.{seat}"
        current = int(state.get(FUNCTIONS[fn].signal, 0))
        wanted = float(slots["level"]) if "level" in slots else (SEAT_ON_LEVEL if current == 0 else current)
        level, notes = self._clamp(fn, wanted)
        return Request(
            {fn: level},
            {"seat_text": SIDE_LABEL[seat], "level_text": self.answers.word("seat_level", int(level))},
            notes,
        )

    def _lights(self, slots: Slots, state: State) -> Request:
        light, on = slots["light"], slots["state"] == "on"
        # headlights off while driving: the ask in guards.ASKS, checked by apply() for every path
        fields = {"light_text": self.answers.word("light", light), "state": slots["state"]}
        return Request({f"light.{light}": int(on)}, fields)

    def _doors(self, slots: Slots, locked: int) -> Request:
        door = slots.get("door", "all")
        sides = SIDES if door == "all" else (door,)
        return Request({f"lock.{side}": locked for side in sides}, {"door_text": DOOR_GROUP_LABEL[door]})

    def _volume(self, slots: Slots, state: State) -> Request:
        current = int(state.get(FUNCTIONS["volume"].signal, 0))
        if "level" in slots:
            wanted = float(slots["level"])
        elif "direction" in slots:
            wanted = current + (VOLUME_STEP if slots["direction"] == "up" else -VOLUME_STEP)
        else:
            return Request(answer=self.replies.say("answer.volume", level=current))
        level, notes = self._clamp("volume", wanted)
        return Request({"volume": level}, {"level": level}, notes)

    def _media_control(self, slots: Slots, state: State) -> Request:
        action = slots["action"]
        fields = {"action_text": self.answers.word("media_action", action)}
        if action in ("play", "pause"):
            return Request({"playback": "playing" if action == "play" else "paused"}, fields)
        track = int(state.get(FUNCTIONS["track"].signal, 0))
        return Request({"track": (track + (1 if action == "next" else -1)) % 256}, fields)

    def _radio_tune(self, slots: Slots, state: State) -> Request:
        if "frequency" not in slots:
            return self._radio_on(slots.get("band"), state)
        freq = float(slots["frequency"])
        band = slots.get("band") or ("fm" if freq < 200 else "am")
        if band == "fm":
            ok, khz, station = FM_MHZ[0] <= freq <= FM_MHZ[1], round(freq * 10) * 100, f"FM {freq:g}"
        else:
            ok, khz, station = AM_KHZ[0] <= freq <= AM_KHZ[1], round(freq / 10) * 10, f"AM {freq:g}"
        if not ok:
            return Request(
                refusal=self.replies.say("refused.radio_band", frequency=fmt(freq), band=band.upper())
            )
        return Request({"source": "radio", "band": band, "frequency": khz}, {"station": station})

    def _radio_on(self, band: str | None, state: State) -> Request:
        """'Radio' or 'switch to AM' without a frequency: the current station, or the band's first."""
        current_band = str(state.get(FUNCTIONS["band"].signal, "fm"))
        khz = float(state.get(FUNCTIONS["frequency"].signal, FM_MHZ[0] * 1000))
        if band is not None and band != current_band:
            khz = FM_MHZ[0] * 1000 if band == "fm" else AM_KHZ[0]
        band = band or current_band
        station = f"FM {fmt(khz / 1000)}" if band == "fm" else f"AM {fmt(khz)}"
        return Request({"source": "radio", "band": band, "frequency": int(khz)}, {"station": station})
