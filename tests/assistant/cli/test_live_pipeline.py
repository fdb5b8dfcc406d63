"""The live loop's pipeline is one builder for `run` and the service: both play the earcons."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from assistant.audio import AudioChunk
from assistant.cli.voice import live_pipeline
from assistant.config import Settings
from assistant.events import FollowUpOpened, Transcript, WakeDetected
from assistant.pipeline import VoiceParts
from assistant.runtime import Car, open_dialogue


class PlayingSpeaker:
    """A speaker at the unit boundary: records what it is asked to play."""

    def __init__(self) -> None:
        self.played: list[AudioChunk] = []
        self.lock = threading.Lock()

    def play(self, chunks: Iterator[AudioChunk]) -> None:
        with self.lock:
            self.played.extend(chunks)

    def stop(self) -> None:
        pass


def test_the_service_and_run_hear_the_same_events_and_play_the_earcons(
    voice_parts: VoiceParts, car: Car, settings: Settings
) -> None:
    """The service built its own pipeline and played no earcon: no wake tone, no follow-up window tone."""
    seen: list[str] = []
    speaker = PlayingSpeaker()
    pipeline: Any = live_pipeline(
        voice_parts, open_dialogue(settings, car), settings, lambda e: seen.append(e.kind), car, speaker
    )
    for event in (WakeDetected(0.0, "hey_jarvis", 0.9), FollowUpOpened(0.0, 4.0), Transcript(0.0, "", None)):
        pipeline.on_event(event)
    deadline = time.monotonic() + 5
    while len(speaker.played) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen == ["wake", "follow_up", "transcript"]
    assert len(speaker.played) == 2  # the wake tone and the window's tone; a transcript has none
