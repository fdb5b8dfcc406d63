"""Broad out-of-scope training text: CLINC150 (read from the data folder) and letter strings; both leave the
held-out split alone."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from assistant.nlu.templates import TemplateParser
from workbench.training.asr_loop import read_transcripts
from workbench.training.data import (
    MissingDataError,
    build_corpus,
    generate_noise_strings,
    load_clinc,
)


def _clinc(tmp_path: Path) -> Path:
    """A tiny folder in CLINC150's layout (sentences written here, not copied from it)."""
    root = tmp_path / "clinc150"
    root.mkdir()
    data = {
        "train": [
            ["what's my bank balance", "balance"],
            ["tell me a joke", "tell_joke"],
            ["yes please", "yes"],
            ["turn the volume down", "change_volume"],
            ["play some jazz", "play_music"],
            ["how much gas is left", "gas"],
        ],
        "oos_train": [["how do i knit a scarf", "oos"]],
        "oos_test": [["TEST SENTENCE", "oos"]],
        "test": [["TEST SENTENCE TOO", "balance"]],
    }
    (root / "data_full.json").write_text(json.dumps(data), encoding="utf-8")
    (root / "all_wiki_sents.txt").write_text("the river flows north\n", encoding="utf-8")
    return tmp_path


def test_clinc_drops_catalog_intents_and_never_reads_its_test_splits(tmp_path: Path) -> None:
    examples = load_clinc(_clinc(tmp_path), random.Random(0), per_intent=5, wiki=5)
    texts = sorted(e.text for e in examples)
    assert texts == [
        "how do i knit a scarf",
        "tell me a joke",
        "the river flows north",
        "what's my bank balance",
    ]
    assert all(not e.frames for e in examples)


def test_missing_clinc_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MissingDataError, match=r"--data-dir .*use_clinc=false"):
        load_clinc(tmp_path, random.Random(0), 5, 5)
    from workbench.training import main

    with pytest.raises(SystemExit, match=r"^error: CLINC150 is missing"):
        main(["--data-dir", str(tmp_path), "--out", str(tmp_path / "slm"), "--work", str(tmp_path / "w")])


def test_letter_strings_are_seeded_and_never_a_request() -> None:
    a = generate_noise_strings(200, random.Random(1))
    assert [e.text for e in a] == [e.text for e in generate_noise_strings(200, random.Random(1))]
    strict = TemplateParser()
    assert all(e.text and not e.frames and not strict.parse(e.text).commands for e in a)


def test_added_data_leaves_the_held_out_split_alone() -> None:
    kw = dict(per_intent=10, joins=20, oos_generated=20, use_templates=False)
    plain = build_corpus(3, **kw)  # type: ignore[arg-type]
    said = read_transcripts()
    noise = generate_noise_strings(30, random.Random(2))
    more = build_corpus(3, recognised=said, broad_oos=noise, **kw)  # type: ignore[arg-type]
    old_held = [e.text for e in plain.heldout]
    assert [e.text for e in more.heldout][: len(old_held)] == old_held
    assert len(more.train) > len(plain.train)
    # a sentence said is on one side of the split, whatever voice said it
    train_groups = {e.group for e in more.train if e.source.startswith("asr")}
    held_groups = {e.group for e in more.heldout if e.source.startswith("asr")}
    assert held_groups and not train_groups & held_groups


def test_every_short_letter_string_is_taught_unless_it_is_a_catalog_word() -> None:
    texts = {e.text for e in generate_noise_strings(800, random.Random(0))}
    assert {"yu", "d", "i", "br"} <= texts  # a stray "yu" must never answer a safety question
    assert not {"ok", "ya", "no"} & texts  # the templates read these as answers: never taught otherwise


def test_requests_with_out_of_range_numbers_stay_requests() -> None:
    # CLINC150's amounts ("transfer 5000 dollars") taught "set the volume to 5000" as out-of-scope, so
    # the vehicle could no longer refuse the value aloud
    kw = dict(per_intent=10, joins=20, oos_generated=20, use_templates=False)


    def big(n: int) -> list[tuple[str, str]]:
        out = []
        for e in build_corpus(3, big_numbers=n, **kw).train:  # type: ignore[arg-type]
            for f in e.frames:
                for s in f.slots:
                    said = e.text[s.start : s.end]
                    if not s.implied and said.isdigit() and int(said) > 100:
                        out.append((f.intent, said))
        return out

    # radio frequencies are past 100 already; the added ones come on top, each inside its request's slot
    assert len(big(40)) - len(big(0)) == 40


def test_no_data_folder_reads_nothing_outside_the_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    # no default beside the repository: without --data-dir or $CAR_ASSISTANT_DATA_DIR, CLINC150 is
    # asked for by name, never looked for in a folder beside the repository
    from workbench.training.data import DATA_DIR_ENV, default_data_dir

    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    assert default_data_dir() is None
    wanted = rf"--data-dir DIR \(or set {DATA_DIR_ENV}=DIR\).*use_clinc=false"
    with pytest.raises(MissingDataError, match=wanted):
        load_clinc(None, random.Random(0), 5, 5)
    monkeypatch.setenv(DATA_DIR_ENV, "/some/where")
    assert default_data_dir() == Path("/some/where")
