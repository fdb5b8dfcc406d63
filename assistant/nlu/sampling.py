"""Sentences the templates of ``intents/`` allow, with the commands they mean.

This walks hassil's parsed template expressions the way ``hassil.sample``
does (alternatives, optionals, lists, ranges, permutations, rules) but keeps,
for every slot, the list value chosen and the words that said it, so a
language model can be trained on text, intent and slot spans at once.

Each intent contributes up to ``max_per_intent`` distinct sentences: when its
templates allow no more than that, all of them (hassil's full expansion);
otherwise a random walk that first picks a template uniformly, so rare
phrasings are not drowned by templates with large lists. Same seed, same
sentences.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hassil import Intents
from hassil.expression import (
    Alternative,
    Expression,
    ListReference,
    Permutation,
    RuleReference,
    Sentence,
    Sequence,
    TextChunk,
)
from hassil.intents import IntentData, RangeSlotList, SlotList, TextSlotList
from hassil.numbers import get_rbnf_engine
from hassil.util import normalize_whitespace

from assistant.catalog import SLOT_SPECS, SlotValue, is_valid
from assistant.nlu.base import Command
from assistant.nlu.intents import load_intents

# a random walk gives up on an intent after this many draws per wanted sentence
_DRAWS_PER_SENTENCE = 30
# above this many expansions per template, counting stops and sampling is random
_COUNT_CAP = 10**9


@dataclass(frozen=True)
class SampleRecord:
    """One generated sentence: its intent and, per slot, (catalog value, words that said it).

    The words are "" only for a slot a template fixes without saying it
    (``slots:`` in intents/); the project's templates read every value from
    words ("more heat" is direction=up through a list), so a tagger can learn it.
    """

    text: str
    intent: str
    slots: Mapping[str, tuple[SlotValue, str]] = field(default_factory=dict)

    @property
    def command(self) -> Command:
        return Command(self.intent, {name: value for name, (value, _) in self.slots.items()})


# (text, [(slot, value, span text)]) for one expansion
_Piece = tuple[str, tuple[tuple[str, Any, str], ...]]


class _Walker:
    def __init__(self, intents: Intents, data: IntentData) -> None:
        self.lists: dict[str, SlotList] = {**intents.slot_lists, **data.slot_lists}
        self.rules: dict[str, Sentence] = {**intents.expansion_rules, **data.expansion_rules}
        self.language = intents.language or "en"

    # -- how many -------------------------------------------------------------------

    def count(self, expr: Expression) -> int:
        if isinstance(expr, TextChunk):
            return 1
        if isinstance(expr, Alternative):
            return min(_COUNT_CAP, sum(self.count(e) for e in expr.items))
        if isinstance(expr, Sequence):
            n = 1
            for e in expr.items:
                n = min(_COUNT_CAP, n * self.count(e))
            return n
        if isinstance(expr, Permutation):
            n = 1
            for e in expr.items:
                n = min(_COUNT_CAP, n * self.count(e))
            return min(_COUNT_CAP, n * _factorial(len(expr.items)))
        if isinstance(expr, RuleReference):
            return self.count(self.rules[expr.rule_name].expression)
        if isinstance(expr, ListReference):
            slot_list = self.lists[expr.list_name]
            if isinstance(slot_list, TextSlotList):
                return min(_COUNT_CAP, sum(self.count(v.text_in) for v in slot_list.values))
            if isinstance(slot_list, RangeSlotList):
                return len(list(slot_list.get_numbers())) * (int(slot_list.digits) + int(slot_list.words))
        return 1

    # -- all of them ----------------------------------------------------------------

    def expand(self, expr: Expression) -> Iterator[_Piece]:
        if isinstance(expr, TextChunk):
            yield expr.original_text, ()
        elif isinstance(expr, Alternative):
            for e in expr.items:
                yield from self.expand(e)
        elif isinstance(expr, Sequence):
            for parts in itertools.product(*(list(self.expand(e)) for e in expr.items)):
                yield "".join(p[0] for p in parts), tuple(s for p in parts for s in p[1])
        elif isinstance(expr, Permutation):
            options = [list(self.expand(e)) for e in expr.items]
            for order in itertools.permutations(options):
                for parts in itertools.product(*order):
                    yield " ".join(p[0] for p in parts), tuple(s for p in parts for s in p[1])
        elif isinstance(expr, RuleReference):
            yield from self.expand(self.rules[expr.rule_name].expression)
        elif isinstance(expr, ListReference):
            yield from self._list_values(expr, None)

    # -- one at random --------------------------------------------------------------

    def draw(self, expr: Expression, rng: random.Random) -> _Piece:
        if isinstance(expr, TextChunk):
            return expr.original_text, ()
        if isinstance(expr, Alternative):
            # optionals are left out half the time, whatever their size
            items = expr.items
            if expr.is_optional and len(items) == 2 and _is_empty(items[-1]):
                return self.draw(items[0], rng) if rng.random() < 0.5 else ("", ())
            weights = [min(self.count(e), 50) for e in items]
            return self.draw(rng.choices(items, weights=weights)[0], rng)
        if isinstance(expr, Sequence):
            parts = [self.draw(e, rng) for e in expr.items]
            return "".join(p[0] for p in parts), tuple(s for p in parts for s in p[1])
        if isinstance(expr, Permutation):
            items = list(expr.items)
            rng.shuffle(items)
            parts = [self.draw(e, rng) for e in items]
            return " ".join(p[0] for p in parts), tuple(s for p in parts for s in p[1])
        if isinstance(expr, RuleReference):
            return self.draw(self.rules[expr.rule_name].expression, rng)
        if isinstance(expr, ListReference):
            return next(self._list_values(expr, rng))
        return "", ()

    def _list_values(self, ref: ListReference, rng: random.Random | None) -> Iterator[_Piece]:
        slot_list = self.lists[ref.list_name]
        if isinstance(slot_list, TextSlotList):
            values = slot_list.values
            if rng is not None:
                weights = [min(self.count(v.text_in), 20) for v in values]
                values = [rng.choices(values, weights=weights)[0]]
            for item in values:
                texts = [self.draw(item.text_in, rng)] if rng is not None else self.expand(item.text_in)
                for text, inner in texts:
                    said = normalize_whitespace(text).strip()
                    yield text, inner + ((ref.slot_name, item.value_out, said),)
        elif isinstance(slot_list, RangeSlotList):
            numbers = list(slot_list.get_numbers())
            if rng is not None:
                numbers = [rng.choice(numbers)]
            for number in numbers:
                scaled = number * slot_list.multiplier if slot_list.multiplier else number
                value = int(scaled) if float(scaled).is_integer() else round(scaled, 6)
                spellings = self._spellings(slot_list, number)
                if rng is not None:
                    spellings = [rng.choice(spellings)]
                for said in spellings:
                    yield said, ((ref.slot_name, value, said),)

    def _spellings(self, slot_list: RangeSlotList, number: float) -> list[str]:
        out = []
        if slot_list.digits:
            out.append(str(int(number)) if float(number).is_integer() else str(number))
        if slot_list.words:
            engine = get_rbnf_engine(slot_list.words_language or self.language)
            # recognisers write "twenty one", not "twenty-one"
            words = {w.replace("-", " ") for w in engine.format_number(number).text_by_ruleset.values()}
            out.extend(sorted(words))
        return out


def _is_empty(expr: Expression) -> bool:
    return isinstance(expr, TextChunk) and not expr.text.strip()


def _factorial(n: int) -> int:
    out = 1
    for k in range(2, n + 1):
        out *= k
    return out


def _record(intent: str, data: IntentData, piece: _Piece) -> SampleRecord | None:
    text = " ".join(normalize_whitespace(piece[0]).split())
    specs = SLOT_SPECS.get(intent, {})
    slots: dict[str, tuple[SlotValue, str]] = {}
    for name, value, said in piece[1]:
        if name in specs and value not in ("", None):
            slots[name] = (value, said)
    for name, value in data.slots.items():
        slots.setdefault(name, (value, ""))
    if not text or not is_valid(intent, {k: v for k, (v, _) in slots.items()}):
        return None
    return SampleRecord(text, intent, slots)


def intent_records(
    intents: Intents, intent_name: str, limit: int | None, rng: random.Random
) -> list[SampleRecord]:
    templates = [
        (data, _Walker(intents, data), sentence)
        for data in intents.intents[intent_name].data
        for sentence in data.sentences
    ]
    total = sum(walker.count(sentence.expression) for _, walker, sentence in templates)
    seen: dict[str, SampleRecord] = {}
    if limit is None or total <= limit:
        for data, walker, sentence in templates:
            for piece in walker.expand(sentence.expression):
                record = _record(intent_name, data, piece)
                if record is not None and record.text not in seen:
                    seen[record.text] = record
        records = list(seen.values())
        rng.shuffle(records)
        return records if limit is None else records[:limit]
    for _ in range(limit * _DRAWS_PER_SENTENCE):
        if len(seen) >= limit:
            break
        data, walker, sentence = rng.choice(templates)
        record = _record(intent_name, data, walker.draw(sentence.expression, rng))
        if record is not None and record.text not in seen:
            seen[record.text] = record
    return list(seen.values())


def sample_with_spans(max_per_intent: int | None = None, seed: int = 0) -> list[SampleRecord]:
    """Distinct template sentences per catalog intent, with slot values and the words that said them.

    ``max_per_intent=None`` expands every template fully (hassil's sampler does
    the same); that is large for intents with number ranges. Deterministic for
    a seed.
    """
    intents = load_intents()
    out: list[SampleRecord] = []
    for intent_name in sorted(intents.intents):
        rng = random.Random(f"{seed}:{intent_name}")
        out.extend(intent_records(intents, intent_name, max_per_intent, rng))
    return out


def sample_utterances(max_per_intent: int | None = None, seed: int = 0) -> list[tuple[str, list[Command]]]:
    """(sentence, the commands it means) for sentences generated from ``intents/``."""
    return [(r.text, [r.command]) for r in sample_with_spans(max_per_intent, seed)]


def sentence_counts() -> dict[str, int]:
    """How many sentences each intent's templates allow (capped at 10**9)."""
    intents = load_intents()
    return {
        name: min(
            _COUNT_CAP,
            sum(_Walker(intents, data).count(s.expression) for data in intent.data for s in data.sentences),
        )
        for name, intent in sorted(intents.intents.items())
    }
