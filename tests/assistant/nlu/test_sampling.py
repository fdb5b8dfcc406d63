from __future__ import annotations

from assistant.catalog import INTENTS, is_valid
from assistant.nlu.normalize import normalize_slot
from assistant.nlu.sampling import SampleRecord, sample_utterances, sample_with_spans, sentence_counts
from assistant.nlu.templates import TemplateParser


def test_every_intent_is_sampled_and_deterministic() -> None:
    first = sample_with_spans(20, seed=3)
    assert {r.intent for r in first} == set(INTENTS)
    assert first == sample_with_spans(20, seed=3)
    assert first != sample_with_spans(20, seed=4)
    assert all(sum(r.intent == name for r in first) <= 20 for name in INTENTS)


def test_samples_are_catalog_commands_with_spans_in_the_text() -> None:
    for record in sample_with_spans(40, seed=1):
        assert isinstance(record, SampleRecord)
        assert is_valid(record.intent, record.command.slots)
        for _, (_, span) in record.slots.items():
            # every slot value comes from words said: the templates fix no slot silently
            assert span and span in record.text, record


def test_spans_normalise_to_their_values() -> None:
    for record in sample_with_spans(60, seed=2):
        for slot, (value, span) in record.slots.items():
            if span:
                assert normalize_slot(record.intent, slot, span) == value, (record.text, slot, span)


def test_sampled_utterances_reparse_to_their_commands(parser: TemplateParser) -> None:
    pairs = sample_utterances(25, seed=5)
    assert len(pairs) > 25 * 20
    wrong = []
    for text, commands in pairs:
        got = [(c.intent, dict(c.slots)) for c in parser.parse(text).commands]
        if got != [(c.intent, dict(c.slots)) for c in commands]:
            wrong.append((text, got))
    assert wrong == []


def test_small_intents_are_fully_expanded() -> None:
    counts = sentence_counts()
    assert counts["assistant.cancel"] < 100
    cancel = [r for r in sample_with_spans(100, seed=0) if r.intent == "assistant.cancel"]
    assert len(cancel) == counts["assistant.cancel"]
