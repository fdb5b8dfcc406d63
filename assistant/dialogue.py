"""The dialogue: one text turn -> commands -> vehicle actions -> one reply.

It owns what spans turns: a pending yes/no question, the last change (for
undo) and the last reply (for repeat). One bad utterance never stops it.

A question is answered by the very next turn or not at all: only a clear yes
(the words of the ``assistant.confirm`` templates, whatever the parser made
of them) carries it out, through ``Vehicle.confirm``, which checks it again
against the car's state and its age; anything else drops it, with nothing done.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from hassil import is_match

from assistant.audit import Recorder, why
from assistant.context import Context
from assistant.errors import AssistantError, InputError
from assistant.nlu.base import Command, Parser
from assistant.nlu.intents import load_intents
from assistant.nlu.templates import clean
from assistant.policy import (
    ACTED,
    ASKED,
    DROPPED,
    Decision,
    Policy,
    Speech,
    load_policy,
    negation,
    unreadable_number,
)
from assistant.vehicle.functions import BY_SIGNAL, FUNCTIONS
from assistant.vehicle.replies import Replies, load_replies
from assistant.vehicle.signals import Value
from assistant.vehicle.vehicle import Action, Question, Request, Status, Vehicle

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
        pairs = zip(self.actions, finals, strict=True)
        late = [f.reply for a, f in pairs if a is not f and f.status != Status.DONE]
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


@cache
def _yes_sentences() -> tuple[Any, ...]:
    return tuple(s for d in load_intents().intents["assistant.confirm"].data for s in d.sentences)


def clear_yes(text: str) -> bool:
    """True when ``text`` is, word for word, a yes of the ``assistant.confirm`` templates.

    A language model may read a stray "d" or "i" as a yes; a question is answered
    only by words that say it.
    """
    if text.strip().endswith("?"):
        return False  # "yes?" asks back ("what did you say?"); Whisper writes a rising yes this way
    intents, said = load_intents(), clean(text)
    rules = intents.expansion_rules
    return bool(said) and any(
        is_match(said, s, slot_lists=intents.slot_lists, expansion_rules=rules, language="en")
        for s in _yes_sentences()
    )


UNDO_S = 30.0
"""How long (s) after a change an undo may take it back: a stray "oops" an hour after "lock the doors"
must not unlock them."""

_OPPOSITES = {
    frozenset(pair)
    for pair in (("on", "off"), ("open", "close"), ("lock", "unlock"), ("up", "down"), ("fold", "unfold"))
}
"""Words that say one function two ways when joined by "and" ("on and off", "open and close")."""


def said_both_ways(text: str) -> str | None:
    """The "X and Y" of ``text`` whose X and Y are opposites ("on and off"), or None."""
    words = clean(text).split()
    for a, conj, b in zip(words, words[1:], words[2:], strict=False):
        if conj == "and" and frozenset((a, b)) in _OPPOSITES:
            return f"{a} and {b}"
    return None


ANSWERS = frozenset({"assistant.confirm", "assistant.deny", "assistant.repeat"})
"""Intents a turn may hold and still answer the question before it."""


class Dialogue:
    def __init__(
        self, parser: Parser, vehicle: Vehicle, replies: Replies | None = None, policy: Policy | None = None
    ) -> None:
        self.parser = parser
        self.vehicle = vehicle
        self.replies = replies or load_replies()
        self.policy = policy or load_policy()
        self.pending: Question | None = None
        self.last_change: Action | None = None
        self._change_at = float("-inf")  # context.clock() when last_change was made
        self.last_reply = ""
        self._text = ""
        self._dropped = False  # this turn dropped a question it did not answer
        self.context = Context()  # follow-ups ("a bit more") -> full commands
        self.recorder = Recorder(vehicle, parser, self.context)  # each turn -> an audit entry (why, log)

    def handle(self, text: str, speech: Speech | None = None) -> Turn:
        """Answer one utterance; errors become a short reply, never an exception.

        ``speech``: what the recogniser adds to the evidence when ``text`` was heard, not typed.
        """
        import time

        self._text, self._dropped = text, False
        if not text.strip():
            self._drop_question()
            return self._done(Turn(text, reply=self.replies.say("dialogue.empty")))
        t0 = time.perf_counter()
        try:
            parse = self.parser.parse(text)
        except InputError as err:
            self._drop_question()
            return self._done(Turn(text, reply=self.replies.say("dialogue.too_long"), error=str(err)))
        except AssistantError as err:
            log.warning("parse failed: %s", err)
            self._drop_question()
            return self._done(Turn(text, reply=self.replies.say("dialogue.error"), error=str(err)))
        t1 = time.perf_counter()
        parse = replace(parse, commands=self.context.resolve(text, parse.commands))
        if not {c.intent for c in parse.commands} <= ANSWERS or not parse.commands:
            self._drop_question()  # the driver moved on: the question lapses unanswered
        # a number outside what its slot can mean: the reason is said, nothing moves
        refused = [Action(r.intent, Status.REFUSED, r.reply(self.replies.say)) for r in parse.refused]
        if not parse.commands and refused:
            return self._done(
                Turn(text, (), tuple(refused), self._join(refused), timings_ms={"parse": (t1 - t0) * 1e3})
            )
        if not parse.commands:
            return self._done(
                Turn(
                    text, reply=self.replies.say("dialogue.no_command"), timings_ms={"parse": (t1 - t0) * 1e3}
                )
            )
        actions: list[Action] = []
        decisions = self._decide(text, parse.commands, speech)
        clashes = self._contradictions(parse.commands)
        for i, (command, decision) in enumerate(zip(parse.commands, decisions, strict=True)):
            if i in clashes:
                if clashes[i]:
                    actions.append(Action(command.intent, Status.REFUSED, clashes[i]))
                continue
            try:
                actions.append(self._decided(command, decision))
            except Exception as err:  # one bad command must not stop the assistant
                log.exception("command %s failed", command.intent)
                actions.append(Action(command.intent, Status.FAILED, self.replies.say("dialogue.error")))
                return self._done(
                    Turn(
                        text, parse.commands, tuple(actions), self._join(actions), error=repr(err),
                        decisions=decisions,
                    )
                )
        t2 = time.perf_counter()
        actions += refused
        timings = {"parse": (t1 - t0) * 1e3, "vehicle": (t2 - t1) * 1e3}
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
        live = self.context.live()
        decisions = [
            policy.decide(c, policy.evidence(c, text, speech, parser, live, moving), moving) for c in commands
        ]
        said_not, unread = negation(text), unreadable_number(text)
        unanswered = self.context.resolved is not None and self.context.unanswered
        for i, d in enumerate(decisions):
            # a follow-up of a question never answered ("and the rear too" after "the other one" was
            # asked back): asked back in turn, whatever its risk now (the car may have stopped since)
            if unanswered and d.outcome == ACTED and not commands[i].intent.startswith("assistant."):
                decisions[i] = d = replace(d, outcome=ASKED, reason="a follow-up of a question not answered")
            # "no need to open the window", "don't unlock the doors": whatever the parser made of it,
            # nothing that moves the car goes out without a yes
            # (an undo moves the car too: "no need to undo" undid the last change)
            if said_not and d.risk != "harmless" and d.outcome == ACTED:
                decisions[i] = replace(d, outcome=ASKED, reason=f"the request says '{said_not}'")
            # "open the window 1e9 percent": a number nobody could read is not a request to open fully
            elif unread and d.risk != "harmless" and d.outcome == ACTED:
                decisions[i] = replace(d, outcome=ASKED, reason=f"the number '{unread}' could not be read")
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
            self._drop_question()
            return Action(command.intent, Status.DROPPED, self.replies.say("dialogue.confirm_unclear"))
        if decision.outcome == ASKED and self.replies.has(f"ask.{command.intent}"):
            # the question goes through the vehicle's one gate: a clear yes in time, re-planned and
            # re-checked against the car at the yes (Vehicle.confirm), like any other question
            if command.intent == "assistant.undo":
                change = self._undoable()
                if change is None:
                    return Action(command.intent, Status.ANSWERED, self.replies.say("dialogue.undo_nothing"))
                request = Request({BY_SIGNAL[sig].name: value for sig, value in change.previous.items()})
                prompt = self.replies.say("ask.assistant.undo")
                return self._settle_question(self.vehicle.ask(command.intent, request, prompt))
            if not self.vehicle.handles(command.intent):
                return Action(command.intent, Status.DROPPED, self.replies.say("policy.sorry"))
            request = self.vehicle.plan(command)
            if request.refusal:
                return Action(command.intent, Status.REFUSED, request.refusal)
            prompt = self.replies.say(f"ask.{command.intent}", **request.fields)
            return self._settle_question(self.vehicle.ask(command.intent, request, prompt, command))
        return Action(command.intent, Status.DROPPED, self.replies.say("policy.sorry"))

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
            self._drop_question()
            # a window still on its way stops where it stands, and the reply says where
            stopped = self.vehicle.stop_travel()
            return stopped or Action(intent, Status.ANSWERED, say("dialogue.cancel"))
        if intent == "assistant.confirm":
            question = self.pending
            if question is None:
                if self._dropped:
                    return Action(intent, Status.ANSWERED, say("dialogue.confirm_unclear"))
                # a stray word the parser took for a yes, with nothing asked: not understood
                key = "dialogue.confirm_nothing" if clear_yes(self._text) else "dialogue.no_command"
                return Action(intent, Status.ANSWERED, say(key))
            if not clear_yes(self._text):
                self._drop_question()
                return Action(intent, Status.ANSWERED, say("dialogue.confirm_unclear"))
            self.pending = None
            return self._settle_question(self.vehicle.confirm(question))
        if intent == "assistant.deny":
            if self.pending is None and not self._dropped:
                return Action(intent, Status.ANSWERED, say("dialogue.deny_nothing"))
            self._drop_question()
            return Action(intent, Status.ANSWERED, say("dialogue.deny_pending"))
        if intent == "assistant.undo":
            return self._undo()
        if intent == "assistant.repeat":
            return Action(intent, Status.ANSWERED, self.last_reply or say("dialogue.repeat_nothing"))
        if intent == "assistant.why":
            return Action(intent, Status.ANSWERED, why(self.recorder.last_entry(), self.replies))
        if intent == "assistant.help":
            return Action(intent, Status.ANSWERED, say("dialogue.help"))
        return self._settle_question(self.vehicle.execute(command))

    def _settle_question(self, action: Action) -> Action:
        """Keep the question ``action`` asks, or what it changed; an undo that went out is used up."""
        if action.question is not None:
            self._drop_question()
            self.pending = action.question
            return action
        if action.intent == "assistant.undo":
            if action.status in (Status.DONE, Status.MOVING):
                self.last_change = None
                return replace(action, reply=self.replies.say("dialogue.undo_done"))
            return action
        return self._remember(action)

    def _drop_question(self) -> None:
        if self.pending is not None:
            self.vehicle.withdraw(self.pending)
            self.pending = None
            self._dropped = True

    def _remember(self, action: Action) -> Action:
        # ``previous`` holds only what the car confirmed it changed (a partial send included)
        if action.status in (Status.DONE, Status.MOVING, Status.TIMEOUT, Status.FAILED) and action.previous:
            self.last_change, self._change_at = action, self.context.clock()
        return action

    def _undoable(self) -> Action | None:
        """The last change the car confirmed, as it ended; None when there is nothing to undo."""
        change = self.last_change
        if self.context.clock() - self._change_at > UNDO_S:
            change = None  # too long ago to be what "undo" refers to
        then = change.then if change is not None else None
        if then is not None and then.done() and then.exception() is None:
            change = then.result()  # the travel has ended: undo what it confirmed
        if change is None or not change.previous:
            return None
        return change

    def _undo(self) -> Action:
        change = self._undoable()
        if change is None:
            return Action("assistant.undo", Status.ANSWERED, self.replies.say("dialogue.undo_nothing"))
        request = Request({BY_SIGNAL[sig].name: value for sig, value in change.previous.items()})
        # the same gate as any request: guards and questions on the car's state now
        return self._settle_question(self.vehicle.apply("assistant.undo", request))

    def _contradictions(self, commands: tuple[Command, ...]) -> dict[int, str]:
        """Commands of one request that set one function two ways ("the AC on and off"): index ->
        the reply that says so (on the first of them), or "" for the others. None of them is carried out."""
        state = self.vehicle.state()
        wants: dict[str, dict[Value, list[int]]] = {}
        planned: dict[int, list[str]] = {}
        for i, command in enumerate(commands):
            if not self.vehicle.handles(command.intent):
                continue
            try:
                request = self.vehicle.plan(command, state)
            except Exception:  # _one reports a command that cannot be planned
                continue
            planned[i] = list(request.targets)
            for name, target in request.targets.items():
                wants.setdefault(name, {}).setdefault(target, []).append(i)
        out: dict[int, str] = {}
        clashing = [name for name, by_target in wants.items() if len(by_target) > 1]
        for name in clashing:
            involved = sorted(i for ids in wants[name].values() for i in ids)
            new = [i for i in involved if i not in out]
            if new:
                label = FUNCTIONS[name].label
                out[new[0]] = self.replies.say("dialogue.contradiction", label=label)
                out.update({i: "" for i in new[1:]})
        if not out and said_both_ways(self._text):
            # "turn the AC on and off": the language model keeps one half and drops the other, so the
            # plans above agree; the words still say both, so nothing that moves the car is done
            moving = [i for i, targets in sorted(planned.items()) if targets]
            if moving:
                label = FUNCTIONS[planned[moving[0]][0]].label
                out[moving[0]] = self.replies.say("dialogue.contradiction", label=label)
                out.update({i: "" for i in moving[1:]})
        return out
