"""The endpointer's bookkeeping, with numbers instead of audio; cut-off detection."""

from __future__ import annotations

from assistant.vad.base import Endpoint, Endpointer
from assistant.vad.semantic import cut_off


def run(ep: Endpointer, pattern: str, ms: float = 30.0) -> Endpoint | None:
    """'s' = a speech chunk, '.' = a silent one; the first endpoint reached."""
    for i, c in enumerate(pattern):
        result = ep.update(i * ms, ms, 1.0 if c == "s" else 0.0)
        if result is not None:
            return result
    return None


def test_trailing_silence_ends_the_request() -> None:
    ep = Endpointer(trailing_silence_ms=300, start_ms=60)
    result = run(ep, "...ssssssss" + "." * 20)
    assert result is not None and result.reason == "silence"
    assert result.speech_start_ms == 90 and result.speech_end_ms == 330
    assert result.at_ms - result.speech_end_ms == 300


def test_short_blips_do_not_start_speech() -> None:
    ep = Endpointer(trailing_silence_ms=300, start_ms=90, no_speech_ms=1500)
    result = run(ep, ".s..s..ss...s" + "." * 60)
    assert result is not None and result.reason == "no_speech" and result.speech_start_ms is None


def test_maximum_length_cuts_a_long_request() -> None:
    ep = Endpointer(max_ms=900)
    result = run(ep, "s" * 100)
    assert (
        result is not None and result.reason == "max_length" and result.at_ms - result.speech_start_ms >= 900
    )


def test_pauses_shorter_than_the_trailing_silence_do_not_end_it() -> None:
    ep = Endpointer(trailing_silence_ms=400)
    assert run(ep, "ssss" + "." * 10 + "ssss") is None  # a 300 ms pause


def test_cut_off_requests() -> None:
    silence = Endpoint("silence", 1000, 0, 600)
    assert cut_off("close the windows and", silence)
    assert cut_off("open the", silence)
    assert not cut_off("what temperature is it set to", silence)
    assert not cut_off("two degrees warmer please", silence)
    assert cut_off("open the window", Endpoint("max_length", 8000, 0, 8000))
    assert not cut_off("open the window", Endpoint("max_length", 8000, 0, 7000))


def test_semantic_endpointing_waits_for_stable_complete_commands() -> None:
    from assistant.nlu.templates import TemplateParser
    from assistant.vad.semantic import SemanticEndpointer

    parser = TemplateParser()
    ep = Endpointer(trailing_silence_ms=3000, start_ms=60)
    semantic = SemanticEndpointer(min_confidence=0.5, stable_ms=300)
    ep.begin(0.0)
    semantic.begin(0.0)
    run(ep, "ssssssss")  # speech until 240 ms
    semantic.update("close the windows and", 240.0, parser)  # dangling: may not end the request
    assert not semantic.ready(900.0, 0.0, ep)
    semantic.update("close the windows", 300.0, parser)
    assert not semantic.ready(500.0, 0.0, ep)  # not stable for 300 ms yet
    assert not semantic.ready(700.0, 1.0, ep)  # still speech
    assert semantic.ready(700.0, 0.0, ep)
    semantic.update("close the", 720.0, parser)
    assert not semantic.ready(2000.0, 0.0, ep)
