"""The dialogue: one text turn -> commands -> vehicle actions -> one reply.

It owns what spans turns: a pending yes/no question, the last change (for
undo) and the last reply (for repeat). One bad utterance never stops it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from assistant.errors import AssistantError, InputError
from assistant.nlu.base import Command, Parser
from assistant.policy import ACTED, ASKED, DROPPED, Decision, Policy, Speech, load_policy
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
    decisions: tuple[Decision, ...] = ()
    """The policy's decision for each of ``commands`` (acted / asked / dropped, and why)."""

    def commands_json(self) -> list[dict[str, Any]]:
        decisions: tuple[Decision | None, ...] = self.decisions or (None,) * len(self.commands)
        return [
            {**c.to_json(), **({"decision": d.to_json()} if d else {})}
            for c, d in zip(self.commands, decisions, strict=True)
        ]

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
            "commands": self.commands_json(),
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
    def __init__(
        self, parser: Parser, vehicle: Vehicle, replies: Replies | None = None, policy: Policy | None = None
    ) -> None:
        self.parser = parser
        self.vehicle = vehicle
        self.replies = replies or load_replies()
        self.policy = policy or load_policy()
        self.pending: Command | None = None
        self.last_change: Action | None = None
        self.last_reply = ""

    def handle(self, text: str, speech: Speech | None = None) -> Turn:
        """Answer one utterance; errors become a short reply, never an exception.

        ``speech``: what the recogniser adds to the evidence when ``text`` was heard, not typed.
        """
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
        if not parse.commands:
            return self._done(
                Turn(
                    text, reply=self.replies.say("dialogue.no_command"), timings_ms={"parse": (t1 - t0) * 1e3}
                )
            )
        actions: list[Action] = []
        decisions = self._decide(text, parse.commands, speech)
        self._asking: Command | None = None
        for command, decision in zip(parse.commands, decisions, strict=True):
            try:
                actions.append(self._decided(command, decision))
            except Exception as err:  # one bad command must not stop the assistant
                log.exception("command %s failed", command.intent)
                actions.append(Action(command.intent, "failed", self.replies.say("dialogue.error")))
                return self._done(
                    Turn(
                        text, parse.commands, tuple(actions), self._join(actions), error=repr(err),
                        decisions=decisions,
                    )
                )
        t2 = time.perf_counter()
        timings = {"parse": (t1 - t0) * 1e3, "vehicle": (t2 - t1) * 1e3}
        if self._asking is not None:  # after the turn's other commands, which close older questions
            self.pending = self._asking
        turn = Turn(text, parse.commands, tuple(actions), self._join(actions), timings_ms=timings)
        return self._done(replace(turn, decisions=decisions))

    # -- internals ----------------------------------------------------------

    def _decide(
        self, text: str, commands: tuple[Command, ...], speech: Speech | None
    ) -> tuple[Decision, ...]:
        from assistant.vehicle.guards import is_driving

        try:
            moving = is_driving(self.vehicle.state(), self.vehicle.limits)
        except Exception:  # no state from the car: assume the worst
            moving = True
        policy, parser = self.policy, self.parser
        decisions = [policy.decide(c, policy.evidence(c, text, speech, parser), moving) for c in commands]
        asked = [i for i, d in enumerate(decisions) if d.outcome == ASKED]
        for i in asked[1:]:  # one question at a time
            d = decisions[i]
            decisions[i] = replace(d, outcome=DROPPED, reason=f"{d.reason}; one question at a time")
        return tuple(decisions)

    def _decided(self, command: Command, decision: Decision) -> Action:
        """Carry out, ask back or drop ``command`` as the policy decided."""
        if decision.outcome == ACTED:
            return self._one(command)
        if command.intent == "assistant.confirm" and self.pending is not None:
            # an unclear yes is no yes: the question is closed, nothing is done
            self.pending = None
            return Action(command.intent, "dropped", self.replies.say("policy.unsure_yes"))
        if decision.outcome == ASKED and self.replies.has(f"ask.{command.intent}"):
            try:
                fields = self.vehicle.plan(command).fields if self.vehicle.handles(command.intent) else {}
            except Exception:  # a plan that fails is refused when it runs; the question can be plainer
                fields = {}
            self._asking = command
            return Action(command.intent, "confirm", self.replies.say(f"ask.{command.intent}", **fields))
        return Action(command.intent, "dropped", self.replies.say("policy.sorry"))

    @staticmethod
    def _join(actions: list[Action]) -> str:
        return " ".join(a.reply for a in actions if a.reply)

    def _done(self, turn: Turn) -> Turn:
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
            if pending.intent == "assistant.undo":
                return self._undo()
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
