"""Choosing what to act on among the recognizer's n-best texts, and when words are sure enough.

Speech only: a typed request is taken as typed. On misheard speech the statistical parser still
finds confident commands in garbage ("fogs" -> fog lights on), while an exact template match is
rare by chance, so a hypothesis the intents' templates match exactly is taken over the best one.
``sure`` is the follow-up window's stricter test (no wake word said the words were for the
assistant): every piece of the text matched whole by one template.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from assistant.errors import AssistantError
from assistant.nlu.base import Parser

if TYPE_CHECKING:
    from assistant.nlu.templates import TemplateParser

MAX_ALTERNATIVES = 10
"""n-best texts the parser may try besides the best."""
GRAMMAR_CONFIDENCE = 0.9
"""Template matches at least this sure count as exact (a whole match, or pieces cut at "and")."""
PIECES = re.compile(r"\s*(?:,|;|\b(?:and then|and also|and|then|also|plus)\b)\s*")
"""Where requests said in one breath are cut, for the follow-up window's whole-piece check."""


def _confident(parser: Parser, text: str, least: float) -> bool:
    parse = parser.parse(text)
    commands = parse.commands
    if parse.refused:  # understood, and refused for its number: not to be swapped for a
        return all(c.confidence >= least for c in commands)  # hypothesis that lost the minus
    return bool(commands) and min(c.confidence for c in commands) >= least


def rescore(
    text: str,
    alternatives: Sequence[str],
    *,
    parser: Parser,
    grammar: Parser | None,
    floor: float,
    is_cut_off: Callable[[str], bool],
    follow_up: Callable[[str], bool] | None = None,
) -> str:
    """The text to act on among the recognizer's best ``text`` and its n-best ``alternatives``.

    First the first of them that ``grammar`` (the intents' templates) matches exactly, or that
    ``follow_up`` recognises (given while the last turn's commands are live: "and the passenger
    side too" matches no template on its own, and "in the passenger side to" is no request while
    its alternative is). Else the best text when ``parser`` reads commands at least ``floor`` sure
    in it, else the first alternative it does ("is the car lock" -> "is the car locked"), else the
    best text. A best text that was cut off ("turn up the") may be completed by an alternative
    ("turn up the heat") or, by the templates exactly, read otherwise with as many words; never
    shortened into a half request ("close the windows and" -> "... windows").
    """
    least_words = len(text.split()) if is_cut_off(text) else 0
    # as many words as a cut-off best text is another reading of it, not a shortening: taken when
    # the templates match it exactly ("open the passenger window up or" -> "... a quarter")
    same = [t for t in alternatives[:MAX_ALTERNATIVES] if not is_cut_off(t) and len(t.split()) >= least_words]
    candidates = ([] if least_words else [text]) + [t for t in same if len(t.split()) > least_words]

    def exact(t: str) -> bool:
        if follow_up is not None and follow_up(t):
            return True
        return grammar is not None and _confident(grammar, t, GRAMMAR_CONFIDENCE)

    try:
        chosen: str | None = None
        if grammar is not None or follow_up is not None:
            chosen = next((t for t in (candidates if not least_words else same) if exact(t)), None)
        if chosen is None and (len(candidates) > 1 or least_words):
            chosen = next((t for t in candidates if _confident(parser, t, floor)), None)
    except AssistantError:
        chosen = None
    return text if chosen is None else chosen


ANSWERS = frozenset({"assistant.confirm", "assistant.deny"})
"""A yes or a no: taken without a wake word only while a question waits for it ("okay", "right",
"no" are talk)."""
LONE_WORD_INTENTS = frozenset({"assistant.cancel"})
"""What one word alone may be without a wake word, whatever the window: "stop" halts a window on its way."""
LONE_ANSWERS = frozenset({"yes", "yeah", "yep", "yup", "no", "nope"})
"""The one-word answers to a waiting question taken without a wake word."""
SAID_TO_ANYONE = frozenset({"sorry", "what", "huh", "eh", "excuse me", "pardon", "pardon me", "sorry what"})
"""Ways to ask for a repeat that passengers say to each other as often: said alone without a wake word,
they are talk, not for the assistant ("excuse me" in the window repeated the last reply). "say that
again" or "what did you say" still are."""


def sure(
    text: str,
    templates: TemplateParser,
    follow_up: Callable[[str], bool] | None = None,
    answers: bool = True,
) -> bool:
    """Sure enough to act on without a wake word: a follow-up phrase (``follow_up``, given while
    the last turn's commands are live), or every piece of ``text`` (cut at "and", "then", commas)
    matched whole by one template, and a yes or a no only when ``answers`` (a question waits); a
    word said to anyone (``SAID_TO_ANYONE``) only then too; one word alone only as a stop or an answer.
    Stricter than the parser's own template reading, which drops pieces it cannot match: misheard
    chatter "i need wiper and then open the way home" is wipers.set to it."""
    if follow_up is not None and follow_up(text):
        return True
    from assistant.nlu.templates import clean

    said = clean(text)
    lone = re.findall(r"[\w']+", said)
    # while a question waits, "sorry?" is the driver who did not catch it
    if not answers and " ".join(lone) in SAID_TO_ANYONE:
        return False
    try:
        whole = templates.match_piece(said)
        found = [whole] if whole is not None else [templates.match_piece(p) for p in PIECES.split(said)]
    except AssistantError:
        return False
    if not answers and any(m is not None and m.command.intent in ANSWERS for m in found):
        return False
    if len(lone) == 1:
        # one word is too little to tell it was said to the assistant ("elephant" heard "help", "oh
        # dear" over music heard "demute"): only a stop (what is moving halts), or, while a question
        # waits, a plain yes or no ("mhm", "right", "okay" are what listeners say to anyone) or a
        # "sorry?"; a follow-up phrase ("more") was taken above
        def fits(intent: str) -> bool:
            if intent in LONE_WORD_INTENTS:
                return True
            if not answers:
                return False
            return intent == "assistant.repeat" or (intent in ANSWERS and lone[0] in LONE_ANSWERS)

        if not all(m is not None and fits(m.command.intent) for m in found):
            return False
    return all(m is not None and m.command.confidence >= GRAMMAR_CONFIDENCE for m in found)
