"""Playing replies: one at a time, in order, in a worker thread the wake word can interrupt.

``ReplyWorker`` runs each request's dialogue-and-reply in a thread of its own, after the one
before it has finished, so the pipeline keeps reading the microphone (a wake word said over the
reply stops it: barge-in). ``speak_reply`` synthesizes a reply, plays it as it is synthesized and
keeps its audio; ``say_later`` says a late notice after any reply in progress.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

from assistant.audio import AudioChunk, concat
from assistant.tts.base import Synthesizer

log = logging.getLogger(__name__)

Speak = Callable[[Iterator[AudioChunk]], None]
"""Plays audio as it comes (the speaker); returns when it has been played or was stopped."""


class ReplyWorker:
    """Replies in a worker thread, one at a time, in order."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None

    def start(self, reply: Callable[[], None]) -> None:
        """Run ``reply`` in a thread of its own once the reply before has finished."""
        self.join()
        self._thread = threading.Thread(target=reply, daemon=True)
        self._thread.start()

    def join(self) -> None:
        """Wait for the reply in progress, if any."""
        if self._thread is not None:
            self._thread.join()

    @property
    def busy(self) -> bool:
        """True while a reply is being worked out or played."""
        return self._thread is not None and self._thread.is_alive()


def speak_reply(
    synthesizer: Synthesizer,
    text: str,
    speak: Speak | None,
    on_first_audio: Callable[[], None] | None = None,
    on_synthesized: Callable[[float], None] | None = None,
) -> AudioChunk | None:
    """Synthesize ``text`` and play it on ``speak`` as it comes (without one, only synthesize); the
    audio synthesized (None when there was none). ``on_first_audio`` runs when the first chunk is
    ready (the latency a listener hears); ``on_synthesized`` gets the synthesis time (ms) once the
    last chunk has been taken (never, when playback stopped before the reply's end)."""
    chunks: list[AudioChunk] = []

    def stream() -> Iterator[AudioChunk]:
        t_synth = time.perf_counter()
        for i, chunk in enumerate(synthesizer.synthesize(text)):
            if i == 0 and on_first_audio is not None:
                on_first_audio()
            chunks.append(chunk)
            yield chunk
        if on_synthesized is not None:
            on_synthesized((time.perf_counter() - t_synth) * 1e3)

    if speak is not None:
        speak(stream())
    else:
        for _ in stream():
            pass
    return concat(chunks) if chunks else None


def say_later(
    text: str, synthesizer: Synthesizer, speak: Speak, after: AbstractContextManager[object]
) -> threading.Thread:
    """Say ``text`` in a thread of its own once ``after`` (the reply lock) is free; never raises."""

    def say() -> None:
        with after:
            try:
                speak(synthesizer.synthesize(text))
            except Exception:
                log.exception("could not say %r", text)

    thread = threading.Thread(target=say, name="notice", daemon=True)
    thread.start()
    return thread
