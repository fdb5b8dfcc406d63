"""The out-of-domain speech check: its sentences, its sounds that are no speech, and bars applied offline."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from assistant.policy import Policy, load_bars
from workbench.training.ood_speech import (
    NON_SPEECH,
    SENTENCES_FILE,
    in_noise,
    moved_safety,
    non_speech,
    rebar,
    sentences,
    verdict,
)


def test_the_set_is_big_and_a_subsample_spreads_over_every_kind_of_talk() -> None:
    every = sentences()
    assert len(every) >= 200 and len(set(every)) == len(every)
    assert not any(s.startswith("#") for s in every)
    kinds = [ln for ln in SENTENCES_FILE.read_text(encoding="utf-8").splitlines() if ln.startswith("# --")]
    assert len(kinds) >= 7
    some = sentences(20)
    assert len(some) == 20 and some[0] == every[0] and set(some) < set(every)
    # an even spread reaches the last kinds (single words, longer talk), not the first 20 lines only
    assert some[-1] in every[-len(every) // 10 :]


def test_every_sound_is_audible_or_silent_as_named_and_mixes_with_car_noise() -> None:
    for i, kind in enumerate(NON_SPEECH):
        audio = non_speech(kind, i)
        x = audio.array().astype(np.float32) / 32768
        assert audio.rate == 16000 and 3.0 < audio.duration_ms / 1000 < 3.4, kind
        assert (np.abs(x).max() == 0) == (kind == "silence"), kind
        noisy = in_noise(audio, 10.0, i, speech=False)
        assert noisy.samples == audio.samples and np.abs(noisy.array()).max() > 0, kind


def command(intent: str, risk: str, asr: float, outcome: str = "acted") -> dict[str, object]:
    return {"intent": intent, "slots": {}, "confidence": 0.99, "risk": risk, "outcome": outcome,
            "evidence": {"parse": 0.99, "words": 1.0, "asr": asr}, "status": "done", "framed": True}


def test_other_bars_offline_withhold_what_the_evidence_does_not_carry() -> None:
    bars = load_bars()
    strict = Policy(bars={**bars, "safety": replace(bars["safety"], act={**bars["safety"].act, "asr": 0.5})})
    weak = {"heard": ["open the trunk"], "sent": True, "commands": [command("trunk.open", "safety", 0.1)]}
    sure = {"heard": ["open the trunk"], "sent": True, "commands": [command("trunk.open", "safety", 0.9)]}
    assert moved_safety(weak) and moved_safety(sure)
    again = rebar(weak, strict)
    assert again["commands"][0]["outcome"] == "asked" and not again["sent"] and not moved_safety(again)
    assert rebar(sure, strict)["sent"] and moved_safety(rebar(sure, strict))
    # the bars only ever withhold: a command dropped at the time is not acted on offline
    dropped = {"heard": ["x"], "sent": False, "commands": [command("trunk.open", "safety", 0.9, "dropped")]}
    assert not rebar(dropped, Policy())["sent"]


def test_an_in_domain_recording_is_right_asked_dropped_or_wrong() -> None:
    expected = [{"intent": "trunk.open", "slots": {}}]
    right = {"commands": [command("trunk.open", "safety", 0.9)]}
    asked = {"commands": [command("trunk.open", "safety", 0.1, "asked")]}
    wrong = {"commands": [command("doors.unlock", "safety", 0.9)]}
    assert [verdict(r, expected) for r in (right, asked, {"commands": []}, wrong)] == [
        "right", "asked", "dropped", "wrong"
    ]
    assert verdict({"commands": []}, []) == "right"  # a line that is no request: nothing done is right
