"""Actuation by risk: per command, act at once, ask back, or drop it, from the evidence that it was meant.

Every catalog intent has a risk class in ``intents/policy/risk.yaml`` (safety, comfort, harmless; some
raised while the car moves), and every class a bar per kind of evidence in
``intents/policy/thresholds.yaml`` (calibrated on data; the file says how):

- ``parse``: the language model's confidence in the command;
- ``words``: the share of the request's words that the intents' templates use at all (random letters and
  talk about other things score low, however sure the language model is);
- ``asr``: the recogniser's posterior of what it heard (speech only);
- ``nbest``: the share of the recogniser's n-best texts that carry the same command (speech only);
- ``templates``: the confidence with which the intents' templates read the same command from the heard
  text, 0 when they read none (speech only). The recogniser's domain model is built from the templates, so
  a request heard right lands on words they match; speech that was not for the car, forced into car
  words ("cheers mate" -> "mirrors make"), rarely does, however sure the language model is of it.

A command whose evidence clears its class's ``act`` bar on every kind is carried out. Below it a safety
or comfort command that still clears the ``ask`` bar is asked back ("Do you want me to unlock the
doors?") and waits for a yes; anything weaker is dropped with a short "Sorry?".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from assistant.catalog import INTENTS as CATALOG_INTENTS
from assistant.errors import AssistantError, IntentsError
from assistant.nlu.base import Command, Parser
from assistant.nlu.intents import INTENTS_DIR, template_files

POLICY_DIR = INTENTS_DIR / "policy"
RISK_FILE = POLICY_DIR / "risk.yaml"
THRESHOLDS_FILE = POLICY_DIR / "thresholds.yaml"

RISKS = ("safety", "comfort", "harmless")
EVIDENCE = ("parse", "words", "asr", "nbest", "templates")
ACTED, ASKED, DROPPED = "acted", "asked", "dropped"

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+")
_SKIPPED = frozenset("and then also plus but after that".split())
"""Words that join two requests: the templates read the requests, not these."""


@dataclass(frozen=True)
class Speech:
    """What the recogniser adds to a spoken request's evidence."""

    confidence: float | None = None
    """Posterior of the best text in [0, 1]; None when the engine gives none."""
    alternatives: tuple[str, ...] = ()
    """The recogniser's other n-best texts, best first (the heard text itself not among them)."""
    heard: str = ""
    """The recogniser's best text; may differ from the text acted on when the pipeline rescored."""


@dataclass(frozen=True)
class Decision:
    """What the policy made of one command, and why."""

    outcome: str
    """acted | asked | dropped"""
    risk: str
    reason: str
    evidence: Mapping[str, float] = field(default_factory=dict)
    short: tuple[str, ...] = ()
    """The kinds of evidence under the act bar (none when acted)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "risk": self.risk,
            "reason": self.reason,
            "evidence": {k: round(v, 3) for k, v in self.evidence.items()},
        }


@dataclass(frozen=True)
class Bars:
    act: Mapping[str, float]
    ask: Mapping[str, float]


def _where(path: Path, node: Any) -> str:
    mark = getattr(node, "start_mark", None)
    return f"{path}:{mark.line + 1}" if mark is not None else str(path)


def _read(path: Path) -> tuple[Any, yaml.Node]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise IntentsError(f"{path} is missing; restore it with: git checkout -- {path.name}") from err
    try:
        data, root = yaml.safe_load(text), yaml.compose(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        line = mark.line + 1 if mark is not None else "?"
        raise IntentsError(f"{path}:{line}: {err.problem}; fix the YAML there") from err
    twice = _given_twice(root)
    if twice is not None:  # plain YAML keeps the last silently: a second 'trunk.open: harmless'
        raise IntentsError(f"{path}:{twice}; keep one")
    return data, root


def _given_twice(node: yaml.Node | None) -> str | None:
    """'LINE: KEY is given twice (first on line N)' for the first key repeated in one mapping."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                line = key.start_mark.line + 1
                if key.value in seen:
                    return f"{line}: {key.value!r} is given twice (first on line {seen[key.value]})"
                seen[key.value] = line
            found = _given_twice(value)
            if found is not None:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found = _given_twice(item)
            if found is not None:
                return found
    return None


def _node(root: yaml.Node, *keys: str) -> yaml.Node | None:
    node: yaml.Node | None = root
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            return None
        node = next((v for k, v in node.value if k.value == key), None)
    return node


@dataclass(frozen=True)
class Rule:
    intent: str
    slots: Mapping[str, Any]
    risk: str


class RiskTable:
    """Intent (and slots, and whether the car moves) -> risk class."""

    def __init__(
        self, intents: Mapping[str, str], rules: Sequence[Rule] = (), while_moving: Mapping[str, str] = {}
    ) -> None:
        self.intents = dict(intents)
        self.rules = tuple(rules)
        self.while_moving = dict(while_moving)

    def risk(self, command: Command, moving: bool = False) -> str:
        risk = self.intents[command.intent]
        for rule in self.rules:
            slots = command.slots
            if rule.intent == command.intent and all(slots.get(k) == v for k, v in rule.slots.items()):
                risk = rule.risk
                break
        if moving:
            risk = _higher(risk, self.while_moving.get(command.intent, risk))
        return risk


def _higher(a: str, b: str) -> str:
    return a if RISKS.index(a) <= RISKS.index(b) else b


def load_risks(path: Path = RISK_FILE) -> RiskTable:
    data, root = _read(path)
    if not isinstance(data, dict) or not isinstance(data.get("intents"), dict):
        raise IntentsError(f"{path}: expected a mapping with 'intents: {{intent: risk class}}'")

    def check(value: Any, *where: str) -> str:
        if value not in RISKS:
            at = _where(path, _node(root, *where))
            raise IntentsError(f"{at}: risk {value!r} is not one of {', '.join(RISKS)}")
        return str(value)

    def check_intent(name: Any, *where: str) -> str:
        if name not in CATALOG_INTENTS:
            at = _where(path, _node(root, *where))
            raise IntentsError(f"{at}: {name!r} is not a catalog intent (assistant/catalog.py)")
        return str(name)

    intents = {check_intent(k, "intents"): check(v, "intents", k) for k, v in data["intents"].items()}
    missing = sorted(set(CATALOG_INTENTS) - set(intents))
    if missing:
        raise IntentsError(f"{path}: no risk class for {', '.join(missing)}; add them under 'intents:'")
    rules = []
    for i, rule in enumerate(data.get("rules") or []):
        if not isinstance(rule, dict) or not isinstance(rule.get("slots", {}), dict):
            raise IntentsError(f"{path}: rule {i + 1} needs intent, slots (a mapping) and risk")
        intent = check_intent(rule.get("intent"), "rules")
        rules.append(Rule(intent, dict(rule.get("slots", {})), check(rule.get("risk"))))
    moving = {
        check_intent(k, "while_moving"): check(v, "while_moving", k)
        for k, v in (data.get("while_moving") or {}).items()
    }
    return RiskTable(intents, rules, moving)


def load_bars(path: Path = THRESHOLDS_FILE) -> dict[str, Bars]:
    data, root = _read(path)
    bars = data.get("bars") if isinstance(data, dict) else None
    if not isinstance(bars, dict) or set(bars) != set(RISKS):
        raise IntentsError(f"{path}: expected 'bars:' with one entry for each of {', '.join(RISKS)}")
    out = {}
    for risk in RISKS:
        levels: dict[str, dict[str, float]] = {}
        for level in ("act", "ask"):
            table = bars[risk].get(level) if isinstance(bars[risk], dict) else None
            if not isinstance(table, dict) or set(table) != set(EVIDENCE):
                at = _where(path, _node(root, "bars", risk))
                raise IntentsError(f"{at}: {risk}.{level} needs a bar for each of {', '.join(EVIDENCE)}")
            for kind, value in table.items():
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                    at = _where(path, _node(root, "bars", risk, level, kind))
                    raise IntentsError(f"{at}: {risk}.{level}.{kind} must be a number in [0, 1]")
            levels[level] = {k: float(v) for k, v in table.items()}
        out[risk] = Bars(levels["act"], levels["ask"])
    return out


@cache
def domain_words(intents_dir: Path = INTENTS_DIR) -> frozenset[str]:
    """Every word the template files use (templates, lists, skip words; comments left out), and the words
    their numbers and abbreviations are spoken with ("twenty two", "point", "degrees")."""
    from assistant.asr.domain import WRITTEN
    from assistant.nlu.numbers import spell_number

    words: set[str] = set()
    for path in template_files(intents_dir):
        for line in path.read_text(encoding="utf-8").splitlines():
            words.update(_WORD.findall(line.split("#", 1)[0].lower()))
    for n in (*range(100), 100, 1000, 0.5):
        words.update(spell_number(str(n)).split())
    for spoken in WRITTEN.values():
        words.update(spoken.split())
    return frozenset(words)


def words_known(text: str, vocabulary: frozenset[str]) -> float:
    """Share of ``text``'s words in ``vocabulary`` (numbers count as known); 0 for no words.

    A lone letter other than "a" and "i" is no word: letters count only spelled out in a row ("a c",
    "f m"), else "c" alone reads as the A/C and "b" as a source.
    """
    words = _WORD.findall(text.lower())
    if not words:
        return 0.0

    def letter(i: int) -> bool:
        return 0 <= i < len(words) and len(words[i]) == 1 and words[i].isalpha()

    known = 0
    for i, w in enumerate(words):
        if letter(i) and w not in ("a", "i") and not (letter(i - 1) or letter(i + 1)):
            continue
        known += w in vocabulary or w.isdigit()
    return known / len(words)


NEGATION = re.compile(
    r"\b(?:don'?t|do not|doesn'?t|does not|never|no need|not necessary|needn'?t|need not|shouldn'?t|"
    r"should not|no longer|stop \w+ing"
    # only asks about it, or tells what someone else asked: "should i open the trunk",
    # "the kids keep asking me to open the window" (the language model acted on both)
    r"|should i|shall i|should we|shall we|do i need to|do we need to|how do i|how do you|what if|"
    r"(?:asking|asked|ask|told|tells|wants|want) me to)\b"
)
"""Words that say not to do it ("no need to open the window", "stop unlocking the doors"), or that the
request is a question or someone else's: a language model reads each as the command itself."""


def negation(text: str) -> str | None:
    """The words of ``text`` that say not to do something ("don't", "no need"), or None."""
    # "never mind undo that" is an undo, not a request not to undo
    said = re.sub(r"\bnever ?mind\b", " ", text.lower().replace("\u2019", "'"))
    m = NEGATION.search(said)
    return m.group(0) if m else None


def unreadable_number(text: str) -> str | None:
    """A word of ``text`` with digits that reads as no number ("1e9", "0x50"), or None.

    A language model drops what it cannot read and acts on the rest: "open the window 1e9
    percent" became a full opening at 0.999."""
    from assistant.nlu.numbers import parse_number

    for word in text.split():
        word = word.strip(".,;:!?\"'()%°")
        if any(ch.isdigit() for ch in word) and parse_number(word) is None:
            return word
    return None


def same(a: Command, b: Command) -> bool:
    return a.intent == b.intent and dict(a.slots) == dict(b.slots)


class Policy:
    """Decides, per command, acted / asked / dropped."""

    def __init__(
        self,
        risks: RiskTable | None = None,
        bars: Mapping[str, Bars] | None = None,
        vocabulary: frozenset[str] | None = None,
        templates: Parser | None = None,
    ) -> None:
        self.risks = risks or load_risks()
        self.bars = dict(bars or load_bars())
        self.vocabulary = vocabulary if vocabulary is not None else domain_words()
        self._templates = templates

    @property
    def templates(self) -> Parser:
        """The intents' template parser (built on first use: typed text never needs it)."""
        if self._templates is None:
            from assistant.nlu.templates import TemplateParser

            self._templates = TemplateParser()
        return self._templates

    def use_templates(self, parser: Parser | None = None) -> None:
        """Read speech against ``parser`` (the voice pipeline's template grammar), or build the templates
        now: at start-up, not at the first spoken request (a second and more on a Pi)."""
        if parser is not None:
            self._templates = parser
        self.templates  # noqa: B018 - built here, not at the first request

    def template_agreement(
        self, command: Command, text: str, live: tuple[Command, ...] = (), moving: bool = False
    ) -> float:
        """The templates' confidence in ``command`` read from ``text``; 0 when they read it differently,
        or leave words of ``text`` unread ("heat then open mind about it": they read "heat" and drop
        the rest, where the language model heard a request for more heat).

        A follow-up said whole ("and the passenger side too", "a bit more") is as exact a match: the
        dialogue made ``command`` from it and the last request (``live``: the commands a follow-up
        may refer to), which the templates cannot see. Only when ``command`` is of the family of one
        of them: a follow-up phrase with a verb of its own ("unlock it" after "close the windows") is
        read by the language model alone, so it needs the templates' own reading, which they cannot
        give, and a security or safety command is asked back, never done on a phrase heard in passing.
        A security or safety command made from a follow-up phrase is asked back always: chatter in the
        window heard as a phrase that fits ("i feel a bit car sick" heard "the all seat" right after
        "unlock the driver door") would otherwise unlock every door with no wake word and no yes."""
        from assistant.context import classify
        from assistant.nlu.numbers import NUMBER_WORDS
        from assistant.nlu.templates import TemplateParser, clean

        if classify(text) is not None:
            from assistant.context import family

            if self.risks.risk(command, moving) == "safety":
                return 0.0  # "i feel a bit car sick" heard "the all seat" after an unlock: unlock all
            return 1.0 if any(family(c.intent) == family(command.intent) for c in live) else 0.0
        templates = self.templates
        try:
            if not isinstance(templates, TemplateParser):  # a parser given in a test: its commands only
                parsed = templates.parse(text).commands
                return max((c.confidence for c in parsed if same(command, c)), default=0.0)
            said = clean(text)
            matches = [m for m in templates.matches(said) if m.refusal is None]
        except AssistantError:
            return 0.0
        agree = max((m.command.confidence for m in matches if same(command, m.command)), default=0.0)
        read = {w for m in matches for w in _WORD.findall(m.text)}
        ignored = _SKIPPED | {w for s in templates.intents.skip_words for w in _WORD.findall(s)}
        unread = [w for w in _WORD.findall(said) if w not in read and w not in ignored
                  and w not in NUMBER_WORDS and not w.isdigit()]
        return 0.0 if unread else agree

    def evidence(
        self,
        command: Command,
        text: str,
        speech: Speech | None = None,
        parser: Parser | None = None,
        live: tuple[Command, ...] = (),
        moving: bool = False,
    ) -> dict[str, float]:
        """The evidence for ``command`` read from ``text`` (and the recogniser's, for speech); ``live``:
        the last turn's commands, which a follow-up phrase may refer to; ``moving``: the car is driving
        (what is a safety function then, see ``RiskTable.risk``)."""
        out = {"parse": command.confidence, "words": words_known(text, self.vocabulary)}
        if speech is None:
            return out
        if speech.confidence is not None:
            out["asr"] = speech.confidence
        texts = [t for t in (speech.heard or text, *speech.alternatives) if t]
        if parser is not None and len(texts) > 1:
            agree = 0
            for t in texts:
                try:
                    agree += any(same(command, c) for c in parser.parse(t).commands)
                except AssistantError:
                    pass
            out["nbest"] = agree / len(texts)
        if text.strip():
            out["templates"] = self.template_agreement(command, text, live, moving)
        return out

    def decide(self, command: Command, evidence: Mapping[str, float], moving: bool = False) -> Decision:
        risk = self.risks.risk(command, moving)
        bars = self.bars[risk]
        # a kind the bars leave out (a policy built in code before it existed) sets no bar
        short = tuple(k for k, v in evidence.items() if v < bars.act.get(k, 0))
        if not short:
            return Decision(ACTED, risk, f"clears the {risk} bar", dict(evidence))
        weak = [f"{k} {v:.2f} < {bars.ask[k]:.2f}" for k, v in evidence.items() if v < bars.ask.get(k, 0)]
        why = f"{', '.join(f'{k} {evidence[k]:.2f} < {bars.act[k]:.2f}' for k in short)} ({risk} bar)"
        # a yes is not asked back ("do you want me to yes?"): unclear, it is no yes
        if risk != "harmless" and not weak and command.intent != "assistant.confirm":
            return Decision(ASKED, risk, why, dict(evidence), short)
        return Decision(DROPPED, risk, why, dict(evidence), short)


@cache
def load_policy() -> Policy:
    return Policy()
