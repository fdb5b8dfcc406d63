"""Training data: markup, augmentation and labels keep every span on the words that said it."""

from __future__ import annotations

import random

import pytest

from assistant.catalog import problems
from assistant.nlu.numbers import spell_number
from workbench.training.data import (
    Augmenter,
    Example,
    build_corpus,
    expand_alternatives,
    load_out_of_scope,
    load_paraphrases,
    parse_markup,
)


def test_markup_gives_spans_and_implied_values() -> None:
    ex = parse_markup("crack [my](window=driver) window {amount=20}", "window.open")
    (frame,) = ex.frames
    said = {s.name: ex.text[s.start : s.end] for s in frame.slots if not s.implied}
    assert ex.text == "crack my window"
    assert said == {"window": "my window"}  # spans follow the templates: the whole "my window"
    assert {s.name: s.value for s in frame.slots} == {"window": "driver", "amount": 20}


def test_alternatives_expand() -> None:
    assert expand_alternatives("(turn|switch) on [the ac](state=on)") == [
        "turn on [the ac](state=on)",
        "switch on [the ac](state=on)",
    ]


def test_hand_written_data_is_catalog_valid() -> None:
    for ex in load_paraphrases():
        (f,) = ex.frames
        assert not problems(f.intent, {s.name: s.value for s in f.slots}), ex.text
    assert len(load_out_of_scope()) > 200


def test_spoken_numbers() -> None:
    assert spell_number(22) == "twenty two"
    assert spell_number(95.3) == "ninety five point three"
    assert spell_number(1010) == "one thousand ten"


@pytest.mark.parametrize("seed", range(5))
def test_augmentation_keeps_spans_on_their_words(seed: int) -> None:
    aug = Augmenter(random.Random(seed))
    base = [e for e in load_paraphrases() if any(not s.implied for s in e.frames[0].slots)]
    for _ in range(200):
        parts = [aug.vary(random.Random(seed).choice(base)) for _ in range(2)]
        ex = aug.join(parts)
        for f in ex.frames:
            assert ex.text[f.start : f.end].strip()
            for s in f.slots:
                if not s.implied:
                    assert f.start <= s.start < s.end <= f.end + 1, (ex.text, s)


def test_corpus_is_seeded_and_split_by_base_sentence() -> None:
    a = build_corpus(3, per_intent=10, joins=20, oos_generated=20, use_templates=False)
    b = build_corpus(3, per_intent=10, joins=20, oos_generated=20, use_templates=False)
    assert [e.text for e in a.train] == [e.text for e in b.train]
    held = {e.group for e in a.heldout if e.source != "join"}
    assert held and not held & {e.group for e in a.train if e.source != "join"}
    assert any(not e.frames for e in a.train)  # out-of-scope examples are there


def test_example_expected_column() -> None:
    ex = Example("x", ())
    assert ex.expected() == "-"
