"""Recogniser-in-the-loop transcripts: labelled with what was meant, cached, catalog-valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.catalog import problems
from assistant.nlu.templates import TemplateParser
from workbench.training.asr_loop import (
    TRANSCRIPTS,
    label,
    read_transcripts,
    say_numbers,
    spoken_form,
    wer,
)
from workbench.training.data import parse_markup


def test_wer() -> None:
    assert wer("switch the fan off".split(), "switch the fan off".split()) == 0.0
    assert wer("switch the fan off".split(), "switch and unlock".split()) == 0.75


def test_spoken_form_says_numbers_and_keeps_slot_words() -> None:
    ex = parse_markup("set it to [22](value=22) degrees", "climate.set_temperature")
    said, spans, implied = spoken_form(ex)
    assert said == "set it to twenty two degrees"
    assert spans == [("twenty two", "value", "22")]
    assert implied == []
    assert say_numbers("tune to 95.3") == "tune to ninety five point three"


def test_a_close_transcript_keeps_its_label_and_slot_span() -> None:
    off = [("off", "state", "off")]
    got = label("climate.set_fan", "switch the fan off", "switch a fan off", off, [], set())
    assert got == ("climate.set_fan", "switch a fan [off](state=off)")


def test_a_garbled_request_is_out_of_scope() -> None:
    # the case: heard as "switch and unlock"; the driver never asked to unlock anything
    off = [("off", "state", "off")]
    got = label("climate.set_fan", "switch the fan off", "switch and unlock", off, [], set())
    assert got == ("-", "switch and unlock")


def test_a_transcript_that_reads_as_another_command_is_dropped() -> None:
    assert label("doors.lock", "lock the doors", "unlock the doors", [], [], {"doors.unlock"}) is None
    # out-of-scope speech that became a clean request is the recogniser's fault, not the wording's
    assert label(None, "what is a caftan", "open the window", [], [], {"window.open"}) is None


def test_a_request_that_lost_its_slot_words_is_dropped() -> None:
    spans = [("fog lights", "light", "fog")]
    assert label("lights.set", "turn on the fog lights", "turn on the fog light", spans, [], set()) is None


def test_the_committed_transcripts_are_catalog_valid_and_mixed() -> None:
    examples = read_transcripts()
    assert len(examples) > 300
    kinds = {e.source for e in examples}
    assert kinds == {"asr", "asr-oos"}
    for e in examples:
        for f in e.frames:
            assert not problems(f.intent, {s.name: s.value for s in f.slots}), e.text
            for s in f.slots:
                if not s.implied:
                    assert e.text[s.start : s.end].strip(), e.text
    strict = TemplateParser()
    # no transcript is taught as out-of-scope while the strict templates read it as a request
    assert not [e.text for e in examples if not e.frames and strict.parse(e.text).commands]


def test_a_malformed_transcript_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / TRANSCRIPTS.name
    path.write_text("# header\ndoors.lock\tlock the doors\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"asr_transcripts.tsv:2: expected 4"):
        read_transcripts(path)




def test_a_short_garbled_transcript_teaches_nothing() -> None:
    # "be silent" heard as "heat on": as often a real request as not, so neither label is taught
    assert label("media.mute", "be silent", "heat on", [], [], set()) is None
    assert label("media.mute", "be silent", "the heat is on", [], [], set()) == ("-", "the heat is on")


def test_no_committed_garbled_transcript_is_two_words_or_fewer() -> None:
    from workbench.training.asr_loop import SPOKEN_OOS, say_numbers, words
    from workbench.training.data import load_out_of_scope

    said_oos = {" ".join(words(say_numbers(e.text))) for e in load_out_of_scope()}
    said_oos |= {
        " ".join(words(say_numbers(ln)))
        for ln in SPOKEN_OOS.read_text(encoding="utf-8").splitlines()
        if ln.strip() and not ln.startswith("#")
    }
    lines = TRANSCRIPTS.read_text(encoding="utf-8").splitlines()
    rows = [ln.split("\t") for ln in lines if not ln.startswith("#")]
    garbled = [r for r in rows if r[0] == "-" and r[2] not in said_oos]
    assert garbled and all(len(words(r[1])) > 2 for r in garbled)


def test_the_unseen_voice_benchmark_speaks_with_no_training_voice() -> None:
    # issue 10: in-domain accuracy "in voices the training did not use" means none of the asr-loop voices
    from workbench.training.asr_loop import CONDITIONS, MORE_VOICES, espeak_conditions
    from workbench.voice_bench import UNSEEN_VOICES

    trained = {c.voice for c in CONDITIONS} | {c.voice for c in espeak_conditions(MORE_VOICES)}
    lines = TRANSCRIPTS.read_text(encoding="utf-8").splitlines()
    trained |= {ln.split("\t")[3].split("@")[0] for ln in lines if not ln.startswith("#")}
    bench = {v.partition(":")[2].split(",")[0] for v in UNSEEN_VOICES}
    assert len(bench) >= 2 and not bench & trained
    assert {c.snr_db for c in espeak_conditions(["en+f4"])} == {None, 10.0}
