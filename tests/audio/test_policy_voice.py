"""The policy on speech: the recogniser's n-best disagreeing is weak evidence; the decision is in the JSON."""

from __future__ import annotations

from assistant.audio import concat, silence
from assistant.config import Settings
from assistant.runtime import Car
from tests.test_policy import with_nbest_bar

from .test_pipeline import buzz, fake_pipeline

UNLOCKED = "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked"


def test_a_heard_unlock_the_n_best_doubts_is_asked_back_and_done_on_yes(car: Car, settings: Settings) -> None:
    from assistant.nlu.base import Command

    script = [("unlock the doors", ("lock the doors", "turn on the radio")), "yes"]
    pipeline, _, _ = fake_pipeline(car, settings, script)
    pipeline.dialogue.policy = with_nbest_bar(0.5)
    car.vehicle.execute(Command("doors.lock", {"door": "all"}))
    turns = pipeline.run(concat([buzz(600), silence(700)]))
    out = turns[0].to_json()
    decision = out["commands"][0]["decision"]
    assert decision["outcome"] == "asked" and decision["evidence"]["nbest"] == 0.333
    assert out["frames"] == [] and out["reply"] == "Do you want me to unlock all doors?"
    assert car.bridge.state()[UNLOCKED] in (1, True)
    turns = pipeline.run(concat([buzz(600), silence(700)]))
    assert turns[0].to_json()["commands"][0]["decision"]["outcome"] == "acted"
    assert turns[0].frames and car.bridge.state()[UNLOCKED] in (0, False)


def test_a_heard_unlock_answered_no_stays_locked(car: Car, settings: Settings) -> None:
    from assistant.nlu.base import Command

    car.vehicle.execute(Command("doors.lock", {"door": "all"}))
    script = [("unlock the doors", ("lock the doors", "turn on the radio")), "no"]
    pipeline, _, _ = fake_pipeline(car, settings, script)
    pipeline.dialogue.policy = with_nbest_bar(0.5)
    pipeline.run(concat([buzz(600), silence(700)]))
    turns = pipeline.run(concat([buzz(600), silence(700)]))
    assert turns[0].frames == [] and car.bridge.state()[UNLOCKED] in (1, True)
