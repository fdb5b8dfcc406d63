"""What the voice pipeline reports as it works: one frozen dataclass per kind of event.

In the manner of wyoming's messages (``Transcript``, ``Detection``...): each event is a typed
message with the stream time it happened at (``t_ms``, ms since the audio started) and the wall
time (``wall``, ``time.perf_counter()``). ``Event`` is the union of them all; ``kind`` names the
event as the CLI timeline, the service log and ``listen --events`` print it, and ``data()`` gives
its own fields as JSON values.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import Enum, StrEnum
from typing import Any, ClassVar

from assistant.vad.base import EndpointReason


class WindowEnd(StrEnum):
    """Why the follow-up window closed with no request in it."""

    SILENCE = "silence"
    """Nothing was said for ``follow_up_s``."""
    WAKE = "wake"
    """The driver said the wake word: an ordinary request starts."""
    PUSH_TO_TALK = "push_to_talk"
    """The driver pressed push-to-talk: an ordinary request starts."""
    NOTICE = "notice"
    """The car said a late notice, which the microphone hears."""
    END_OF_AUDIO = "end_of_audio"
    """The recording ended."""


@dataclass(frozen=True)
class PipelineEvent:
    """What every event has: when it happened."""

    kind: ClassVar[str]
    t_ms: float
    """Stream time (ms since the audio started)."""
    wall: float = field(default_factory=time.perf_counter, kw_only=True, compare=False)
    """time.perf_counter() when it happened."""

    def data(self) -> dict[str, Any]:
        """The event's own fields (not its times), as JSON values."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("t_ms", "wall"):
                continue
            value = getattr(self, f.name)
            if isinstance(value, Enum):
                value = value.value
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        return out


@dataclass(frozen=True)
class WakeDetected(PipelineEvent):
    kind: ClassVar[str] = "wake"
    name: str
    probability: float


@dataclass(frozen=True)
class PushToTalk(PipelineEvent):
    """The button (or Enter) started a request, as the wake word would."""

    kind: ClassVar[str] = "push_to_talk"


@dataclass(frozen=True)
class SpeechStarted(PipelineEvent):
    kind: ClassVar[str] = "speech_start"


@dataclass(frozen=True)
class PartialTranscript(PipelineEvent):
    """The recognizer's text so far, while the request is being heard."""

    kind: ClassVar[str] = "partial"
    text: str


@dataclass(frozen=True)
class EndpointDetected(PipelineEvent):
    """The request ended; ``after_speech_ms`` after the end of speech."""

    kind: ClassVar[str] = "endpoint"
    reason: EndpointReason
    after_speech_ms: float


@dataclass(frozen=True)
class Transcript(PipelineEvent):
    """The recognizer's final text and its confidence (None when it gives none)."""

    kind: ClassVar[str] = "transcript"
    text: str
    confidence: float | None


@dataclass(frozen=True)
class Rescored(PipelineEvent):
    """An n-best alternative (``chosen``) was taken over the best text (``heard``)."""

    kind: ClassVar[str] = "rescored"
    heard: str
    chosen: str


@dataclass(frozen=True)
class Commands(PipelineEvent):
    """The dialogue's commands for the request (``Command.to_json()`` each)."""

    kind: ClassVar[str] = "commands"
    commands: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class FrameSent(PipelineEvent):
    """A CAN frame the request caused went out, ``after_endpoint_ms`` after the endpoint."""

    kind: ClassVar[str] = "frame"
    message: str
    signals: Mapping[str, Any]
    after_endpoint_ms: float


@dataclass(frozen=True)
class Reply(PipelineEvent):
    """The reply's text; ``unanswered``: words in the follow-up window that were not for the
    assistant (no reply, and no tone)."""

    kind: ClassVar[str] = "reply"
    text: str
    unanswered: bool = False

    def data(self) -> dict[str, Any]:
        return {"text": self.text, "unanswered": True} if self.unanswered else {"text": self.text}


@dataclass(frozen=True)
class ReplyAudio(PipelineEvent):
    """The reply's first audio was ready, ``after_endpoint_ms`` after the endpoint."""

    kind: ClassVar[str] = "reply_audio"
    after_endpoint_ms: float


@dataclass(frozen=True)
class ReplyDone(PipelineEvent):
    kind: ClassVar[str] = "reply_done"
    seconds: float
    """Length of the reply's audio."""


@dataclass(frozen=True)
class Notice(PipelineEvent):
    """A late report from the car (a window that stopped short on its way)."""

    kind: ClassVar[str] = "notice"
    text: str


@dataclass(frozen=True)
class BargeIn(PipelineEvent):
    """The driver talked over the reply: it was stopped."""

    kind: ClassVar[str] = "barge_in"


@dataclass(frozen=True)
class NoSpeech(PipelineEvent):
    """Woken, then nothing was said."""

    kind: ClassVar[str] = "timeout"


@dataclass(frozen=True)
class FollowUpOpened(PipelineEvent):
    """Listening ``seconds`` more without the wake word."""

    kind: ClassVar[str] = "follow_up"
    seconds: float


@dataclass(frozen=True)
class FollowUpClosed(PipelineEvent):
    """The follow-up window closed with no request in it."""

    kind: ClassVar[str] = "follow_up_end"
    reason: WindowEnd


@dataclass(frozen=True)
class Failed(PipelineEvent):
    """A request failed; the assistant keeps listening."""

    kind: ClassVar[str] = "error"
    error: str


Event = (
    WakeDetected
    | PushToTalk
    | SpeechStarted
    | PartialTranscript
    | EndpointDetected
    | Transcript
    | Rescored
    | Commands
    | FrameSent
    | Reply
    | ReplyAudio
    | ReplyDone
    | Notice
    | BargeIn
    | NoSpeech
    | FollowUpOpened
    | FollowUpClosed
    | Failed
)
"""Any event the pipeline reports."""

EVENT_TYPES: tuple[type[PipelineEvent], ...] = (
    WakeDetected, PushToTalk, SpeechStarted, PartialTranscript, EndpointDetected, Transcript, Rescored,
    Commands, FrameSent, Reply, ReplyAudio, ReplyDone, Notice, BargeIn, NoSpeech, FollowUpOpened,
    FollowUpClosed, Failed,
)  # fmt: skip
