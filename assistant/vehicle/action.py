"""What the vehicle hands back: the ``Action`` of one command and the ``Question`` a change waits on.

Their own module because the gate (vehicle.py) and actuation (actuation.py)
both make them, and the dialogue and the audit read them.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from assistant.nlu.base import Command
from assistant.vehicle.planning import Request
from assistant.vehicle.signals import Value


class Status(StrEnum):
    """What became of one command; its value is what the JSON output and the audit log say."""

    DONE = "done"
    """The car confirmed every target."""
    MOVING = "moving"
    """A window or sunroof the car reports on its way; ``Action.then`` holds how it ends."""
    REPLACED = "replaced"
    """A newer request re-targeted it before it arrived; that request speaks for it."""
    REFUSED = "refused"
    """A guard, the car or the request itself forbade it: nothing was sent."""
    TIMEOUT = "timeout"
    """Sent, but the car did not confirm every target in time."""
    FAILED = "failed"
    """Not sent, or only part of it (bus down, a worker stopped, an error)."""
    ANSWERED = "answered"
    """A reply that needed no actuation (a query, help, repeat)."""
    CONFIRM = "confirm"
    """A question is asked; nothing moves until a clear yes (``Action.question``)."""
    EXPIRED = "expired"
    """The yes came for a question no longer open."""
    STOPPED = "stopped"
    """A travel was stopped where it stood (cancel, or the car started moving)."""
    DROPPED = "dropped"
    """The dialogue did not act on it (the policy, an unclear yes)."""


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
    status: Status
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
            "status": self.status.value,
            "targets": self.targets,
            "confirmed": self.confirmed,
            "timed_out": list(self.timed_out),
            "unsent": list(self.unsent),
            "reply": self.reply,
        }
