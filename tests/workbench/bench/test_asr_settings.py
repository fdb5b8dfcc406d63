"""The decoder-settings benchmark: its sentences, its error rate, and a real run on a small count."""

from __future__ import annotations

import re

import pytest

from workbench.bench.asr_settings import edit_distance, main, sentences, settings_of


def test_edit_distance_counts_word_errors() -> None:
    assert edit_distance("turn on the lights".split(), "turn on the lights".split()) == 0
    # "on" left out, "lights" heard "light", an "on" added
    assert edit_distance("turn on the lights".split(), "turn the light on".split()) == 3
    assert edit_distance("lights off".split(), []) == 2


def test_sentences_are_in_domain_held_out_lines_in_the_vocabulary() -> None:
    from assistant.asr.domain import domain_lm

    vocabulary = frozenset(domain_lm().words)
    chosen = sentences(50, vocabulary)
    assert len(chosen) == 50
    assert chosen and len(set(chosen)) == len(chosen)
    assert all(len(s.split()) >= 2 and set(s.split()) <= vocabulary for s in chosen)
    assert sentences(50, vocabulary) == chosen  # a fixed shuffle


def test_settings_must_be_json_objects() -> None:
    assert settings_of('{"lw": 10}') == {"lw": 10}
    with pytest.raises(SystemExit, match="is not JSON"):
        settings_of("lw=10")
    with pytest.raises(SystemExit, match="is not a JSON object"):
        settings_of("[10]")


def test_a_small_run_decodes_piper_speech_and_a_setting_changes_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # piper joe, three sentences, clean: the default decodes them nearly word for word; beams this
    # narrow prune the right words away (the setting reaches the decoder)
    narrow = '{"beam": 1e-3, "wbeam": 1e-2, "pbeam": 1e-3}'
    assert main(["--n", "3", "--voices", "piper:joe", "--snr", "--settings", "{}", narrow]) == 0
    rates = [float(x) for x in re.findall(r"figure: wer .+ = ([\d.]+)  \(", capsys.readouterr().out)]
    assert len(rates) == 2
    assert rates[0] <= 0.25 and rates[1] > rates[0] + 0.3


def test_bad_input_is_refused_naming_what_to_change() -> None:
    with pytest.raises(SystemExit):
        main(["--n", "0"])
    small = ["--n", "1", "--voices", "piper:joe", "--snr"]
    with pytest.raises(SystemExit, match="pocketsphinx refuses it"):
        main([*small, "--settings", '{"nosuch": 1}'])
    with pytest.raises(SystemExit, match="pocketsphinx refuses it"):
        main([*small, "--settings", '{"mllr": "/nonexistent/mllr_matrix"}'])
    with pytest.raises(SystemExit, match="--voices: voice 'nosuch'"):
        main(["--n", "1", "--voices", "nosuch", "--snr"])
