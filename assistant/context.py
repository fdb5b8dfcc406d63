"""Context across turns: a follow-up ("and the passenger side too", "a bit more") -> full commands.

The dialogue keeps the car commands of the last turn; a follow-up is rewritten into complete
catalog commands from them before anything runs, so both parsers get it and the rewritten
commands go through the same guards, questions and confirmations as any other. The kinds:

- ``also``: "and the passenger side too", "the rear ones as well": the same intent, a new
  position (window, seat, door, zone or defrost target), the other slots kept.
- ``other``: "the other one", "the other side": the same intent, the opposite position.
- ``instead``: "not that one, the rear", "no, the other one": undo the last change, then the
  same intent at the new position.
- ``more`` / ``less``: "a bit more", "too much": the last relative command again, or reversed
  (temperature, fan, volume, seat heating one step; a window or the sunroof 20 points).
- ``again``: "close it again", "turn it off", "do that again": the verb on the same target.

A context lives for ``expire_s`` seconds after its turn and one turn: a turn that is not a car
command (an unrelated request, no command at all, a query, cancel/deny/undo) forgets it; "why",
"repeat" and "help" keep it. A follow-up with no live context, or one that fits none of its commands, acts on
nothing ("a bit more" alone is no request), except a verb on a pronoun ("lock it") or "do that
again", which mean something alone and are left to the parser.
A turn that asks "why" only asks: any other command parsed beside it is dropped.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.catalog import SLOT_SPECS, SlotValue, problems
from assistant.nlu.base import Command

if TYPE_CHECKING:
    from assistant.dialogue import Turn
    from assistant.policy import Decision

EXPIRE_S = 8.0
"""How long (s) after a turn a follow-up may refer to it: the reply, then a breath."""
STEP_PERCENT = 20
"""A window's or the sunroof's 'a bit more' / 'too much', in percentage points."""
SEAT_MAX = 3

KEEPS_CONTEXT = {"assistant.why", "assistant.repeat", "assistant.help", "assistant.confirm"}

# position words -> catalog value (longest phrases first when matched)
POSITIONS: dict[str, str] = {
    "rear left": "rear_left",
    "back left": "rear_left",
    "left rear": "rear_left",
    "left back": "rear_left",
    "rear right": "rear_right",
    "back right": "rear_right",
    "right rear": "rear_right",
    "right back": "rear_right",
    "driver": "driver",
    "drivers": "driver",
    "driver's": "driver",
    "my": "driver",
    "mine": "driver",
    "passenger": "passenger",
    "passengers": "passenger",
    "passenger's": "passenger",
    "rear": "rear",
    "back": "rear",
    "front": "front",
    "all": "all",
    "every": "all",
    "everything": "all",
    "both": "all",
    "all of them": "all",
    "the rest": "all",
    "left": "left",
    "right": "right",
}
SIDES = {
    # "the right one" after a rear window is the rear right; after a front one, the passenger's
    # (a left-hand-drive car: the driver sits on the left)
    ("left", "rear"): "rear_left",
    ("right", "rear"): "rear_right",
    ("left", "front"): "driver",
    ("right", "front"): "passenger",
}
OPPOSITE = {
    "driver": "passenger",
    "passenger": "driver",
    "rear_left": "rear_right",
    "rear_right": "rear_left",
    "front": "rear",
    "rear": "front",
}
# intent -> (its position slot, the value meant when the slot is left out)
POSITION_SLOT: dict[str, tuple[str, str]] = {
    "window.open": ("window", "driver"),
    "window.close": ("window", "driver"),
    "seat.heat": ("seat", "driver"),
    "doors.lock": ("door", "all"),
    "doors.unlock": ("door", "all"),
    "climate.set_temperature": ("zone", "all"),
    "climate.adjust_temperature": ("zone", "all"),
    "climate.defrost": ("target", "front"),
}
# verb -> intent, per family of intents that verb switches between
VERBS: dict[str, dict[str, str]] = {
    "open": {"window": "window.open", "sunroof": "sunroof.open", "trunk": "trunk.open"},
    "close": {"window": "window.close", "sunroof": "sunroof.close", "trunk": "trunk.close"},
    "lock": {"doors": "doors.lock"},
    "unlock": {"doors": "doors.unlock"},
    "fold": {"mirrors": "mirrors.fold"},
    "unfold": {"mirrors": "mirrors.unfold"},
}
VERB_WORDS = {
    "open": "open",
    "roll down": "open",
    "close": "close",
    "shut": "close",
    "roll up": "close",
    "lock": "lock",
    "unlock": "unlock",
    "fold": "fold",
    "fold in": "fold",
    "unfold": "unfold",
    "fold out": "unfold",
}

_FILLER = r"(?:please|then|now|ok|okay|oh|um|uh|actually|sorry|hey|just|and|also)"
_NOUN = (
    r"(?:one|ones|side|sides|window|windows|seat|seats|door|doors|zone|too|as well|also|instead|please|then)"
)
_POS = "|".join(sorted((re.escape(p) for p in POSITIONS), key=len, reverse=True))
_POSITION = rf"(?:the |for the |on the |to the |for |on )?(?P<pos>{_POS})(?: {_NOUN})*"
_NEGATE = (
    r"(?:no|nope|not that one|not that|not this one|not the \w+(?: \w+)?|wrong one|the wrong one|"
    r"i meant|i mean|i said|no i meant|no i said|make that|change that to|rather)"
)

PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "instead",
        re.compile(
            rf"(?:{_NEGATE} )+(?:(?P<other>(?:the )?other (?:one|ones|side|window|seat|door))|{_POSITION})"
            rf"(?: {_NOUN})*"
        ),
    ),
    ("other", re.compile(rf"(?:the )?other (?:one|ones|side|window|seat|door)(?: {_NOUN})*")),
    (
        "also",
        re.compile(
            r"(?:(?:and|also|(?:do )?(?:the )?same(?: thing)? (?:for|on)|what about|how about|and for|"
            r"and on|now)(?: the)? )?"
            rf"{_POSITION}"
        ),
    ),
    (
        "more",
        re.compile(
            r"(?:(?:a )?(?:bit|little|tad|touch|little bit|lot|notch) (?:more|further)|more|even more|"
            r"some more|further|a bit further|keep going|more please|little more|bit more)(?: please)?"
        ),
    ),
    (
        "less",
        re.compile(
            r"(?:(?:that's |that is |it's |it is )?(?:too much|too far|way too much|a bit too much|"
            r"a little too much)|(?:a )?(?:bit|little|tad|touch|little bit|notch) less|less|not so much|"
            r"not that much|back a bit|go back a bit|a bit back|a little back|bring it back a bit|"
            r"little less|bit less)(?: please)?"
        ),
    ),
    (
        "again",
        re.compile(
            r"(?:(?P<verb>open|close|shut|lock|unlock|fold|unfold|roll down|roll up|fold in|fold out) "
            r"(?:it|them|that|those)(?: back)?|(?P<fold>fold) (?:it|them) (?P<inout>in|out)|"
            r"(?:turn|switch|put) (?:it|them|that) (?:back )?(?P<state>on|off)|"
            r"(?P<repeat>do (?:it|that|this) (?:again|once more)|same again|the same again))(?: again)?"
        ),
    ),
]


def normalise(text: str) -> str:
    words = re.sub(r"[^\w' ]+", " ", text.lower()).split()
    # fillers at the edges only: "and the passenger side too" keeps its middle
    while words and re.fullmatch(_FILLER, words[0]) and len(words) > 1:
        words = words[1:]
    while words and words[-1] in ("please", "then", "thanks", "thank", "you"):
        words = words[:-1]
    return " ".join(words)


@dataclass(frozen=True)
class FollowUp:
    """What a follow-up asks: its kind and the position or verb it names."""

    kind: str
    position: str | None = None
    verb: str | None = None
    state: str | None = None
    other: bool = False


def classify(text: str) -> FollowUp | None:
    """The follow-up ``text`` is, or None when it says something on its own."""
    t = normalise(text)
    if not t:
        return None
    for kind, pattern in PATTERNS:
        m = pattern.fullmatch(t)
        if m is None:
            continue
        groups = {k: v for k, v in m.groupdict().items() if v}
        if kind == "also" and " " not in t:
            return None  # a lone "back" or "all" is too thin to act on
        pos = POSITIONS.get(groups.get("pos", ""))
        if kind == "again":
            verb = VERB_WORDS.get(groups.get("verb", "") or f"fold {groups.get('inout', '')}")
            state = groups.get("state") or groups.get("back")
            if "repeat" in groups:
                return FollowUp("repeat")
            return FollowUp("again", verb=verb, state=state)
        return FollowUp(kind, position=pos, other="other" in groups or kind == "other")
    return None


def family(intent: str) -> str:
    """The function an intent moves (doors.lock and doors.unlock are both "doors")."""
    head = intent.split(".")[0]
    return {"doors": "doors", "mirrors": "mirrors"}.get(head, head)


def _with(command: Command, intent: str | None = None, **slots: SlotValue | None) -> Command | None:
    """``command`` with ``slots`` changed (None removes one); None if the catalog refuses it."""
    intent = intent or command.intent
    allowed = SLOT_SPECS[intent]
    new = {k: v for k, v in command.slots.items() if k in allowed}
    for k, v in slots.items():
        if v is None:
            new.pop(k, None)
        else:
            new[k] = v
    if problems(intent, new):
        return None
    return Command(intent, new, command.confidence)


def _moved(command: Command, position: str) -> Command | None:
    slot = POSITION_SLOT.get(command.intent)
    if slot is None:
        return None
    if position in ("left", "right"):
        now = str(command.slots.get(slot[0], slot[1]))
        row = "rear" if now.startswith("rear") else "front"
        position = SIDES[(position, row)]
    return _with(command, **{slot[0]: position})


def _placed(command: Command) -> tuple[str, dict[str, SlotValue]]:
    """``command`` with its position slot's default filled in ("lock the doors" is door=all)."""
    slot = POSITION_SLOT.get(command.intent)
    slots = dict(command.slots)
    if slot is not None:
        slots.setdefault(slot[0], slot[1])
    return command.intent, slots


def _other(command: Command) -> Command | None:
    slot = POSITION_SLOT.get(command.intent)
    if slot is None:
        return None
    now = command.slots.get(slot[0], slot[1])
    opposite = OPPOSITE.get(str(now))
    return _with(command, **{slot[0]: opposite}) if opposite else None


def _step(command: Command, up: bool) -> Command | None:
    """One step more (``up``) or less of a relative or settable command."""
    intent, s = command.intent, command.slots
    direction = "up" if up else "down"
    flip = {"up": "down", "down": "up"}
    if intent == "climate.adjust_temperature":
        d = s.get("direction", "up")
        return _with(command, direction=d if up else flip[str(d)])
    if intent == "climate.set_temperature":
        return _with(command, "climate.adjust_temperature", direction=direction, value=None, unit=None)
    if intent in ("climate.set_fan", "media.volume"):
        if "direction" not in s:  # after "volume 20": more is up, too much is down
            return _with(command, direction=direction, level=None)
        d = str(s["direction"])
        return _with(command, direction=d if up else flip[d])
    if intent == "seat.heat":
        level = int(s.get("level", 2)) + (1 if up else -1)
        return _with(command, level=max(0, min(SEAT_MAX, level)))
    if intent in ("window.open", "sunroof.open"):
        amount = int(s.get("amount", 100)) + (STEP_PERCENT if up else -STEP_PERCENT)
        if amount <= 0:
            return _with(command, intent.replace("open", "close"), amount=None)
        return _with(command, amount=min(100, amount))
    if intent in ("window.close", "sunroof.close"):
        return command if up else _with(command, intent.replace("close", "open"), amount=STEP_PERCENT)
    return None


def _again(command: Command, follow: FollowUp) -> Command | None:
    if follow.verb is not None:
        intent = VERBS[follow.verb].get(family(command.intent))
        if intent is None:
            return None
        return _with(command, intent, amount=None)
    if follow.state is not None:
        if "state" in SLOT_SPECS[command.intent]:
            return _with(command, state=follow.state)
        if command.intent == "seat.heat":
            return _with(command, level=0 if follow.state == "off" else 2)
        if command.intent == "climate.set_fan":
            return _with(command, level=0 if follow.state == "off" else 3, direction=None)
        if command.intent in ("media.mute", "media.unmute"):
            # "turn it back on" after a mute means the sound
            return Command("media.unmute" if follow.state == "on" else "media.mute", {}, command.confidence)
    return None


def _asked_as_follow_up(decision: Decision) -> bool:
    """Whether ``decision`` asked back a security or safety command heard as a follow-up phrase: the
    rule that asks every such command back (``templates`` evidence 0 for it), not weak evidence."""
    return decision.outcome == "asked" and decision.risk == "safety" and decision.short == ("templates",)


@dataclass
class Context:
    """The last turn's car commands, while they may still be referred to."""

    expire_s: float = EXPIRE_S
    clock: Callable[[], float] = time.monotonic
    last: tuple[Command, ...] = ()
    at: float = float("-inf")
    changed: bool = False
    """Whether the last turn changed the car (what an ``instead`` undoes first)."""
    resolved: FollowUp | None = None
    """The follow-up the current turn was read as (None: it was not one)."""
    carried: tuple[bool, ...] = ()
    """Per command of ``last``: carried out (False: asked back, not done yet; see ``remember``). Not
    set for each command of ``last`` (a context built in code), none counts as carried out."""
    unanswered: bool = False
    """Whether the current turn's follow-up was made from a command asked back and not done: the
    dialogue asks it back whatever its risk (a window closing once the car has stopped included)."""

    def live(self) -> tuple[Command, ...]:
        return self.last if self.last and self.clock() - self.at <= self.expire_s else ()

    def follows(self, text: str) -> bool:
        """Whether ``text`` is a follow-up phrase that resolves against the live context to commands
        (what the follow-up window may take as one), without changing anything."""
        follow = classify(text)
        return follow is not None and bool(self._resolved(follow))

    def resolve(self, text: str, commands: tuple[Command, ...]) -> tuple[Command, ...]:
        """The commands to run for ``text``, given the parser's ``commands``."""
        self.resolved, self.unanswered = None, False
        if any(c.intent == "assistant.why" for c in commands):
            return tuple(c for c in commands if c.intent == "assistant.why")
        follow = classify(text)
        if follow is None:
            return commands
        # "lock it", "do that again" mean something alone; "the other one", "a bit more" do not
        # (the SLM reads a lone "turn them off" as doors.unlock: no verb, no fallback)
        standalone = commands if follow.kind == "repeat" or follow.verb is not None else ()
        out = self._resolved(follow)
        if not out:
            return standalone
        self.resolved = follow
        self.unanswered = not all(self._carried())
        return tuple(out)

    def _carried(self) -> tuple[bool, ...]:
        """``carried``, one per command of ``last``; none carried out when they do not line up."""
        return self.carried if len(self.carried) == len(self.last) else (False,) * len(self.last)

    def _resolved(self, follow: FollowUp) -> list[Command]:
        last = self.live()
        out: list[Command] = []
        for command, done in zip(last, self._carried() if last else (), strict=True):
            new: Command | None
            if not done and not (follow.other or follow.position):
                # asked back, not done: only another place for the same intent ("and the rear ones
                # too", "no, the rear ones"), itself asked back; "too much", "close it" of a window
                # that never opened would move the car on a phrase alone
                new = None
            elif follow.kind == "repeat":
                new = command
            elif follow.kind in ("more", "less"):
                new = _step(command, follow.kind == "more")
            elif follow.kind == "again":
                new = _again(command, follow)
            elif follow.other:
                new = _other(command)
            elif follow.position is not None:
                new = _moved(command, follow.position)
                # "for all" after "lock the doors": the place already meant, so no follow-up of it
                # (talk in the window heard as a phrase that would repeat the last command; a door
                # that did not confirm is tried again with a request of its own)
                if new is not None and _placed(new) == _placed(command):
                    new = None
            else:
                new = None
            if new is not None:
                out.append(new)
        if out and follow.kind == "instead" and self.changed:
            out.insert(0, Command("assistant.undo", {}, min(c.confidence for c in out)))
        return out

    def remember(self, turn: Turn) -> None:
        """Keep ``turn``'s car commands as the context, or forget it after an unrelated turn."""
        followed, self.resolved = self.resolved is not None, None
        intents = {c.intent for c in turn.commands}
        changed = any(a.status in ("done", "moving", "timeout") and a.previous for a in turn.actions)
        if intents and intents <= KEEPS_CONTEXT:
            done = {a.intent for a in turn.actions if a.previous} if changed else set()
            pairs = list(zip(self.last, self._carried(), strict=True))
            if any(not c and cmd.intent in done for cmd, c in pairs):
                # a yes carried out the follow-up that was asked: it is done now, and "not that one"
                # undoes it
                self.carried = tuple(c or cmd.intent in done for cmd, c in pairs)
                self.changed, self.at = True, self.clock()
            return
        # only what the policy let act: a command asked back (weak evidence) or dropped is no context,
        # else "do that again" or "a bit more" would carry it out with no yes. One exception: a
        # security or safety command made from a follow-up phrase heard (always asked back, whatever
        # the evidence) stays the referent, not carried out, so that "and the rear ones too" after
        # "the other one" still means the windows, asked back again (Policy.template_agreement);
        # nothing else resolves against it (``_resolved``).
        decided = turn.decisions or (None,) * len(turn.commands)
        kept = [
            (c, d is None or d.outcome == "acted")
            for c, d in zip(turn.commands, decided, strict=True)
            if not c.intent.startswith("assistant.") and c.intent != "vehicle.query"
            and (d is None or d.outcome == "acted" or (followed and _asked_as_follow_up(d)))
        ]
        self.last, self.carried = tuple(c for c, _ in kept), tuple(done for _, done in kept)
        self.at = self.clock()
        self.changed = changed
