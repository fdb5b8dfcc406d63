"""The dialogue: one text turn -> commands -> vehicle actions -> one reply.

It owns what spans turns: a pending yes/no question, the last change (for
undo) and the last reply (for repeat). One bad utterance never stops it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from assistant.audit import Recorder, why
from assistant.context import Context
from assistant.errors import AssistantError, InputError
from assistant.nlu.base import Command, Parser
from assistant.vehicle.functions import BY_SIGNAL
from assistant.vehicle.replies import Replies, load_replies
from assistant.vehicle.vehicle import Action, Request, Vehicle

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Turn:
    """One request and everything it caused."""

    text: str
    commands: tuple[Command, ...] = ()
    actions: tuple[Action, ...] = ()
    reply: str = ""
    error: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def frames(self) -> tuple[Any, ...]:
        return tuple(f for a in self.actions for f in a.frames)

    def settled(self, timeout_s: float | None = None) -> Turn:
        """This turn once every travel it started has ended (waits): each action as it ended, and
        the reply with what went wrong on the way ("The driver window didn't confirm ...")."""
        finals = tuple(a.settled(timeout_s) for a in self.actions)
        late = [
            f.reply for a, f in zip(self.actions, finals, strict=True) if a is not f and f.status != "done"
        ]
        return replace(self, actions=finals, reply=" ".join(x for x in (self.reply, *late) if x))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "text": self.text,
            "commands": [c.to_json() for c in self.commands],
            "actions": [a.to_json() for a in self.actions],
            "frames": [f.to_json() for f in self.frames],
            "reply": self.reply,
        }
        if self.error:
            out["error"] = self.error
        if self.timings_ms:
            out["timings_ms"] = {k: round(v, 2) for k, v in self.timings_ms.items()}
        return out


class Dialogue:
    def __init__(self, parser: Parser, vehicle: Vehicle, replies: Replies | None = None) -> None:
        self.parser = parser
        self.vehicle = vehicle
        self.replies = replies or load_replies()
        self.pending: Command | None = None
        self.last_change: Action | None = None
        self.last_reply = ""
        self.context = Context()  # follow-ups ("a bit more") -> full commands
        self.recorder = Recorder(vehicle, parser, self.context)  # each turn -> an audit entry (why, log)

    def handle(self, text: str) -> Turn:
        """Answer one utterance; errors become a short reply, never an exception."""
        import time

        if not text.strip():
            return self._done(Turn(text, reply=self.replies.say("dialogue.empty")))
        t0 = time.perf_counter()
        try:
            parse = self.parser.parse(text)
        except InputError as err:
            return self._done(Turn(text, reply=self.replies.say("dialogue.too_long"), error=str(err)))
        except AssistantError as err:
            log.warning("parse failed: %s", err)
            return self._done(Turn(text, reply=self.replies.say("dialogue.error"), error=str(err)))
        t1 = time.perf_counter()
        parse = replace(parse, commands=self.context.resolve(text, parse.commands))
        if not parse.commands:
            return self._done(
                Turn(
                    text, reply=self.replies.say("dialogue.no_command"), timings_ms={"parse": (t1 - t0) * 1e3}
                )
            )
        actions = []
        for command in parse.commands:
            try:
                actions.append(self._one(command))
            except Exception as err:  # one bad command must not stop the assistant
                log.exception("command %s failed", command.intent)
                actions.append(Action(command.intent, "failed", self.replies.say("dialogue.error")))
                return self._done(
                    Turn(text, parse.commands, tuple(actions), self._join(actions), error=repr(err))
                )
        t2 = time.perf_counter()
        timings = {"parse": (t1 - t0) * 1e3, "vehicle": (t2 - t1) * 1e3}
        return self._done(Turn(text, parse.commands, tuple(actions), self._join(actions), timings_ms=timings))

    # -- internals ----------------------------------------------------------

    @staticmethod
    def _join(actions: list[Action]) -> str:
        return " ".join(a.reply for a in actions if a.reply)

    def _done(self, turn: Turn) -> Turn:
        try:
            self.recorder.record(turn)
        except Exception:  # the audit log must never cost the driver a turn
            log.exception("audit record failed")
        self.context.remember(turn)
        if turn.reply and not any(a.intent == "assistant.repeat" for a in turn.actions):
            self.last_reply = turn.reply
        return turn

    def _one(self, command: Command) -> Action:
        intent = command.intent
        say = self.replies.say
        if intent == "assistant.cancel":
            self.pending = None
            return Action(intent, "answered", say("dialogue.cancel"))
        if intent == "assistant.confirm":
            if self.pending is None:
                return Action(intent, "answered", say("dialogue.confirm_nothing"))
            pending, self.pending = self.pending, None
            return self._remember(self.vehicle.execute(pending, confirmed=True))
        if intent == "assistant.deny":
            if self.pending is None:
                return Action(intent, "answered", say("dialogue.deny_nothing"))
            self.pending = None
            return Action(intent, "answered", say("dialogue.deny_pending"))
        if intent == "assistant.undo":
            return self._undo()
        if intent == "assistant.repeat":
            return Action(intent, "answered", self.last_reply or say("dialogue.repeat_nothing"))
        if intent == "assistant.why":
            return Action(intent, "answered", why(self.recorder.last_entry(), self.replies))
        if intent == "assistant.help":
            return Action(intent, "answered", say("dialogue.help"))
        self.pending = None
        action = self.vehicle.execute(command)
        if action.status == "confirm":
            self.pending = command
        return self._remember(action)

    def _remember(self, action: Action) -> Action:
        if action.status in ("done", "moving", "timeout") and action.previous:
            self.last_change = action
        return action

    def _undo(self) -> Action:
        change = self.last_change
        if change is None:
            return Action("assistant.undo", "answered", self.replies.say("dialogue.undo_nothing"))
        request = Request({BY_SIGNAL[sig].name: value for sig, value in change.previous.items()})
        action = self.vehicle.apply("assistant.undo", request)
        if action.status in ("done", "moving"):
            self.last_change = None
            return replace(action, reply=self.replies.say("dialogue.undo_done"))
        return action
