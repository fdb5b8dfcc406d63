"""What the vehicle hands back: the ``Action`` of one command and the ``Question`` a change waits on.

Their own module because the gate (vehicle.py) and actuation (actuation.py)
both make them, and the dialogue and the audit read them.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from assistant.nlu.base import Command
from assistant.vehicle.planning import Request
from assistant.vehicle.signals import Value


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
