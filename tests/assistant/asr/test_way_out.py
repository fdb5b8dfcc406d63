"""The recogniser's way out: speech that is not for the car is heard as English, with posteriors."""

from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path

import pytest

from assistant.asr.domain import (
    GENERAL_WEIGHT,
    GENERAL_WORDS,
    domain_lm,
    general_unigrams,
    mix_unigrams,
    phrase_sentences,
)
from assistant.audio import write_wav
from assistant.cli import main
from assistant.nlu.sampling import SampleRecord
from assistant.pipeline import VoiceParts, VoicePipeline, VoiceTurn
from tests.assistant.conftest import Recorder, SpeechMaker

ARPA = """\\data\\
ngram 1=3
ngram 2=1

\\1-grams:
-99.0000 <s> -0.3000
-0.3010 open -0.2000
-0.3010 </s>

\\2-grams:
-0.1000 <s> open

\\end\\
"""


def test_general_words_join_the_unigrams_and_the_domain_keeps_its_share() -> None:
    mixed = mix_unigrams(ARPA, {"open": 0.5, "cat": 0.5}, 0.1)
    lines = mixed.splitlines()
    assert "ngram 1=4" in lines
    section = lines[lines.index("\\1-grams:") + 1 : lines.index("\\2-grams:")]
    unigrams = {ln.split("\t")[1]: ln.split("\t") for ln in section if ln}
    assert unigrams["open"][0] == f"{math.log10(0.9 * 0.5 + 0.1 * 0.5):.4f}"
    assert unigrams["open"][2] == "-0.2000"  # its backoff weight kept
    assert unigrams["cat"][0] == f"{math.log10(0.05):.4f}"
    assert unigrams["<s>"][0] == "-99.0000"
    assert f"{-0.1 + math.log10(0.9):.4f}\t<s>\topen" in lines


def test_the_shipped_domain_model_holds_general_english() -> None:
    general = general_unigrams(50)
    assert {"the", "and", "you"} <= set(general) and abs(sum(general.values()) - 1) < 1e-6
    lm = domain_lm()
    text = lm.arpa.read_text(encoding="utf-8")
    assert GENERAL_WEIGHT > 0
    outside = [w for w in general_unigrams(GENERAL_WORDS) if w not in lm.words]
    assert len(outside) > GENERAL_WORDS // 2
    for word in outside[:20]:  # no car words, yet in the model
        assert re.search(rf"^-[\d.]+\t{re.escape(word)}(\t|$)", text, re.M), word


def test_pocketsphinx_gives_word_and_utterance_posteriors(
    voice_parts: VoiceParts, speech: SpeechMaker
) -> None:
    recognizer = voice_parts.recognizer
    recognizer.reset()
    recognizer.begin()
    recognizer.accept(speech("open the trunk", wake=False))
    final = recognizer.end()
    assert final.text == "open the trunk"
    assert all(w.confidence is not None and 0 <= w.confidence <= 1 for w in final.words)
    assert final.posterior is not None and 0 < final.posterior <= 1
    assert final.confidence == final.posterior


def test_speech_for_someone_else_is_heard_as_english_and_moves_nothing(
    voice: tuple[VoicePipeline, Recorder], speech: SpeechMaker
) -> None:
    pipeline, _ = voice
    turns: list[VoiceTurn] = pipeline.run(speech("that movie was much better than the book"))
    assert len(turns) == 1 and {"movie", "book"} & set(turns[0].text.split()), turns[0].text
    assert turns[0].frames == []
    out = turns[0].to_json()
    assert out["asr_confidence"] is not None and out["words"][0]["confidence"] is not None


def test_listen_json_has_the_decision_and_the_recognisers_confidences(
    tmp_path: Path, request: pytest.FixtureRequest, speech: SpeechMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    wav = tmp_path / "a.wav"
    write_wav(wav, speech("open the trunk", wake=False))
    rc = main(["listen", "--json", "--no-wake", "--can-channel", "asr-way-out", str(wav)])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    command = out["commands"][0]
    assert command["intent"] == "trunk.open"
    assert command["decision"]["outcome"] in ("acted", "asked") and command["decision"]["risk"] == "safety"
    assert 0 < out["asr_confidence"] <= 1
    assert [w["text"] for w in out["words"]] == ["open", "the", "trunk"]
    assert all(0 <= w["confidence"] <= 1 for w in out["words"])


def test_every_way_of_saying_a_slot_value_is_written_as_often() -> None:
    # the sampled sentences said "the driver window" once among 48 ways to name that window
    carriers = [SampleRecord("open my window", "window.open", {"window": ("driver", "my window")})]
    pool = [
        SampleRecord("open the driver window", "window.open", {"window": ("driver", "the driver window")}),
        SampleRecord(
            "open the window behind me", "window.open", {"window": ("rear_left", "the window behind me")}
        ),
        SampleRecord("open it 5 percent", "window.open", {"amount": (5, "5")}),
    ]
    out = phrase_sentences(carriers, pool, 2, random.Random(0))
    assert sorted(out) == ["open the driver window"] * 2 + ["open the window behind me"] * 2


@pytest.mark.parametrize("text", ["open the driver window", "close the driver window"])
def test_plain_requests_are_heard_as_said(voice_parts: VoiceParts, speech: SpeechMaker, text: str) -> None:
    # heard as "open the driver wind nope" while the model held "the driver window" once
    recognizer = voice_parts.recognizer
    recognizer.reset()
    recognizer.begin()
    recognizer.accept(speech(text, wake=False))
    assert recognizer.end().text == text
