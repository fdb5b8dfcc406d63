"""Actuation: guarded targets -> the bridge -> the car's confirmation, and what to say about it.

Only ``Vehicle.apply`` calls ``Actuator.start``, after the guards and asks have
passed. A window or sunroof replies once the car reports it on its way and is
followed to its end in the background; a trunk or mirror under way is watched
and sent to its safe state if the car starts moving (``_GuardWatch``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any, Protocol, runtime_checkable

from assistant.vehicle.action import Action, Status
from assistant.vehicle.functions import BY_SIGNAL, FUNCTIONS, SIDES, WINDOW_GROUP_LABEL, WINDOW_GROUPS
from assistant.vehicle.guards import GuardLimits
from assistant.vehicle.machines import FunctionMachine, Travel
from assistant.vehicle.planning import Request
from assistant.vehicle.replies import Replies
from assistant.vehicle.signals import Kind, SignalSpec, Value

log = logging.getLogger(__name__)


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
    """The part of firmware_bridge.CanBridge the vehicle needs (firmware_bridge imports nothing of
    ours, so this side says what it uses). Three more parts are used when a bridge has them, as
    CanBridge does and a unit test's fake need not: ``reported()`` (``ReportingBridge``: a query
    says an old value with its age), ``health()`` (``CheckedBridge``: a stopped receive thread
    refuses actuation) and ``mapping.signals[signal].cannot`` (a status-only function is refused
    before any frame)."""

    def state(self) -> dict[str, Value]:
        """Vehicle signal -> its current value (stale ones left out)."""
        ...

    def actuate(self, targets: Mapping[str, Value], timeout_s: float | None = None) -> Actuation:
        """Send ``targets`` (vehicle signal -> value) and wait for the car's status to confirm them."""
        ...


class Reading(Protocol):
    """One signal as last reported (firmware_bridge.Reading)."""

    @property
    def value(self) -> Value: ...
    @property
    def age_s(self) -> float: ...


@runtime_checkable
class ReportingBridge(Protocol):
    def reported(self) -> Mapping[str, Reading]:
        """Vehicle signal -> its last report, however old."""
        ...


@runtime_checkable
class CheckedBridge(Protocol):
    def health(self) -> Sequence[str]:
        """What is wrong with the bridge's own workers; empty when all is well."""
        ...


MOTION_WAIT_S = 1.0
"""How long a travelling function (window, sunroof) may take to start moving before the reply waits
for the whole travel instead."""
SAFE_WHILE_MOVING: dict[str, Value] = {"trunk": 0, "mirror.driver": 0, "mirror.passenger": 0}
"""Where a guarded travel is sent when the car starts moving under it: the trunk lid shut, the
mirrors unfolded, the states a car is driven in. The DBC has no stop command, and a lid held half
open or a mirror half folded at speed is no safer."""
WATCH_PERIOD_S = 0.05
"""How often a guarded travel re-checks its guards (speed) while it is under way."""
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


class Actuator:
    """Sends targets, follows them to the car's confirmation, and keeps each function's machine."""

    def __init__(
        self, bridge: VehicleBridge, signals: Mapping[str, SignalSpec], replies: Replies, limits: GuardLimits
    ) -> None:
        self.bridge = bridge
        self.signals = signals
        self.replies = replies
        self.limits = limits
        self.machines = {name: FunctionMachine(fn) for name, fn in FUNCTIONS.items()}
        self.lock = threading.Lock()
        self.generation: dict[str, int] = {}
        """Function name -> how many requests have targeted it; a travel speaks only while it is the
        newest."""
        self._listeners: list[Callable[[str], None]] = []
        self._travels: list[threading.Thread] = []

    def state(self) -> dict[str, Value]:
        return self.bridge.state()

    def start(
        self,
        intent: str,
        request: Request,
        state: Mapping[str, Value],
        signal_targets: dict[str, Value],
        previous: dict[str, Value],
    ) -> Action:
        """Send ``request``'s targets (already guarded) and say how it went: done, or moving with the
        end of the travel to come in ``Action.then``."""
        with self.lock:
            for name, target in request.targets.items():
                self.machines[name].request(state=state, target=target, limits=self.limits)
                self.generation[name] = self.generation.get(name, 0) + 1
            generation = {name: self.generation[name] for name in request.targets}
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
            FUNCTIONS[name].shape is Travel and self.signals[FUNCTIONS[name].signal].kind is not Kind.BOOL
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
            if action.status != Status.DONE and action.reply:
                self._tell(action.reply)
            then.set_result(action)

        follower = threading.Thread(target=finish, name=f"travel-{intent}", daemon=True)
        with self.lock:
            self._travels = [t for t in self._travels if t.is_alive()] + [follower]
        follower.start()
        key = f"moving.{intent}"
        moving = self.replies.say(key, **request.fields) if self.replies.has(key) else ""
        reply = " ".join(x for x in (moving, *request.notes) if x)
        return Action(intent, Status.MOVING, reply, signal_targets, {}, (), previous, then=then)

    def stop_travel(self) -> Action | None:
        """Stop every window, sunroof, trunk and mirror under way where it stands (its reported
        position as the new target: the DBC has no stop command); ``None`` when nothing moves."""
        state = self.state()
        with self.lock:
            moving = {
                name: state[FUNCTIONS[name].signal]
                for name, machine in self.machines.items()
                if FUNCTIONS[name].shape is Travel and machine.busy and FUNCTIONS[name].signal in state
            }
        if not moving:
            return None
        result = self.hold(moving)
        confirmed = dict(result.confirmed) if result is not None else {}
        if result is None or set(confirmed) != {FUNCTIONS[n].signal for n in moving}:
            labels = " and ".join(FUNCTIONS[n].label for n in moving)
            return Action(
                "assistant.cancel", Status.TIMEOUT, self.replies.say("cancel.unconfirmed", labels=labels)
            )
        where = " and ".join(self.where(n, confirmed[FUNCTIONS[n].signal]) for n in moving)
        targets = {FUNCTIONS[n].signal: v for n, v in moving.items()}
        frames = tuple(result.frames)
        reply = self.replies.say("cancel.stopped", where=where)
        return Action("assistant.cancel", Status.STOPPED, reply, targets, confirmed, frames=frames)

    def where(self, name: str, value: Value) -> str:
        """Where a stopped travel stands, for a reply: "the driver window is 40 percent open"."""
        label = FUNCTIONS[name].label
        if self.signals[FUNCTIONS[name].signal].kind is Kind.BOOL:
            if name == "trunk":
                key = "where.open" if value else "where.closed"
            else:
                key = "where.folded" if value else "where.unfolded"
        else:
            key = "where.percent" if value else "where.closed"
        return self.replies.words(key, label=label, percent=value)

    def hold(self, targets: Mapping[str, Value]) -> Actuation | None:
        """Send ``targets`` past the guards (a stop, a retreat to safety) and settle their machines on
        what the car confirms; the travels they end are left to speak no more. None: not sent."""
        with self.lock:
            for name in targets:
                self.generation[name] = self.generation.get(name, 0) + 1
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

    def listen(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call ``callback(text)`` with what must be said later (a window that stopped short); returns
        the function that stops it."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def settle(self, timeout_s: float | None = None) -> bool:
        """Wait until every travel in progress has ended; False when ``timeout_s`` ran out first."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self.lock:
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

    def _fail(self, targets: Mapping[str, Value]) -> None:
        for name in targets:
            self.machines[name].fail()

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

        with self.lock:
            current = {n for n in request.targets if self.generation.get(n) == generation[n]}
        error = outcome.get("error")
        if isinstance(error, SendError):
            # nothing left the bridge (a part-way failure comes back as ``unsent``)
            self._fail({n: v for n, v in request.targets.items() if n in current})
            # bus_down: the bus was known down and nothing left; send: a frame failed on the way
            key = "failure.bus_down" if error.code == "bus_down" else "failure.send"
            return Action(intent, Status.FAILED, self.replies.say(key), signal_targets)
        if isinstance(error, CarCannotError):
            # a status-only function on this car: refused before any frame, the car is as it was
            self._fail({n: v for n, v in request.targets.items() if n in current})
            return Action(intent, Status.REFUSED, self.replies.say("failure.car_cannot"), signal_targets)
        if isinstance(error, BridgeError):
            self._fail({n: v for n, v in request.targets.items() if n in current})
            return Action(intent, Status.FAILED, self.replies.say("failure.rejected"), signal_targets)
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
            return Action(intent, Status.REPLACED, "", signal_targets, confirmed, (), changed, frames)
        if timed_out or unsent:
            parts = []
            if confirmed:
                parts.append(self._partly_done(intent, request, confirmed))
            for sigs, key in ((timed_out, "failure.timeout"), (unsent, "failure.unsent")):
                if sigs:
                    many = "_many" if len(sigs) > 1 else ""
                    parts.append(self.replies.say(key + many, label=labels(sigs)))
            return Action(
                intent,
                Status.FAILED if unsent else Status.TIMEOUT,
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
        return Action(intent, Status.DONE, reply, signal_targets, confirmed, (), changed, frames)

    def _partly_done(self, intent: str, request: Request, confirmed: Mapping[str, Value]) -> str:
        """What the car confirmed of a change that only partly happened ("I've locked the front doors.")."""
        key = f"partial.{intent}"
        if not self.replies.has(key):
            key = "partial.done"
        return self.replies.say(key, **{**request.fields, "done": labels(confirmed)})


def labels(signals: Sequence[str] | Mapping[str, Value]) -> str:
    """The functions behind ``signals`` as the driver says them: "the front doors", "the trunk"."""
    names = {BY_SIGNAL[sig].name for sig in signals}
    for members, label in _GROUP_LABELS:
        if names == members:
            return label
    found = [fn.label for name, fn in FUNCTIONS.items() if name in names]
    return found[0] if len(found) == 1 else ", ".join(found[:-1]) + " and " + found[-1]


class _GuardWatch:
    """Re-checks the guards of a guarded travel (trunk, mirrors) while it is under way.

    A guard is checked when the request is made, but a trunk opening at 0 km/h keeps moving as the
    car pulls away: once a guard no longer allows the target (speed above the limit, or a speed that
    is stale or contradicted and so counts as moving), the travel is sent to its safe state
    (``SAFE_WHILE_MOVING``) and ``end()`` returns the action that says so.
    """

    def __init__(
        self, actuator: Actuator, targets: Mapping[str, Value], generation: Mapping[str, int]
    ) -> None:
        self.actuator = actuator
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
        a = self.actuator
        while not self._done.wait(WATCH_PERIOD_S):
            with a.lock:
                live = {n: t for n, t in self.targets.items() if a.generation.get(n) == self.generation[n]}
            if not live:
                return  # a newer request (close the trunk) took over
            state = a.state()
            refusals = [r for n, t in live.items() if (r := a.machines[n].refusal(state, t, a.limits))]
            if refusals:
                self._stop(live)
                return

    def _stop(self, live: Mapping[str, Value]) -> None:
        a = self.actuator
        safe = {name: SAFE_WHILE_MOVING[name] for name in live}
        said = " and ".join(FUNCTIONS[n].label for n in live)
        log.warning("the car started moving during %s: sending %s", said, safe)
        result = a.hold(safe)
        targets = {FUNCTIONS[n].signal: value for n, value in safe.items()}
        if result is None or set(result.confirmed) != set(targets):
            reply = a.replies.say("stopped.unconfirmed", labels=said)
            status = Status.TIMEOUT
            confirmed = {} if result is None else dict(result.confirmed)
        else:
            confirmed = dict(result.confirmed)
            where = " and ".join(a.where(n, confirmed[FUNCTIONS[n].signal]) for n in live)
            reply = a.replies.say("stopped.moving", where=where)
            status = Status.STOPPED
        frames = () if result is None else tuple(result.frames)
        self.stopped = Action("guard.moving", status, reply, targets, confirmed, frames=frames)

    def end(self) -> Action | None:
        """Stop watching (the travel has ended); the action of the stop, if the watch made one."""
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        return self.stopped
