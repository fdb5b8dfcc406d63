"""The template engine: hassil matches the sentence templates of ``intents/``.

An utterance is matched whole first. When that fails it is cut at
conjunctions ("and", "then", "also", commas) and the pieces are matched in
spoken order, longest first; a piece without a verb borrows the start of the
piece before it ("turn on the headlights and the wipers") or the end of the
piece after it ("turn the headlights and the fog lights on"). Each piece is
tried as said, then with spoken numbers rewritten as digits, because hassil's
range lists know one spelling per number only. A piece whose one number lies
outside its template's range list ("set the fan to 12", "volume -5") is
matched again with the number replaced by a range's first value, so the
number is read with its sign and judged against the catalog as the language
model's is: passed on for the vehicle to clamp, or refused with the reason.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hassil import Intents, is_match, parse_sentence, recognize_all
from hassil.errors import HassilError
from hassil.expression import Expression, Group, ListReference, RuleReference, TextChunk
from hassil.intents import RangeSlotList, TextSlotList
from hassil.recognize import RecognizeResult
from hassil.util import remove_skip_words

from assistant.catalog import SLOT_SPECS, is_valid
from assistant.nlu.base import Command, Parse, Parser, Refusal, check_text, keep_valid
from assistant.nlu.intents import INTENTS_DIR, load_intents
from assistant.nlu.normalize import number_refusal
from assistant.nlu.numbers import NUMBER_WORDS, numbers_to_digits, parse_number

EXACT = 1.0
CARRIED = 0.9
"""Confidence of a command whose piece needed a borrowed verb or particle."""
RUN_ON = 0.8
"""Confidence of commands found by cutting a sentence that had no "and" between requests."""
UNKNOWN_WORDS = 0.6
"""Confidence of a command matched after leaving out words no template knows."""
_MAX_UNKNOWN = 2
_MAX_RUN_ON_WORDS = 16
# an unknown word that puts the request somewhere else than this car
_ELSEWHERE = frozenset(
    "house home kitchen living bedroom bathroom garage office tv television fridge oven room hallway "
    "porch garden yard computer laptop app website browser game microwave dishwasher basement".split()
)

_SEPARATORS = ("and then", "and also", "and after that", "after that", "and", "then", "also", "plus", "but")
_SEP_RE = re.compile(
    r"(\s*(?:,|;|\b(?:" + "|".join(s.replace(" ", r"\s+") for s in _SEPARATORS) + r")\b)\s*)"
)
_KEEP = re.compile(r"[^\w\s'./%-]")
# recognisers often drop the apostrophe; the templates spell contractions with it
_CONTRACTIONS = {
    "im": "i'm",
    "its": "it's",
    "dont": "don't",
    "whats": "what's",
    "thats": "that's",
    "cant": "can't",
    "didnt": "didn't",
    "isnt": "isn't",
    "arent": "aren't",
    "lets": "let's",
    "theres": "there's",
    "ive": "i've",
    "wont": "won't",
    "doesnt": "doesn't",
    "youre": "you're",
    "hows": "how's",
    "wheres": "where's",
    "whos": "who's",
    "shouldnt": "shouldn't",
    "couldnt": "couldn't",
    "id": "i'd",
    "itll": "it'll",
    "ill": "i'll",
    "wasnt": "wasn't",
    "werent": "weren't",
    "havent": "haven't",
}
_CONTRACTION_RE = re.compile(r"\b(" + "|".join(_CONTRACTIONS) + r")\b")
# "would you mind opening the window": the templates are imperative
_GERUNDS = dict(
    pair.split(":")
    for pair in (
        "opening:open closing:close turning:turn rolling:roll putting:put setting:set locking:lock "
        "unlocking:unlock switching:switch lowering:lower raising:raise shutting:shut making:make "
        "playing:play skipping:skip muting:mute unmuting:unmute folding:fold unfolding:unfold "
        "cracking:crack increasing:increase decreasing:decrease changing:change tuning:tune "
        "popping:pop pausing:pause starting:start stopping:stop dropping:drop bumping:bump "
        "cranking:crank heating:heat warming:warm cooling:cool defrosting:defrost demisting:demist "
        "reducing:reduce bringing:bring checking:check getting:get winding:wind sliding:slide "
        "activating:activate "
    ).split()
)
_GERUND_RE = re.compile(r"\b(mind|how about) (" + "|".join(_GERUNDS) + r")\b")
# recognisers hear "turn of the lights"
_TURN_OF = re.compile(r"\b(turn|switch|shut|turned|switched) of\b")
_TENS_HYPHEN = re.compile(
    r"\b(twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)-(one|two|three|four|five|six|seven|eight|nine)\b"
)
# "the fan's too loud": a noun's "'s" before a state word is "is" ("driver's" stays)
_IS_RE = re.compile(
    r"\b(?!(?:it|that|what|there|here|who|how|where|let|he|she)'s)(\w+)'s "
    r"(too|so|really|very|way|a bit|a little|not|getting|still|blowing)\b"
)
_MAX_PIECES = 8
_MAX_BORROW = 4
_SEEN_MAX = 4096  # texts whose match is remembered (pieces repeat while splitting)
_MAX_RUN = 3  # one request said across at most this many pieces ("the driver and passenger windows")
_PRONOUNS = frozenset({"it", "them", "that", "those", "this"})


@dataclass(frozen=True)
class Match:
    """One template match: the command and the slot spans it came from."""

    command: Command
    spans: dict[str, str]
    text: str
    refusal: Refusal | None = None
    """Set when the piece said a number outside its slot's catalog range: not to be carried out."""


def clean(text: str) -> str:
    """Lower-case words as the templates spell them: no punctuation but what numbers and a/c need."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.replace("’", "'").replace("‘", "'").replace("`", "'")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,000
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)  # keep 98.7, drop full stops
    text = re.sub(r"(?<=\d)%", " percent", text)
    text = _KEEP.sub(lambda m: "," if m.group() in ",;!?" else " ", text)
    text = re.sub(r"\s*,\s*", ", ", text)
    text = _CONTRACTION_RE.sub(lambda m: _CONTRACTIONS[m.group(1)], text)
    text = _IS_RE.sub(r"\1 is \2", text)
    text = _TENS_HYPHEN.sub(r"\1 \2", text)
    text = _TURN_OF.sub(r"\1 off", text)
    text = _GERUND_RE.sub(lambda m: f"{m.group(1)} {_GERUNDS[m.group(2)]}", text)
    return " ".join(text.split()).strip(" ,")


class TemplateParser(Parser):
    """Commands from hassil matches against ``intents/``; confidence 1.0 for an exact match."""

    name = "templates"

    def __init__(self, intents_dir: Path | str = INTENTS_DIR) -> None:
        self.intents = load_intents(intents_dir)
        self._order = {name: i for i, name in enumerate(self.intents.intents)}
        self._vocab = _vocabularies(self.intents)
        self._words = frozenset(
            {w for v in self._vocab.values() for w in v.words}
            | {w for phrase in self.intents.skip_words for w in phrase.casefold().split()}
            | {sep for s in _SEPARATORS for sep in s.split()}
        )
        self._subsets: dict[frozenset[str], Intents] = {}
        self._seen: dict[str, Match | None] = {}
        self._probing = False  # matches() sets it for a second pass when a number was left out
        # one value inside each range list, to stand in for a number said outside it
        ranges = [sl for sl in self.intents.slot_lists.values() if isinstance(sl, RangeSlotList)]
        self._probes = [str(v) for v in sorted({_value(sl.start) for sl in ranges})]
        self._ranges = ranges
        self._warm_up()

    def _warm_up(self) -> None:
        # hassil builds a range list's number-word index on first use (0.2 s for AM
        # frequencies); build them now rather than during the first request
        for name, slot_list in self.intents.slot_lists.items():
            if isinstance(slot_list, RangeSlotList) and slot_list.words:
                is_match(
                    "warm up", parse_sentence(f"{{{name}}}"), slot_lists={name: slot_list}, language="en"
                )

    def parse(self, text: str) -> Parse:
        said = check_text(text)
        matches = self.matches(said)
        return Parse(
            text=text,
            commands=keep_valid([m.command for m in matches if m.refusal is None]),
            engine=self.name,
            refused=tuple(m.refusal for m in matches if m.refusal is not None),
        )

    # -- matching -----------------------------------------------------------------

    def matches(self, text: str) -> list[Match]:
        """Template matches for ``text`` in spoken order, with their slot spans."""
        said = clean(text)
        if not said.strip(" ,"):
            return []
        self._probing = False
        found = self._matching(said)
        if self._number_left_out(said, found):
            # again, reading numbers outside the range lists (costly: only when one was left out)
            self._probing = True
            try:
                found = self._matching(said)
            finally:
                self._probing = False
        return found

    def _number_left_out(self, said: str, found: list[Match]) -> bool:
        """True when ``said`` holds a number that none of ``found`` carries."""
        numbers = [parse_number(w) for w in numbers_to_digits(said).split() if _NUMERIC.match(w)]
        carried = {v for m in found for v in m.command.slots.values() if not isinstance(v, str)}
        return any(n is not None and n not in carried for n in numbers)

    def _matching(self, said: str) -> list[Match]:
        found = self._matches(said) or self._run_on(said.replace(",", " ").split(), depth=2)
        if found:
            return found
        # a word or two no template knows ("open the damn window"): match without them
        words = said.split()
        known = [w for w in words if self._known(w.strip(","))]
        dropped = len(words) - len(known)
        elsewhere = any(w.strip(",") in _ELSEWHERE for w in words)
        if not elsewhere and 0 < dropped <= _MAX_UNKNOWN and dropped * 3 <= len(words) and known:
            return [_capped(m, UNKNOWN_WORDS) for m in self._matches(" ".join(known))]
        return []

    def _run_on(self, words: list[str], depth: int) -> list[Match]:
        """Requests said back to back with no "and" ("open the window close the sunroof")."""
        if depth == 0 or len(words) < 4 or len(words) > _MAX_RUN_ON_WORDS:
            return []
        for cut in range(2, len(words) - 1):
            left = self.match_piece(" ".join(words[:cut]))
            if left is None:
                continue
            right = self.match_piece(" ".join(words[cut:]))
            rest = [right] if right is not None else self._run_on(words[cut:], depth - 1)
            if rest:
                return [_capped(m, RUN_ON) for m in [left, *rest]]
        return []

    def _known(self, word: str) -> bool:
        return not word or word in self._words or word in NUMBER_WORDS or bool(_NUMERIC.match(word))

    def _matches(self, said: str) -> list[Match]:
        whole = self.match_piece(said.replace(",", " "))
        if whole is not None:
            return [whole]
        parts = _SEP_RE.split(said)
        pieces: list[str] = []
        joints: list[str] = []  # joints[k] is what was said between pieces k and k + 1
        for k, part in enumerate(parts):
            if k % 2 == 1:
                if pieces:
                    joints[-1] = " ".join(f"{joints[-1]} {part}".split())
            elif part.strip(" ,"):
                pieces.append(part.strip(" ,"))
                joints.append("")
        if len(pieces) < 2:
            return []
        return self._match_pieces(pieces[:_MAX_PIECES], joints)

    def _match_pieces(self, pieces: list[str], joints: list[str]) -> list[Match]:
        def join(i: int, j: int) -> str:
            words = [pieces[i]]
            for k in range(i + 1, j):
                words += [joints[k - 1], pieces[k]]
            return " ".join(w for w in words if w)

        out: list[Match] = []
        previous: str | None = None
        i = 0
        while i < len(pieces):
            found = None
            # longest run of pieces first: "the driver and passenger windows" is one piece
            for j in range(min(len(pieces), i + _MAX_RUN), i, -1):
                if j - i > 1 and j - i == len(pieces):
                    continue  # the whole utterance was tried already
                found = self.match_piece(join(i, j))
                if found is not None:
                    break
            if found is None:
                found = self._borrow(pieces, i, previous)
                j = i + 1
            if found is not None:
                out.append(found)
                previous = found.text
            i = j
        return out

    def _borrow(self, pieces: list[str], i: int, previous: str | None) -> Match | None:
        piece = pieces[i]
        if not remove_skip_words(piece, self.intents.skip_words, False).strip():
            return None  # "... and thanks": nothing to borrow a verb for
        words = piece.split()
        variants = [words]
        if words and words[0] in ("the", "my", "a"):
            variants.append(words[1:])
        if previous is not None:
            head = previous.split()
            for k in range(1, min(_MAX_BORROW, len(head) - 1) + 1):
                for rest in variants:
                    found = self.match_piece(" ".join(head[:k] + rest))
                    if found is not None:
                        return _carried(found)
        pronouns = [n for n, w in enumerate(words) if w in _PRONOUNS]
        if previous is not None and len(pronouns) == 1:
            # "open the driver window then close it": "it" is what the piece before acted on
            at, head = pronouns[0], previous.split()
            for start in range(1, min(_MAX_BORROW, len(head) - 1) + 1):
                for end in range(len(head), start, -1):
                    found = self.match_piece(" ".join(words[:at] + head[start:end] + words[at + 1 :]))
                    if found is not None:
                        return _carried(found)
        if i + 1 < len(pieces):
            tail = pieces[i + 1].split()
            for k in range(1, min(_MAX_BORROW, len(tail) - 1) + 1):
                found = self.match_piece(" ".join(words + tail[-k:]))
                if found is not None:
                    return _carried(found)
        return None

    def match_piece(self, piece: str) -> Match | None:
        """The best template match for all of ``piece``, or None."""
        piece = " ".join(piece.replace(",", " ").split())
        if not piece:
            return None
        found = self._recognize(piece)
        if found is None:
            digits = numbers_to_digits(piece)
            if digits != piece:
                found = self._recognize(digits)
            if found is None and self._probing:
                found = self._out_of_range(digits)
        return found

    def _out_of_range(self, piece: str) -> Match | None:
        """A piece that matches once its one number is replaced by a value its range list holds."""
        words = piece.split()
        at = [k for k, w in enumerate(words) if _NUMERIC.match(w)]
        if len(at) != 1:
            return None
        said = parse_number(words[at[0]])
        if said is None:
            return None
        for probe in self._probes:
            # only for a list that holds the probe and not the number said: the others were tried with it
            if not any(_holds(sl, float(probe)) and not _holds(sl, said) for sl in self._ranges):
                continue
            match = self._recognize(" ".join(words[: at[0]] + [probe] + words[at[0] + 1 :]))
            if match is None:
                continue
            intent = match.command.intent
            numbers = [n for n, span in match.spans.items() if span == probe]
            slot = next((n for n in numbers if SLOT_SPECS[intent][n].kind != "enum"), None)
            if slot is None:
                continue
            refusal = number_refusal(intent, slot, said)
            slots = {**match.command.slots, slot: said}
            if refusal is None and not is_valid(intent, slots):
                return None
            return Match(Command(intent, slots, match.command.confidence), match.spans, piece, refusal)
        return None

    def _candidates(self, text: str) -> Intents | None:
        """Only the intents whose templates contain every word said: a template must use all the text."""
        # hassil tries the text with and then without skip words
        said = set(text.casefold().split())
        bare = set(remove_skip_words(text, self.intents.skip_words, False).casefold().split())
        names = frozenset(
            name for name, vocab in self._vocab.items() if _covers(vocab, bare) or _covers(vocab, said)
        )
        if not names:
            return None
        subset = self._subsets.get(names)
        if subset is None:
            full = self.intents
            subset = Intents(
                language=full.language,
                intents={n: i for n, i in full.intents.items() if n in names},
                slot_lists=full.slot_lists,
                expansion_rules=full.expansion_rules,
                skip_words=full.skip_words,
                settings=full.settings,
            )
            if len(self._subsets) < 4096:
                self._subsets[names] = subset
        return subset

    def _recognize(self, text: str) -> Match | None:
        if text in self._seen:
            return self._seen[text]
        found = self._recognize_uncached(text)
        if len(self._seen) >= _SEEN_MAX:
            self._seen.clear()
        self._seen[text] = found
        return found

    def _recognize_uncached(self, text: str) -> Match | None:
        best: tuple[tuple[int, int, int], Match] | None = None
        candidates = self._candidates(text)
        if candidates is None:
            return None
        try:
            results = list(recognize_all(text, candidates, language="en"))
        except (HassilError, RecursionError, ValueError):
            return None
        for result in results:
            match = _to_match(result, text)
            if match is None:
                continue
            key = (
                -len(match.command.slots),
                -result.text_chunks_matched,
                self._order.get(match.command.intent, 0),
            )
            if best is None or key < best[0]:
                best = (key, match)
        return best[1] if best else None


_NUMERIC = re.compile(r"^[-+]?\d+(?:[.,]\d+)?$")
_STEPS = {"halves": 2, "tenths": 10}


def _holds(slot_list: RangeSlotList, value: float) -> bool:
    """Whether hassil's range list reads ``value`` (in range, on its step or fraction)."""
    if not slot_list.start <= value <= slot_list.stop:
        return False
    fraction = slot_list.fraction_type.value if slot_list.fraction_type is not None else ""
    scaled = value * _STEPS.get(str(fraction), 1)
    return abs(scaled - round(scaled)) < 1e-6


@dataclass(frozen=True)
class _Vocabulary:
    words: frozenset[str]
    numbers: bool  # the templates read a number range (digits or number words)


def _covers(vocab: _Vocabulary, words: set[str]) -> bool:
    for word in words:
        if word in vocab.words:
            continue
        if vocab.numbers and (word in NUMBER_WORDS or _NUMERIC.match(word)):
            continue
        # hassil retries "air-con" as "air con"
        parts = re.split(r"[-_]", word)
        if len(parts) > 1 and all(p in vocab.words or not p for p in parts):
            continue
        return False
    return True


def _vocabularies(intents: Intents) -> dict[str, _Vocabulary]:
    """Per intent, every word its templates can say (through rules and lists)."""
    out = {}
    for name, intent in intents.intents.items():
        words: set[str] = set()
        seen: set[int] = set()
        numbers = False
        for data in intent.data:
            rules = {**intents.expansion_rules, **data.expansion_rules}
            lists = {**intents.slot_lists, **data.slot_lists}
            for sentence in data.sentences:
                numbers |= _add_words(sentence.expression, rules, lists, words, seen)
        out[name] = _Vocabulary(frozenset(words), numbers)
    return out


def _add_words(
    expr: Expression, rules: dict[str, Any], lists: dict[str, Any], words: set[str], seen: set[int]
) -> bool:
    """Add the words ``expr`` can say to ``words``; True if it reads a number range."""
    if id(expr) in seen:
        return False
    seen.add(id(expr))
    numbers = False
    if isinstance(expr, TextChunk):
        for word in expr.text.casefold().split():
            words.add(word)
            words.update(p for p in re.split(r"[-_]", word) if p)
    elif isinstance(expr, Group):
        for item in expr.items:
            numbers |= _add_words(item, rules, lists, words, seen)
    elif isinstance(expr, RuleReference) and expr.rule_name in rules:
        numbers = _add_words(rules[expr.rule_name].expression, rules, lists, words, seen)
    elif isinstance(expr, ListReference):
        slot_list = lists.get(expr.list_name)
        if isinstance(slot_list, TextSlotList):
            for value in slot_list.values:
                numbers |= _add_words(value.text_in, rules, lists, words, seen)
        else:  # a range, or an inline {1..7} range
            numbers = True
    return numbers


def _capped(match: Match, confidence: float) -> Match:
    c = match.command
    return Match(
        Command(c.intent, c.slots, min(c.confidence, confidence)), match.spans, match.text, match.refusal
    )


def _carried(match: Match) -> Match:
    return _capped(match, CARRIED)


def _value(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _to_match(result: RecognizeResult, text: str) -> Match | None:
    intent = result.intent.name
    specs = SLOT_SPECS.get(intent, {})
    slots: dict[str, Any] = {}
    spans: dict[str, str] = {}
    for entity in result.entities_list:
        if entity.name not in specs or entity.value in ("", None):
            continue
        slots[entity.name] = _value(entity.value)
        spans[entity.name] = entity.text
    if not is_valid(intent, slots):
        return None
    return Match(Command(intent, slots, EXACT), spans, text)
