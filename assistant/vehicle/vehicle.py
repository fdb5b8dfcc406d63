"""The vehicle: catalog commands -> guarded, clamped signal targets -> the bridge -> confirmed state.

Three checks stand before any frame leaves: the state machine's guards here,
then the bridge's write allowlist and ``encode(strict=True)``. The state the
assistant reports always comes from the car's status frames.

``Vehicle.apply`` is the one gate every actuation passes (a fresh request, an
undo, the yes to a question): it checks the guards and the asks of the
functions it would change against the car's state at that moment, so no path
skips a refusal or a question.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from assistant.nlu.base import Command
from assistant.vehicle.functions import (
    BY_SIGNAL,
    DOOR_GROUP_LABEL,
    FUNCTIONS,
    SIDE_LABEL,
    SIDES,
    WINDOW_GROUP_LABEL,
    WINDOW_GROUPS,
)
from assistant.vehicle.guards import ASKS, Ask, GuardLimits
from assistant.vehicle.machines import FunctionMachine, Travel
from assistant.vehicle.replies import Replies, load_replies
from assistant.vehicle.signals import SignalSpec, Value, load_signals


class Actuation(Protocol):
    """What the bridge reports for one actuation (firmware_bridge.Actuation)."""

    @property
    def confirmed(self) -> Mapping[str, Value]: ...
    @property
    def timed_out(self) -> Sequence[str]: ...
    @property
    def frames(self) -> Sequence[Any]: ...
    @property
    def unsent(self) -> Sequence[str]:
        """Signals whose command frame never left (the bus failed part-way)."""


class VehicleBridge(Protocol):
    """The part of firmware_bridge.CanBridge the vehicle uses."""

    def state(self) -> dict[str, Value]: ...

    def actuate(self, targets: Mapping[str, Value], timeout_s: float | None = None) -> Actuation: ...


@dataclass(frozen=True)
class Request:
    """What one command asks of the car, before the guards."""

    targets: dict[str, Value] = field(default_factory=dict)  # function name -> target
    fields: dict[str, Any] = field(default_factory=dict)  # for the reply template
    notes: tuple[str, ...] = ()  # spoken after the reply (clamping)
    refusal: str | None = None
    answer: str | None = None  # a reply that needs no actuation (queries)


@dataclass(frozen=True, eq=False)
class Question:
    """A yes/no the driver must answer before ``request`` goes out; good for one yes, for a short while.

    Only ``Vehicle.apply`` makes one and only it takes one back (``Vehicle.confirm``);
    equality is identity, so a copy answers nothing.
    """

    intent: str
    request: Request
    asks: frozenset[tuple[str, Value]]
    """(function, target) pairs the yes covers."""
    prompt: str
    asked_at: float
    """``Vehicle.clock`` seconds."""
    command: Command | None = None
    """Planned again against the car's state at the yes; None: ``request`` as it was (an undo)."""


@dataclass(frozen=True)
class Action:
    """What the vehicle did with one command."""

    intent: str
    status: str
    """done | moving | replaced | refused | timeout | failed | answered | confirm | expired | stopped"""
    reply: str
    targets: dict[str, Value] = field(default_factory=dict)  # signal -> target
    confirmed: dict[str, Value] = field(default_factory=dict)  # signal -> value the car reported
    timed_out: tuple[str, ...] = ()
    previous: dict[str, Value] = field(default_factory=dict)  # signal -> value before, for undo
    frames: tuple[Any, ...] = ()
    then: Future[Action] | None = field(default=None, compare=False, repr=False)
    """For ``moving``: the action as it ends, once the travel has (done, timeout or failed)."""
    question: Question | None = field(default=None, compare=False, repr=False)
    """For ``confirm``: what a yes answers (``Vehicle.confirm``)."""
    unsent: tuple[str, ...] = ()
    """Signals whose command frame never left: the bus failed part-way."""

    def settled(self, timeout_s: float | None = None) -> Action:
        """This action once its travel has ended (waits); itself when nothing is in progress."""
        return self.then.result(timeout_s) if self.then is not None else self

    def to_json(self) -> dict[str, Any]:
        return {
            "intent": self.intent,
            "status": self.status,
            "targets": self.targets,
            "confirmed": self.confirmed,
            "timed_out": list(self.timed_out),
            "unsent": list(self.unsent),
            "reply": self.reply,
        }


log = logging.getLogger(__name__)

MOTION_WAIT_S = 1.0
"""How long a travelling function (window, sunroof) may take to start moving before the reply waits
for the whole travel instead."""
TEMP_STEP_C = 1.0
FAN_ON_LEVEL = 3
SEAT_ON_LEVEL = 2
VOLUME_STEP = 3
FM_MHZ = (87.5, 108.0)
AM_KHZ = (530, 1710)
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
SAFE_WHILE_MOVING: dict[str, Value] = {"trunk": 0, "mirror.driver": 0, "mirror.passenger": 0}
"""Where a guarded travel is sent when the car starts moving under it: the trunk lid shut, the
mirrors unfolded, the states a car is driven in. The DBC has no stop command, and a lid held half
open or a mirror half folded at speed is no safer."""
WATCH_PERIOD_S = 0.05
"""How often a guarded travel re-checks its guards (speed) while it is under way."""
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
ACTION_TEXT = {"play": "playing", "pause": "paused", "next": "next track", "previous": "previous track"}
SOURCE_TEXT = {"radio": "the radio", "bluetooth": "Bluetooth audio", "usb": "USB"}
_GROUP_LABELS = [
    *(
        (frozenset(f"window.{side}" for side in WINDOW_GROUPS[g]), WINDOW_GROUP_LABEL[g])
        for g in ("all", "front", "rear")
    ),
    (frozenset(f"lock.{side}" for side in SIDES), "all doors"),
    *(
        (frozenset(f"lock.{side}" for side in WINDOW_GROUPS[g]), f"the {g} doors")
        for g in ("front", "rear")
    ),
    (frozenset({"mirror.driver", "mirror.passenger"}), "the mirrors"),
]
"""Sets of functions said as one group ("the front doors") when a reply names them."""


def _fmt(value: float) -> str:
    return f"{value:g}"


def _on_off(flag: Value) -> str:
    return "on" if flag else "off"


class Vehicle:
    """Plans commands against live state, guards them, actuates through the bridge."""

    def __init__(
        self,
        bridge: VehicleBridge,
        limits: GuardLimits | None = None,
        replies: Replies | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bridge = bridge
        self.limits = limits or GuardLimits()
        self.replies = replies or load_replies()
        self.clock = clock
        """Seconds, for the age of a question (tests pass their own)."""
        self._questions: list[Question] = []  # asked and not yet answered, withdrawn or lapsed
        self.signals: dict[str, SignalSpec] = load_signals()
        self.machines = {name: FunctionMachine(fn) for name, fn in FUNCTIONS.items()}
        self._listeners: list[Callable[[str], None]] = []
        self._travels: list[threading.Thread] = []
        self._generation: dict[str, int] = {}
        self._lock = threading.Lock()
        self.health_checks: list[Callable[[], Sequence[str]]] = []
        """Each returns what is wrong with a worker the car side needs (the bridge's receive thread,
        the simulator's); any problem refuses actuation."""
        bridge_health = getattr(bridge, "health", None)
        if callable(bridge_health):
            self.health_checks.append(bridge_health)
        self._planners: dict[str, Callable[[Mapping[str, Any], dict[str, Value]], Request]] = {
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
            "wipers.set": lambda s, st: Request({"wipers": s["mode"]}, {"mode_text": WIPER_TEXT[s["mode"]]}),
            "mirrors.fold": lambda s, st: Request({"mirror.driver": 1, "mirror.passenger": 1}),
            "mirrors.unfold": lambda s, st: Request({"mirror.driver": 0, "mirror.passenger": 0}),
            "media.volume": self._volume,
            "media.mute": lambda s, st: Request({"mute": 1}),
            "media.unmute": lambda s, st: Request({"mute": 0}),
            "media.control": self._media_control,
            "media.source": lambda s, st: Request(
                {"source": s["source"]}, {"source_text": SOURCE_TEXT[s["source"]]}
            ),
            "radio.tune": self._radio_tune,
            "vehicle.query": lambda s, st: Request(answer=self._query(s["subject"], st)),
        }

    # -- public -------------------------------------------------------------

    def state(self) -> dict[str, Value]:
        return self.bridge.state()

    def handles(self, intent: str) -> bool:
        return intent in self._planners

    def plan(self, command: Command, state: Mapping[str, Value] | None = None) -> Request:
        st = dict(self.state() if state is None else state)
        return self._planners[command.intent](command.slots, st)

    def execute(self, command: Command, *, yes_to: Question | None = None) -> Action:
        """Carry out one command; never raises for a car that refuses or stays silent."""
        state = self.state()
        request = self._planners[command.intent](command.slots, state)
        if request.refusal:
            return Action(command.intent, "refused", request.refusal)
        if request.answer is not None:
            return Action(command.intent, "answered", request.answer)
        return self.apply(command.intent, request, state, yes_to=yes_to, command=command)

    def confirm(self, question: Question) -> Action:
        """The driver said yes to ``question``: carry it out if it is still open, planned again and
        checked against the car's state now (a yes counts once, and only within the question's time)."""
        try:
            if question.command is not None:
                return self.execute(question.command, yes_to=question)
            return self.apply(question.intent, question.request, yes_to=question)
        finally:
            self.withdraw(question)

    def ask(self, intent: str, request: Request, prompt: str, command: Command | None = None) -> Action:
        """A question put before ``request`` because the evidence for it was weak (the dialogue's risk
        policy): nothing moves now; a clear yes in time carries it out through ``apply`` (re-planned from
        ``command`` when given), covering the asks of these same targets, and the guards still decide."""
        signal_targets = {FUNCTIONS[name].signal: target for name, target in request.targets.items()}
        covers = frozenset(request.targets.items())
        return self._question(intent, request, covers, prompt, signal_targets, command)

    def withdraw(self, question: Question) -> None:
        """``question`` can no longer be answered (the driver moved on, said no or cancelled)."""
        with self._lock:
            self._questions = [q for q in self._questions if q is not question]

    def apply(
        self,
        intent: str,
        request: Request,
        state: Mapping[str, Value] | None = None,
        *,
        yes_to: Question | None = None,
        command: Command | None = None,
    ) -> Action:
        """Guard, ask, actuate and confirm ``request``'s targets: the one gate of every actuation.

        ``yes_to`` is a question this vehicle asked and the driver said yes to;
        it lets through the asks it covers, once, while it is fresh. A change
        that needs a yes it has not got gets a new question (``command``, when
        given, is planned again at the yes).
        """
        if yes_to is not None and not self._take(yes_to):
            return Action(intent, "expired", self.replies.say("dialogue.confirm_expired"))
        cannot = self._car_cannot(request.targets)
        if cannot:
            return Action(intent, "refused", self.replies.say(cannot))
        state = dict(self.state() if state is None else state)
        for name, target in request.targets.items():
            refusal = self.machines[name].refusal(state, target, self.limits)
            if refusal:
                return Action(intent, "refused", refusal)
        if request.targets and self.health():
            return Action(intent, "failed", self.replies.say("failure.unhealthy"))
        signal_targets = {FUNCTIONS[name].signal: target for name, target in request.targets.items()}
        asks = self._asks(request, state)
        if asks and not (yes_to is not None and set(asks) <= yes_to.asks):
            return self._ask(intent, request, asks, signal_targets, command)
        previous = {sig: state[sig] for sig in signal_targets if sig in state}
        with self._lock:
            for name, target in request.targets.items():
                self.machines[name].request(state=state, target=target, limits=self.limits)
                self._generation[name] = self._generation.get(name, 0) + 1
            generation = {name: self._generation[name] for name in request.targets}
        outcome: dict[str, Any] = {}
        watch = _GuardWatch(self, request.targets, generation)

        def actuate() -> None:
            try:
                outcome["result"] = self.bridge.actuate(signal_targets)
            except Exception as err:  # reported by _settle
                outcome["error"] = err

        # only a position (a window, the sunroof) can show being on its way; trunk and mirrors
        # report open/folded on arrival, so their reply waits for that
        travels = all(
            FUNCTIONS[name].shape is Travel and self.signals[FUNCTIONS[name].signal].kind != "bool"
            for name in request.targets
        )
        if not travels:
            actuate()
            return watch.end() or self._settle(intent, request, signal_targets, previous, outcome, generation)
        # A window takes seconds to travel: the reply comes once the car reports it moving, and
        # the end of the travel is checked in the background (a jam is spoken then, see listen()).
        worker = threading.Thread(target=actuate, name=f"actuate-{intent}", daemon=True)
        worker.start()
        deadline = time.monotonic() + MOTION_WAIT_S
        while worker.is_alive() and time.monotonic() < deadline:
            if self._moving(signal_targets, previous):
                break
            worker.join(0.01)
        if not worker.is_alive() or not self._moving(signal_targets, previous):
            worker.join()
            return watch.end() or self._settle(intent, request, signal_targets, previous, outcome, generation)

        then: Future[Action] = Future()

        def finish() -> None:
            worker.join()
            try:
                action = watch.end() or self._settle(
                    intent, request, signal_targets, previous, outcome, generation
                )
            except Exception as err:
                then.set_exception(err)
                log.exception("travel of %s failed", intent)
                return
            if action.status != "done" and action.reply:
                self._tell(action.reply)
            then.set_result(action)

        follower = threading.Thread(target=finish, name=f"travel-{intent}", daemon=True)
        with self._lock:
            self._travels = [t for t in self._travels if t.is_alive()] + [follower]
        follower.start()
        key = f"moving.{intent}"
        moving = self.replies.say(key, **request.fields) if self.replies.has(key) else ""
        reply = " ".join(x for x in (moving, *request.notes) if x)
        return Action(intent, "moving", reply, signal_targets, {}, (), previous, then=then)

    def _car_cannot(self, targets: Mapping[str, Value]) -> str:
        """The reply key when this car's mapping has a target's signal as status only, or not at all
        (nothing would be sent); "" when it can, or when the bridge does not say (a test's fake)."""
        signals = getattr(getattr(self.bridge, "mapping", None), "signals", None)
        if not isinstance(signals, Mapping):
            return ""
        for name in targets:
            m = signals.get(FUNCTIONS[name].signal)
            if m is None:
                return "failure.car_lacks"
            if getattr(m, "cannot", None) is not None:
                return "failure.car_cannot"
        return ""

    def health(self) -> list[str]:
        """What is wrong with the workers the car side needs; empty when all is well."""
        problems: list[str] = []
        for check in self.health_checks:
            problems += check()
        return problems

    def stop_travel(self) -> Action | None:
        """Stop every window, sunroof, trunk and mirror under way where it stands (its reported
        position as the new target: the DBC has no stop command); ``None`` when nothing moves."""
        state = self.state()
        with self._lock:
            moving = {
                name: state[FUNCTIONS[name].signal]
                for name, machine in self.machines.items()
                if FUNCTIONS[name].shape is Travel and machine.busy and FUNCTIONS[name].signal in state
            }
        if not moving:
            return None
        result = self._hold(moving)
        confirmed = dict(result.confirmed) if result is not None else {}
        if result is None or set(confirmed) != {FUNCTIONS[n].signal for n in moving}:
            labels = " and ".join(FUNCTIONS[n].label for n in moving)
            return Action(
                "assistant.cancel", "timeout", self.replies.say("cancel.unconfirmed", labels=labels)
            )
        where = " and ".join(self._where(n, confirmed[FUNCTIONS[n].signal]) for n in moving)
        targets = {FUNCTIONS[n].signal: v for n, v in moving.items()}
        frames = tuple(result.frames)
        reply = self.replies.say("cancel.stopped", where=where)
        return Action("assistant.cancel", "stopped", reply, targets, confirmed, frames=frames)

    def _where(self, name: str, value: Value) -> str:
        """Where a stopped travel stands, for a reply: "the driver window is 40 percent open"."""
        label = FUNCTIONS[name].label
        if self.signals[FUNCTIONS[name].signal].kind == "bool":
            if name == "trunk":
                return f"{label} is {'open' if value else 'closed'}"
            return f"{label} is {'folded' if value else 'unfolded'}"
        return f"{label} is {value} percent open" if value else f"{label} is closed"

    def _hold(self, targets: Mapping[str, Value]) -> Any:
        """Send ``targets`` past the guards (a stop, a retreat to safety) and settle their machines on
        what the car confirms; the travels they end are left to speak no more. None: not sent."""
        with self._lock:
            for name in targets:
                self._generation[name] = self._generation.get(name, 0) + 1
        signal_targets = {FUNCTIONS[name].signal: value for name, value in targets.items()}
        try:
            result = self.bridge.actuate(signal_targets)
        except Exception:
            log.exception("stopping %s failed", ", ".join(targets))
            for name in targets:
                self.machines[name].fail()
            return None
        for name in targets:
            sig = FUNCTIONS[name].signal
            if sig in result.confirmed:
                self.machines[name].arrive(value=result.confirmed[sig])
            else:
                self.machines[name].fail()
        return result

    def _query(self, subject: str, state: Mapping[str, Value]) -> str:
        """The answer from current values; from older ones said with their age; else that none came."""
        needed = [FUNCTIONS[f].signal for f in QUERY_SIGNALS.get(subject, ())]
        missing = [sig for sig in needed if sig not in state]
        if not missing:
            return self.answer(subject, state)
        reported_fn = getattr(self.bridge, "reported", None)
        reported = reported_fn() if callable(reported_fn) else {}
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

    def _asks(self, request: Request, state: Mapping[str, Value]) -> dict[tuple[str, Value], Ask]:
        """(function, target) -> the ask it needs now (even when the car reports it there already: a
        report may be old)."""
        out: dict[tuple[str, Value], Ask] = {}
        for name, target in request.targets.items():
            for ask in ASKS.get(name, ()):
                if ask.applies_to(target) and ask.needed(state, self.limits):
                    out[(name, target)] = ask
        return out

    def _ask(
        self,
        intent: str,
        request: Request,
        asks: Mapping[tuple[str, Value], Ask],
        signal_targets: dict[str, Value],
        command: Command | None,
    ) -> Action:
        prompt = " ".join(dict.fromkeys(self.replies.say(a.prompt) for a in asks.values()))
        return self._question(intent, request, frozenset(asks), prompt, signal_targets, command)

    def _question(
        self,
        intent: str,
        request: Request,
        covers: frozenset[tuple[str, Value]],
        prompt: str,
        signal_targets: dict[str, Value],
        command: Command | None,
    ) -> Action:
        question = Question(intent, request, covers, prompt, self.clock(), command)
        with self._lock:
            now = question.asked_at
            self._questions = [q for q in self._questions if self._fresh(q, now)] + [question]
        return Action(intent, "confirm", prompt, signal_targets, question=question)

    def _fresh(self, question: Question, now: float) -> bool:
        return 0 <= now - question.asked_at <= self.limits.question_timeout_s

    def _take(self, question: Question) -> bool:
        """True once for a question this vehicle asked, while it is fresh; it is used up either way."""
        with self._lock:
            open_ = any(q is question for q in self._questions)
            self._questions = [q for q in self._questions if q is not question]
        return open_ and self._fresh(question, self.clock())

    def listen(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call ``callback(text)`` with what must be said later (a window that stopped short); returns
        the function that stops it."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def settle(self, timeout_s: float | None = None) -> bool:
        """Wait until every travel in progress has ended; False when ``timeout_s`` ran out first."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._lock:
            travels = list(self._travels)
        for t in travels:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if t.is_alive():
                return False
        return True

    def _moving(self, targets: Mapping[str, Value], previous: Mapping[str, Value]) -> bool:
        """True when the car reports each target that had to move on its way (or there) from where it
        was, and at least one had to."""
        state = self.state()
        moved = False
        for sig, target in targets.items():
            now, before = state.get(sig), previous.get(sig)
            if not (
                isinstance(now, (int, float))
                and isinstance(before, (int, float))
                and isinstance(target, (int, float))
            ):
                return False
            if target == before:
                continue  # already there: that one has nothing to do
            if abs(target - now) >= abs(target - before):
                return False
            moved = True
        return moved

    def _tell(self, text: str) -> None:
        for callback in list(self._listeners):
            try:
                callback(text)
            except Exception:  # a display bug must not stop the car side
                log.exception("notice listener failed")
        if not self._listeners:
            log.warning("%s", text)

    def _settle(
        self,
        intent: str,
        request: Request,
        signal_targets: dict[str, Value],
        previous: dict[str, Value],
        outcome: Mapping[str, Any],
        generation: Mapping[str, int],
    ) -> Action:
        """The machines and the reply after the bridge has answered (or failed) one actuation.

        A function that a newer request has re-targeted meanwhile is left to that request.
        """
        from firmware_bridge.errors import BridgeError, CarCannotError, SendError

        with self._lock:
            current = {n for n in request.targets if self._generation.get(n) == generation[n]}
        error = outcome.get("error")
        if isinstance(error, SendError):
            # nothing left the bridge (a part-way failure comes back as ``unsent``)
            self._fail({n: v for n, v in request.targets.items() if n in current})
            # bus_down: the bus was known down and nothing left; send: a frame failed on the way
            key = "failure.bus_down" if error.code == "bus_down" else "failure.send"
            return Action(intent, "failed", self.replies.say(key), signal_targets)
        if isinstance(error, CarCannotError):
            # a status-only function on this car: refused before any frame, the car is as it was
            self._fail({n: v for n, v in request.targets.items() if n in current})
            return Action(intent, "refused", self.replies.say("failure.car_cannot"), signal_targets)
        if isinstance(error, BridgeError):
            self._fail({n: v for n, v in request.targets.items() if n in current})
            return Action(intent, "failed", self.replies.say("failure.rejected"), signal_targets)
        if error is not None:
            raise error
        result = outcome["result"]
        timed_out = tuple(result.timed_out)
        superseded = tuple(getattr(result, "superseded", ()))
        unsent = tuple(getattr(result, "unsent", ()))
        for name in request.targets:
            if name not in current:
                continue
            sig = FUNCTIONS[name].signal
            if sig in result.confirmed:
                self.machines[name].arrive(value=result.confirmed[sig])
            else:
                self.machines[name].fail()
        frames = tuple(result.frames)
        confirmed = dict(result.confirmed)
        # undo puts back what the car confirmed it changed, and nothing else
        changed = {s: previous[s] for s in confirmed if s in previous and previous[s] != confirmed[s]}
        if (timed_out or superseded or unsent) and len(current) < len(request.targets):
            # re-targeted before it arrived: the newer request speaks for it
            return Action(intent, "replaced", "", signal_targets, confirmed, (), changed, frames)
        if timed_out or unsent:
            parts = []
            if confirmed:
                parts.append(self._partly_done(intent, request, confirmed))
            for sigs, key in ((timed_out, "failure.timeout"), (unsent, "failure.unsent")):
                if sigs:
                    many = "_many" if len(sigs) > 1 else ""
                    parts.append(self.replies.say(key + many, label=self._labels(sigs)))
            return Action(
                intent,
                "failed" if unsent else "timeout",
                " ".join(parts),
                signal_targets,
                confirmed,
                timed_out,
                changed,
                frames,
                unsent=unsent,
            )
        key = f"done.{intent}"
        done = self.replies.say(key, **request.fields) if self.replies.has(key) else ""
        reply = " ".join(x for x in (done, *request.notes) if x)
        return Action(intent, "done", reply, signal_targets, confirmed, (), changed, frames)

    def _partly_done(self, intent: str, request: Request, confirmed: Mapping[str, Value]) -> str:
        """What the car confirmed of a change that only partly happened ("I've locked the front doors.")."""
        key = f"partial.{intent}"
        if not self.replies.has(key):
            key = "partial.done"
        return self.replies.say(key, **{**request.fields, "done": self._labels(confirmed)})

    @staticmethod
    def _labels(signals: Sequence[str] | Mapping[str, Value]) -> str:
        """The functions behind ``signals`` as the driver says them: "the front doors", "the trunk"."""
        names = {BY_SIGNAL[sig].name for sig in signals}
        for members, label in _GROUP_LABELS:
            if names == members:
                return label
        labels = [fn.label for name, fn in FUNCTIONS.items() if name in names]
        return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]

    def sync(self) -> None:
        """Settle every idle machine on the car's reported values (at start, after outside changes)."""
        state = self.state()
        for name, machine in self.machines.items():
            sig = FUNCTIONS[name].signal
            if sig in state and not machine.busy:
                machine.arrive(value=state[sig])

    def describe(self) -> dict[str, str]:
        """Function name -> its machine state, for displays."""
        return {name: m.state.value for name, m in self.machines.items()}

    # -- helpers ------------------------------------------------------------

    def _fail(self, targets: Mapping[str, Value]) -> None:
        for name in targets:
            self.machines[name].fail()

    def _clamp(self, function: str, value: float) -> tuple[float, tuple[str, ...]]:
        spec = self.signals[FUNCTIONS[function].signal]
        clamped = spec.clamp(value)
        note: tuple[str, ...] = ()
        unit = {"celsius": "degrees", "percent": "percent"}.get(spec.unit, "")
        if spec.maximum is not None and value > spec.maximum:
            note = (
                self.replies.say("clamped.above", limit=_fmt(spec.maximum), unit=unit).replace("  ", " "),
            )
        elif spec.minimum is not None and value < spec.minimum:
            note = (
                self.replies.say("clamped.below", limit=_fmt(spec.minimum), unit=unit).replace("  ", " "),
            )
        return clamped, note

    @staticmethod
    def _percent(slots: Mapping[str, Any]) -> str:
        amount = slots.get("amount")
        return "" if amount in (None, 100) else f" {amount} percent"

    # -- planners -----------------------------------------------------------

    def _window_open(self, slots: Mapping[str, Any], state: dict[str, Value]) -> Request:
        group = slots.get("window", "driver")
        amount = int(slots.get("amount", 100))
        to = "" if amount == 100 else f" {amount} percent"
        return Request(
            {f"window.{side}": amount for side in WINDOW_GROUPS[group]},
            {"what": WINDOW_GROUP_LABEL[group], "to_percent": to},
        )

    def _window_close(self, slots: Mapping[str, Any], state: dict[str, Value]) -> Request:
        group = slots.get("window", "driver")
        return Request(
            {f"window.{side}": 0 for side in WINDOW_GROUPS[group]}, {"what": WINDOW_GROUP_LABEL[group]}
        )

    def _sunroof_open(self, slots: Mapping[str, Any], state: dict[str, Value]) -> Request:
        amount = int(slots.get("amount", 100))
        return Request({"sunroof": amount}, {"to_percent": "" if amount == 100 else f" {amount} percent"})

    @staticmethod
    def _zones(slots: Mapping[str, Any]) -> tuple[list[str], str]:
        zone = slots.get("zone", "all")
        if zone == "all":
            return ["driver", "passenger"], ""
        return [zone], f"{zone} side "

    def _set_temperature(self, slots: Mapping[str, Any], state: dict[str, Value]) -> Request:
        value = float(slots["value"])
        unit = slots.get("unit")
        # Nobody asks for 50 °C in a cabin: a bare 50+ is Fahrenheit.
        if unit == "fahrenheit" or (unit is None and value >= 50):
            value = (value - 32) * 5 / 9
        zones, zone_text = self._zones(slots)
        target, notes = self._clamp("temp.driver", value)
        return Request(
            {f"temp.{z}": target for z in zones}, {"zone_text": zone_text, "temperature": _fmt(target)}, notes
        )

    def _adjust_temperature(self, slots: Mapping[str, Any], state: dict[str, Value]) -> Request:
        step = float(slots.get("amount", TEMP_STEP_C)) * (1 if slots["direction"] == "up" else -1)
        zones, zone_text = self._zones(slots)
        targets: dict[str, Value] = {}
        notes: tuple[str, ...] = ()
        for z in zones:
            current = float(state.get(FUNCTIONS[f"temp.{z}"].signal, 21.0))
            targets[f"temp.{z}"], notes = self._clamp(f"temp.{z}", current + step)
        shown = targets[f"temp.{zones[0]}"]
        return Request(targets, {"zone_text": zone_text, "temperature": _fmt(float(shown))}, notes)

    def _set_fan(self, slots: Mapping[str, Any], state: dict[str, Value]) -> Request:
        current = int(state.get(FUNCTIONS["fan"].signal, 0))
        if "level" in slots:
            wanted = float(slots["level"])
        elif "direction" in slots:
            wanted = current + (1 if slots["direction"] == "up" else -1)
        else:
            wanted = FAN_ON_LEVEL if current == 0 else current
        level, notes = self._clamp("fan", wanted)
        return Request({"fan": level}, {"fan_text": "off" if level == 0 else f"level {level}"}, notes)

    def _defrost(self, slots: Mapping[str, Any], state: dict[str, Value]) -> Request:
        target = slots.get("target", "front")
        return Request(
            {f"defrost.{target}": int(slots["state"] == "on")},
            {"target_text": target, "state": slots["state"]},
        )

    def _seat_heat(self, slots: Mapping[str, Any], state: dict[str, Value]) -> Request:
        seat = slots.get("seat", "driver")
        fn = f"seat_heat.{seat}"
        current = int(state.get(FUNCTIONS[fn].signal, 0))
        wanted = float(slots["level"]) if "level" in slots else (SEAT_ON_LEVEL if current == 0 else current)
        level, notes = self._clamp(fn, wanted)
        return Request(
            {fn: level}, {"seat_text": SIDE_LABEL[seat], "level_text": SEAT_LEVEL_TEXT[int(level)]}, notes
        )

    def _lights(self, slots: Mapping[str, Any], state: dict[str, Value]) -> Request:
        light, on = slots["light"], slots["state"] == "on"
        # headlights off while driving: the ask in guards.ASKS, checked by apply() for every path
        fields = {"light_text": LIGHT_TEXT[light], "state": slots["state"]}
        return Request({f"light.{light}": int(on)}, fields)

    def _doors(self, slots: Mapping[str, Any], locked: int) -> Request:
        door = slots.get("door", "all")
        sides = SIDES if door == "all" else (door,)
        return Request({f"lock.{side}": locked for side in sides}, {"door_text": DOOR_GROUP_LABEL[door]})

    def _volume(self, slots: Mapping[str, Any], state: dict[str, Value]) -> Request:
        current = int(state.get(FUNCTIONS["volume"].signal, 0))
        if "level" in slots:
            wanted = float(slots["level"])
        elif "direction" in slots:
            wanted = current + (VOLUME_STEP if slots["direction"] == "up" else -VOLUME_STEP)
        else:
            return Request(answer=f"The volume is {current}.")
        level, notes = self._clamp("volume", wanted)
        return Request({"volume": level}, {"level": level}, notes)

    def _media_control(self, slots: Mapping[str, Any], state: dict[str, Value]) -> Request:
        action = slots["action"]
        fields = {"action_text": ACTION_TEXT[action]}
        if action in ("play", "pause"):
            return Request({"playback": "playing" if action == "play" else "paused"}, fields)
        track = int(state.get(FUNCTIONS["track"].signal, 0))
        return Request({"track": (track + (1 if action == "next" else -1)) % 256}, fields)

    def _radio_tune(self, slots: Mapping[str, Any], state: dict[str, Value]) -> Request:
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
                refusal=self.replies.say("refused.radio_band", frequency=_fmt(freq), band=band.upper())
            )
        return Request({"source": "radio", "band": band, "frequency": khz}, {"station": station})

    def _radio_on(self, band: str | None, state: dict[str, Value]) -> Request:
        """'Radio' or 'switch to AM' without a frequency: the current station, or the band's first."""
        current_band = str(state.get(FUNCTIONS["band"].signal, "fm"))
        khz = float(state.get(FUNCTIONS["frequency"].signal, FM_MHZ[0] * 1000))
        if band is not None and band != current_band:
            khz = FM_MHZ[0] * 1000 if band == "fm" else AM_KHZ[0]
        band = band or current_band
        station = f"FM {_fmt(khz / 1000)}" if band == "fm" else f"AM {_fmt(khz)}"
        return Request({"source": "radio", "band": band, "frequency": int(khz)}, {"station": station})

    # -- queries ------------------------------------------------------------

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
                f"Driver side {_fmt(float(get('temp.driver') or 0))} degrees, passenger side "
                f"{_fmt(float(get('temp.passenger') or 0))} degrees, fan {f'level {fan}' if fan else 'off'}, "
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
                where += f", {band.upper()} {_fmt(khz / 1000) if band == 'fm' else _fmt(khz)}"
            muted = ", muted" if get("mute") else ""
            playing = str(get("playback") or "paused").capitalize()
            return f"{playing} from {where}, volume {get('volume')}{muted}."
        return "I don't know about that."


class _GuardWatch:
    """Re-checks the guards of a guarded travel (trunk, mirrors) while it is under way.

    A guard is checked when the request is made, but a trunk opening at 0 km/h keeps moving as the
    car pulls away: once a guard no longer allows the target (speed above the limit, or a speed that
    is stale or contradicted and so counts as moving), the travel is sent to its safe state
    (``SAFE_WHILE_MOVING``) and ``end()`` returns the action that says so.
    """

    def __init__(self, vehicle: Vehicle, targets: Mapping[str, Value], generation: Mapping[str, int]) -> None:
        self.vehicle = vehicle
        self.targets = {
            name: target
            for name, target in targets.items()
            if name in SAFE_WHILE_MOVING and target != SAFE_WHILE_MOVING[name]
        }
        self.generation = dict(generation)
        self.stopped: Action | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        if self.targets:
            self._thread = threading.Thread(target=self._run, name="guard-watch", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        v = self.vehicle
        while not self._done.wait(WATCH_PERIOD_S):
            with v._lock:
                live = {n: t for n, t in self.targets.items() if v._generation.get(n) == self.generation[n]}
            if not live:
                return  # a newer request (close the trunk) took over
            state = v.state()
            refusals = [r for n, t in live.items() if (r := v.machines[n].refusal(state, t, v.limits))]
            if refusals:
                self._stop(live)
                return

    def _stop(self, live: Mapping[str, Value]) -> None:
        v = self.vehicle
        safe = {name: SAFE_WHILE_MOVING[name] for name in live}
        labels = " and ".join(FUNCTIONS[n].label for n in live)
        log.warning("the car started moving during %s: sending %s", labels, safe)
        result = v._hold(safe)
        targets = {FUNCTIONS[n].signal: value for n, value in safe.items()}
        if result is None or set(result.confirmed) != set(targets):
            reply = v.replies.say("stopped.unconfirmed", labels=labels)
            status = "timeout"
            confirmed = {} if result is None else dict(result.confirmed)
        else:
            confirmed = dict(result.confirmed)
            where = " and ".join(v._where(n, confirmed[FUNCTIONS[n].signal]) for n in live)
            reply = v.replies.say("stopped.moving", where=where)
            status = "stopped"
        frames = () if result is None else tuple(result.frames)
        self.stopped = Action("guard.moving", status, reply, targets, confirmed, frames=frames)

    def end(self) -> Action | None:
        """Stop watching (the travel has ended); the action of the stop, if the watch made one."""
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        return self.stopped
