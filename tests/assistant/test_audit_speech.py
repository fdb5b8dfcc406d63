"""A spoken turn in the audit log: what was heard, its alternatives and confidence, what was acted on."""

from __future__ import annotations

from assistant.audio import concat, silence
from assistant.config import Settings
from assistant.nlu.templates import TemplateParser
from assistant.runtime import Car
from tests.assistant.test_pipeline import buzz, fake_pipeline


def test_the_log_keeps_what_was_heard_and_what_was_acted_on(car: Car, settings: Settings) -> None:
    pipeline, _, _ = fake_pipeline(car, settings, [("fogs", ("boss", "pause")), "turn on the fog lights"])
    pipeline.parts.grammar = TemplateParser()
    log = pipeline.dialogue.recorder.log
    assert log is not None  # the runtime's dialogue keeps the log (in the tests' scratch folder)
    pipeline.run(concat([buzz(600), silence(700), buzz(600), silence(200)]))
    first, second = log.read().entries[-2:]
    assert first["source"] == "speech" and first["text"] == "pause"
    assert first["heard"] == {
        "text": "fogs",
        "alternatives": ["boss", "pause"],
        "confidence": 1.0,
        "chosen": "pause",
    }
    assert first["decisions"][0]["intent"] == "media.control"
    assert {"endpoint_delay", "asr_final", "parse", "vehicle"} <= set(first["timings_ms"])
    assert second["source"] == "speech"
    assert second["heard"] == {"text": "turn on the fog lights", "alternatives": [], "confidence": 1.0}
    assert "audio" not in str(first) + str(second)
