"""The vehicle: catalog commands -> guarded, clamped signal targets -> the bridge -> confirmed state.

Three checks stand before any frame leaves: the state machine's guards here,
then the bridge's write allowlist and ``encode(strict=True)``. The state the
assistant reports always comes from the car's status frames.

``Vehicle.apply`` is the one gate every actuation passes (a fresh request, an
undo, the yes to a question): it checks the guards and the asks of the
functions it would change against the car's state at that moment, so no path
skips a refusal or a question. What it delegates lives beside it: planning
(planning.py: command -> request), actuation (actuation.py: request -> bridge
-> confirmed action) and answers (answers.py: queries said from the reported
state).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence

from assistant.nlu.base import Command
from assistant.vehicle.action import Action, Question, Status
from assistant.vehicle.actuation import (
    Actuation,
    Actuator,
    CheckedBridge,
    Reading,
    ReportingBridge,
    VehicleBridge,
)
from assistant.vehicle.answers import Answers
from assistant.vehicle.functions import FUNCTIONS
from assistant.vehicle.guards import ASKS, Ask, GuardLimits
from assistant.vehicle.machines import FunctionMachine
from assistant.vehicle.planning import Planner, Request
from assistant.vehicle.replies import Replies, load_replies
from assistant.vehicle.signals import SignalSpec, Value, load_signals

__all__ = ["Action", "Actuation", "Question", "Request", "Status", "Vehicle", "VehicleBridge"]


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
        self._lock = threading.Lock()
        self.signals: dict[str, SignalSpec] = load_signals()
        self.actuator = Actuator(bridge, self.signals, self.replies, self.limits)
        self.machines: dict[str, FunctionMachine] = self.actuator.machines
        self.answers = Answers(self.replies, self._reported)
        self.planner = Planner(self.signals, self.replies, self.answers)
        self.health_checks: list[Callable[[], Sequence[str]]] = []
        """Each returns what is wrong with a worker the car side needs (the bridge's receive thread,
        the simulator's); any problem refuses actuation."""
        if isinstance(bridge, CheckedBridge):
            self.health_checks.append(bridge.health)

    # -- public -------------------------------------------------------------

    def state(self) -> dict[str, Value]:
        return self.bridge.state()

    def handles(self, intent: str) -> bool:
        return self.planner.handles(intent)

    def plan(self, command: Command, state: Mapping[str, Value] | None = None) -> Request:
        """What ``command`` would ask of the car now (or in ``state``); nothing moves."""
        return self.planner.plan(command, self.state() if state is None else state)

    def execute(self, command: Command, *, yes_to: Question | None = None) -> Action:
        """Carry out one command; never raises for a car that refuses or stays silent."""
        state = self.state()
        request = self.planner.plan(command, state)
        if request.refusal:
            return Action(command.intent, Status.REFUSED, request.refusal)
        if request.answer is not None:
            return Action(command.intent, Status.ANSWERED, request.answer)
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
            return Action(intent, Status.EXPIRED, self.replies.say("dialogue.confirm_expired"))
        cannot = self._car_cannot(request.targets)
        if cannot:
            return Action(intent, Status.REFUSED, self.replies.say(cannot))
        state = dict(self.state() if state is None else state)
        for name, target in request.targets.items():
            refusal = self.machines[name].refusal(state, target, self.limits)
            if refusal:
                return Action(intent, Status.REFUSED, self.replies.say(refusal))
        if request.targets and self.health():
            return Action(intent, Status.FAILED, self.replies.say("failure.unhealthy"))
        signal_targets = {FUNCTIONS[name].signal: target for name, target in request.targets.items()}
        asks = self._asks(request, state)
        if asks and not (yes_to is not None and set(asks) <= yes_to.asks):
            return self._ask(intent, request, asks, signal_targets, command)
        previous = {sig: state[sig] for sig in signal_targets if sig in state}
        return self.actuator.start(intent, request, state, signal_targets, previous)

    def health(self) -> list[str]:
        """What is wrong with the workers the car side needs; empty when all is well."""
        problems: list[str] = []
        for check in self.health_checks:
            problems += check()
        return problems

    def stop_travel(self) -> Action | None:
        """Stop every window, sunroof, trunk and mirror under way where it stands (its reported
        position as the new target: the DBC has no stop command); ``None`` when nothing moves."""
        return self.actuator.stop_travel()

    def answer(self, subject: str, state: Mapping[str, Value]) -> str:
        """The answer to a query about ``subject`` from ``state`` (signal -> value)."""
        return self.answers.answer(subject, state)

    def listen(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call ``callback(text)`` with what must be said later (a window that stopped short); returns
        the function that stops it."""
        return self.actuator.listen(callback)

    def settle(self, timeout_s: float | None = None) -> bool:
        """Wait until every travel in progress has ended; False when ``timeout_s`` ran out first."""
        return self.actuator.settle(timeout_s)

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

    # -- the gate's checks --------------------------------------------------

    def _reported(self) -> Mapping[str, Reading]:
        return self.bridge.reported() if isinstance(self.bridge, ReportingBridge) else {}

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
        return Action(intent, Status.CONFIRM, prompt, signal_targets, question=question)

    def _fresh(self, question: Question, now: float) -> bool:
        return 0 <= now - question.asked_at <= self.limits.question_timeout_s

    def _take(self, question: Question) -> bool:
        """True once for a question this vehicle asked, while it is fresh; it is used up either way."""
        with self._lock:
            open_ = any(q is question for q in self._questions)
            self._questions = [q for q in self._questions if q is not question]
        return open_ and self._fresh(question, self.clock())
