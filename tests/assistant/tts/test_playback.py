"""Reply playback: in order, one at a time; what was said and when it was ready."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from assistant.audio import AudioChunk
from assistant.tts.fake import FakeSynthesizer
from assistant.tts.playback import ReplyWorker, say_later, speak_reply


def test_replies_run_one_at_a_time_in_order() -> None:
    worker, done, release = ReplyWorker(), [], threading.Event()

    def first() -> None:
        release.wait(5)
        done.append(1)

    worker.start(first)
    assert worker.busy
    release.set()
    worker.start(lambda: done.append(2))  # waits for the first
    worker.join()
    assert done == [1, 2] and not worker.busy


def test_a_reply_is_played_as_synthesized_and_kept() -> None:
    played: list[AudioChunk] = []
    firsts: list[int] = []
    totals: list[float] = []
    audio = speak_reply(
        FakeSynthesizer(), "Done. The doors are locked.", played.extend,
        lambda: firsts.append(len(played)), totals.append,
    )  # fmt: skip
    assert len(played) == 2 and firsts == [0] and len(totals) == 1 and totals[0] >= 0
    assert audio is not None and audio.duration_ms == sum(c.duration_ms for c in played)


def test_a_reply_stopped_midway_reports_no_synthesis_time() -> None:
    totals: list[float] = []

    def stop_after_one(chunks: Iterator[AudioChunk]) -> None:
        next(chunks)  # barge-in: the speaker stops taking chunks

    audio = speak_reply(FakeSynthesizer(), "Done. The doors are locked.", stop_after_one, None, totals.append)
    assert totals == [] and audio is not None


def test_a_notice_waits_for_the_reply_in_progress() -> None:
    lock, played = threading.Lock(), []
    with lock:
        thread = say_later("The window stopped.", FakeSynthesizer(), lambda c: played.extend(c), lock)
        thread.join(0.2)
        assert thread.is_alive() and played == []
    thread.join(5)
    assert len(played) == 1
