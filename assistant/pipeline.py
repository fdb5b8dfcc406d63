"""The voice pipeline: wake -> VAD + streaming ASR -> dialogue (text) -> reply TTS.

One explicit orchestrator over five fixed stages, fed one audio chunk at a
time from a microphone or a file. Progress goes to one callback as ``Event``s
(the CLI timeline, the tests and the benchmarks all read the same events).

A request ends on trailing silence, on its maximum length, or early
(semantic endpointing) when the partial transcript already parses into
complete, confident commands that stay the same while the speaker pauses for
``semantic_stable_ms``. A request that was cut off (it ends on a dangling
"and"/"the", or hit the maximum length mid-speech) executes nothing and gets
a short "Sorry?". A wake word heard while a request is still being listened to
starts a request of its own: the one before ends there and, since its
transcript runs into the wake phrase, executes nothing (the driver started
again; acting on a misheard tail is worse than missing it).

Follow-ups: after the reply to a request that reached the car's commands
(acted, asked back, refused), the pipeline listens for ``follow_up_s`` more
without the wake word ("and the passenger side too", "yes"). The window opens
when the reply has been spoken (live) or, on a recording, which holds no
reply, where the request ended; a ``follow_up`` event marks it (the CLI plays
an earcon). Silence for ``follow_up_s`` closes it; a wake word or push-to-talk
in it starts an ordinary request. With no wake word to say the words were for
the assistant, the window takes only what it can be sure of: a text (best or
n-best) every piece of which one of the intents' templates matches whole, or a
follow-up phrase ("and the passenger side too", "a bit more") while the last
turn's commands are live. Anything else is talk between passengers: it is logged as dropped
(``follow_up_not_exact``), not answered, and opens no window, so one window
never chains into the next on chatter (the statistical parser alone finds
confident commands in misheard chatter: "I think we should stop for coffee
soon" heard as "i degree shut stop for coffee sun" reads as sunroof.close).
What passes goes through the same dialogue, guards and questions as any
request. The window stays open while music plays, however loud: that gate is
what keeps lyrics and chatter out, and ``python -m assistant.voice_bench
followup`` counts false starts over loud synthetic music too (no recorded
songs: the figure says nothing about real ones). A reply or a late notice
said while the window would be open is not listened to (live, the window opens
after the reply; a notice closes it), since the microphone hears the speaker.

Times: ``t_ms`` is stream time (position in the audio); latencies after the
end of speech add the stream time from end of speech to the endpoint decision
and the wall time from the decision to the CAN frame or reply audio, which is
what a live listener experiences when the pipeline keeps up with real time.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from itertools import chain
from typing import Any

from assistant.asr.base import Recognizer, Transcript, choose_engine, load_recognizer
from assistant.audio import AudioChunk, concat, silence, split, to_stream_format
from assistant.audit import Heard, entry_of
from assistant.config import Settings, VoiceSettings
from assistant.context import classify
from assistant.dialogue import Dialogue, Turn
from assistant.errors import AssistantError
from assistant.nlu.base import Parser
from assistant.policy import Speech
from assistant.tts.base import Synthesizer
from assistant.vad.base import Endpoint, Endpointer, SpeechDetector
from assistant.wake.base import Detection, WakeDetector

log = logging.getLogger(__name__)

SORRY = "Sorry?"
CONTEXT_MS = 1500.0
"""Audio before a request handed to the recognizer to adapt to the cabin (ms)."""
MAX_ALTERNATIVES = 10
"""n-best texts the parser may try besides the best."""
GRAMMAR_CONFIDENCE = 0.9
"""Template matches at least this sure count as exact (a whole match, or pieces cut at "and")."""
WINDOW_MIN_POSTERIOR = 0.03
"""The least posterior (the recogniser's, of the whole text) of a command taken in the follow-up
window. Measured with the window's language model on piper speech (2026-11-30): commands said there
0.003-0.5 (2 of 58 under 0.05); out-of-domain talk it took for a command, 0.0-0.022 ("I can't
remember the last time it snowed here" heard as "undo": 0.0; over music, "can't hear": 0.022) but
for one heard as "the locks on" (0.14, see ``WINDOW_MIN_COVERAGE``)."""
WINDOW_FOLLOW_UP_POSTERIOR = 0.01
"""The same for a follow-up phrase, which must also fit the live context's commands: follow-ups said
in the window 0.02-0.9 ("not that one the rear left": 0.02); no talk was read as one."""
WINDOW_MIN_COVERAGE = 0.5
"""The least share of the speech heard in the window (its stretch by the VAD) that the recognised
words must span: talk the recogniser read as a short command amid silence and noise is longer than
its words ("the temperature dropped a lot last night" heard as "the locks on": 0.30; "I can't
remember the last time it snowed here" as "the you": 0.17). Requests and follow-ups said in the
window span 0.84-1.04 of their speech (piper, 2026-11-30)."""
WINDOW_ANSWERS = frozenset({"assistant.confirm", "assistant.deny"})
"""A yes or a no: in the window only while a question waits for it ("okay", "right", "no" are talk)."""
BLOCK_MS = 30.0
CHANNEL_MS = 10_000.0
"""Start of a streamed recording read ahead for the recognizer to adapt to (ms; it uses up to 5 s)."""
"""Audio block the pipeline is fed in (ms): 3 wake-word feature frames."""
PIECES = re.compile(r"\s*(?:,|;|\b(?:and then|and also|and|then|also|plus)\b)\s*")
"""Where requests said in one breath are cut, for the follow-up window's whole-piece check."""
# a request that ends on one of these was cut off mid-sentence ("close the windows and", "open the");
# prepositions are not here: "what temperature is it set to" is complete
DANGLING = frozenset("and then also plus but or the a an my your".split())


class State(Enum):
    IDLE = "idle"
    """Waiting for the wake word or push-to-talk."""
    LISTENING = "listening"
    """A request is being heard."""


@dataclass(frozen=True)
class Event:
    """Something the pipeline did; ``kind`` is one of the names in ``EVENT_KINDS``."""

    kind: str
    t_ms: float
    """Stream time (ms since the audio started)."""
    wall: float
    """time.perf_counter() when it happened."""
    data: Mapping[str, Any] = field(default_factory=dict)


EVENT_KINDS = (
    "wake",
    "push_to_talk",
    "speech_start",
    "partial",
    "endpoint",
    "transcript",
    "rescored",
    "commands",
    "frame",
    "reply",
    "reply_audio",
    "reply_done",
    "notice",
    "barge_in",
    "timeout",
    "follow_up",
    "follow_up_end",
    "error",
)


@dataclass
class VoiceTurn:
    """One spoken request and everything it caused."""

    text: str = ""
    endpoint: Endpoint | None = None
    wake: Detection | None = None
    turn: Turn | None = None
    reply: str = ""
    reply_audio: AudioChunk | None = None
    frames: list[Any] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    partials: list[str] = field(default_factory=list)
    alternatives: tuple[str, ...] = ()
    asr_confidence: float | None = None
    """The recognizer's confidence in ``text`` as heard (posterior, [0, 1]); None when it gives none."""
    words: list[dict[str, Any]] = field(default_factory=list)
    """The heard words with their times (ms) and confidences, when the recognizer gives them."""
    cut_off: bool = False
    follow_up: bool = False
    """Heard in the follow-up window, without a wake word."""
    error: str | None = None

    @property
    def commands(self) -> list[dict[str, Any]]:
        return self.turn.commands_json() if self.turn else []

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "text": self.text,
            "commands": self.commands,
            "actions": [a.to_json() for a in self.turn.actions] if self.turn else [],
            "frames": [f.to_json() for f in self.frames],
            "reply": self.reply,
            "endpoint": self.endpoint.reason if self.endpoint else None,
            "wake": self.wake.name if self.wake else None,
            # stream times (ms from the start of the audio): where this request sits in a recording
            "wake_ms": round(self.wake.timestamp_ms, 1) if self.wake else None,
            "speech_ms": (
                [round(self.endpoint.speech_start_ms, 1), round(self.endpoint.speech_end_ms, 1)]
                if self.endpoint and self.endpoint.speech_start_ms is not None
                and self.endpoint.speech_end_ms is not None
                else None
            ),
            "endpoint_ms": round(self.endpoint.at_ms, 1) if self.endpoint else None,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }
        if self.asr_confidence is not None:
            out["asr_confidence"] = round(self.asr_confidence, 3)
        if self.words:
            out["words"] = self.words
        if self.cut_off:
            out["cut_off"] = True
        if self.follow_up:
            out["follow_up"] = True
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class VoiceParts:
    """The stage engines a pipeline runs; ``asr_choice`` says which recognizer and why."""

    vad: SpeechDetector
    recognizer: Recognizer
    wake: WakeDetector | None = None
    synthesizer: Synthesizer | None = None
    asr_choice: str = ""
    grammar: Parser | None = None
    """The template parser: a hypothesis it matches exactly is taken over the statistical parse of
    the best one (speech only; see ``VoicePipeline._rescore``)."""


def build_parts(settings: Settings, *, wake: bool = True, tts: bool = True) -> VoiceParts:
    """Load the engines the settings name (seconds: models load here, not mid-request)."""
    from assistant.vad.silero import SileroSpeechDetector

    v = settings.voice
    name, why = choose_engine(v.asr_engine, v.vosk_model)
    options: dict[str, Any] = {}
    if name == "vosk":
        options = {"model": v.vosk_model, "grammar": v.vosk_grammar}
    elif name == "whisper":
        options = {"model": v.whisper_model}
    recognizer = load_recognizer(name, **options)
    detector: WakeDetector | None = None
    if wake:
        from assistant.wake.micro import MicroWakeDetector

        detector = MicroWakeDetector(v.wake_word, v.wake_cutoff)
    synthesizer: Synthesizer | None = None
    if tts:
        from assistant.tts.piper import PiperSynthesizer

        synthesizer = PiperSynthesizer(v.tts_model, length_scale=v.tts_length_scale)
        synthesizer.load()
    grammar: Parser | None = None
    if v.grammar_first:
        from assistant.nlu.templates import TemplateParser

        grammar = TemplateParser()
    return VoiceParts(SileroSpeechDetector(), recognizer, detector, synthesizer, f"{name} ({why})", grammar)


def cut_off(text: str, endpoint: Endpoint) -> bool:
    """True for a request that stopped mid-sentence: it must not half-execute."""
    if endpoint.reason == "wake":
        return True  # the driver started again: the words before run into the wake phrase
    words = text.lower().split()
    if words and words[-1] in DANGLING:
        return True
    # still speaking when the maximum length cut in
    return endpoint.reason == "max_length" and endpoint.speech_end_ms == endpoint.at_ms


class VoicePipeline:
    """Feed chunks with ``feed()``; a ``VoiceTurn`` comes back when a request was answered.

    ``wake=False`` listens for requests from the start (files without a wake
    word); with ``wake=True`` and no wake detector only push-to-talk starts
    one. ``speak`` plays reply audio (live mode; it runs in a worker thread so
    the wake word can interrupt it); without it the reply audio is kept in
    ``VoiceTurn.reply_audio``.
    """

    def __init__(
        self,
        parts: VoiceParts,
        dialogue: Dialogue,
        voice: VoiceSettings | None = None,
        on_event: Callable[[Event], None] | None = None,
        *,
        wake: bool = True,
        bridge: Any = None,
        speak: Callable[[Iterator[AudioChunk]], None] | None = None,
        stop_speaking: Callable[[], None] | None = None,
        synthesize: bool = True,
    ) -> None:
        self.parts = parts
        self.dialogue = dialogue
        self.voice = voice or VoiceSettings()
        self.on_event = on_event
        # wake=False: every stretch of speech is a request (files); wake=True without a wake
        # detector: idle until push-to-talk
        self.always_listening = not wake
        self.use_wake = wake and parts.wake is not None
        self.speak = speak
        self.stop_speaking = stop_speaking
        self.synthesize = synthesize and parts.synthesizer is not None
        v = self.voice
        self.endpointer = Endpointer(
            v.vad_threshold,
            v.trailing_silence_ms,
            v.max_request_s * 1000,
            float("inf") if self.always_listening else v.no_speech_s * 1000,
        )
        self._ptt = threading.Event()
        self._frames: list[tuple[float, Any]] = []
        self._frames_lock = threading.Lock()
        self._unsubscribe = bridge.subscribe(self._on_frame) if bridge is not None else None
        self._unlisten = dialogue.vehicle.listen(self._on_notice)
        self.notices: list[str] = []
        """What the car side said later (a window that stopped short), in order."""
        self._respond_lock = threading.Lock()
        self._context: deque[AudioChunk] = deque()
        self._worker: threading.Thread | None = None
        self._t_ms = 0.0
        self._follow_up = False
        self._templates: Any = None  # the follow-up window's exact-match check, when no grammar is set
        self._notice_said = False
        self._awaiting: VoiceTurn | None = None
        """A turn whose reply is being spoken; the window may open once it is done (live)."""
        self.reset()

    # -- control -------------------------------------------------------------------------------

    def reset(self, channel: AudioChunk | None = None) -> None:
        """Back to the start of a stream.

        Without ``channel`` the recognizer keeps what it learned about the channel, as it does
        between live requests; with it (the start of a recording) it learns the channel from that
        instead, so a file is heard the same whatever was heard before it.
        """
        self._t_ms = 0.0
        self._context.clear()
        self._awaiting = None  # a new stream: no window after a reply from the one before
        if channel is not None:
            self.parts.recognizer.reset(channel)
        if self.parts.wake is not None:
            self.parts.wake.reset()
        self._enter_idle(0.0)
        if self.always_listening:
            self._start_listening(0.0, None)

    def push_to_talk(self) -> None:
        """Start a request now, as the wake word would (GPIO button, Enter); thread-safe."""
        self._ptt.set()

    def open_window(self) -> None:
        """Open the follow-up window now, as after a reply to a command (a benchmark that feeds talk
        into the window; live, the window opens by itself)."""
        self._open_window(self._t_ms)

    def close(self) -> None:
        if self._worker is not None:
            self._worker.join()
        self._unlisten()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # -- feeding -------------------------------------------------------------------------------

    def feed(self, chunk: AudioChunk) -> VoiceTurn | None:
        """Process one chunk (any format; converted); the request it completed, if any."""
        chunk = to_stream_format(chunk)
        t0 = self._t_ms
        chunk = AudioChunk(chunk.rate, chunk.width, chunk.channels, chunk.audio, t0)
        t_end = t0 + chunk.duration_ms
        self._t_ms = t_end
        if self.state is State.IDLE:
            self._context.append(chunk)
            while sum(c.duration_ms for c in self._context) > CONTEXT_MS:
                self._context.popleft()
            detection = self.parts.wake.process(chunk) if (self.use_wake and self.parts.wake) else None
            awaiting = self._awaiting
            if detection is None and awaiting is not None and not self._replying():
                self._awaiting = None
                if self._opens_window(awaiting) and not self._ptt.is_set():
                    self._open_window(t0)
                    return self._listen(chunk, t0, t_end)
            if self._ptt.is_set():
                self._ptt.clear()
                detection = Detection("push_to_talk", t_end)
                self._emit("push_to_talk", t_end)
            if detection is not None:
                if detection.name != "push_to_talk":
                    self._emit(
                        "wake", t_end, name=detection.name, probability=round(detection.probability, 3)
                    )
                if self._worker is not None and self._worker.is_alive() and self.stop_speaking is not None:
                    self.stop_speaking()  # barge-in: the driver talks over the reply
                    self._emit("barge_in", t_end)
                self._start_listening(t_end, detection)
            return None
        if self.use_wake and self.parts.wake is not None:
            # keep the detector's streaming state current; a stale one fires on the old wake word
            detection = self.parts.wake.process(chunk)
            if detection is not None and self._follow_up:
                # the driver used the wake word in the window: what came before it was the wake phrase
                self._close_window(t_end, "wake")
                self._emit("wake", t_end, name=detection.name, probability=round(detection.probability, 3))
                self._start_listening(t_end, detection)
                return None
            if detection is not None:
                # a new wake word: the request so far is over, the new one starts here
                e = self.endpointer
                turn = self._finish(Endpoint("wake", t_end, e.speech_start_ms, e.speech_end_ms))
                self._emit("wake", t_end, name=detection.name, probability=round(detection.probability, 3))
                self._start_listening(t_end, detection)
                return turn
        if self._follow_up and self._notice_said and not self.endpointer.in_speech:
            self._close_window(t_end, "notice")
            return None
        if self._follow_up and self._ptt.is_set() and not self.endpointer.in_speech:
            self._ptt.clear()
            self._close_window(t_end, "push_to_talk")
            self._emit("push_to_talk", t_end)
            self._start_listening(t_end, Detection("push_to_talk", t_end))
            return None
        return self._listen(chunk, t0, t_end)

    def run(self, audio: AudioChunk, block_ms: float = BLOCK_MS) -> list[VoiceTurn]:
        """A whole recording, then enough silence for its last request to end; the requests answered.

        The stream starts afresh, with the recognizer adapted to the recording's first seconds.
        """
        audio = to_stream_format(audio)
        self.reset(channel=audio)  # the recognizer reads as much of it as its adaptation can use
        tail = silence(self.voice.trailing_silence_ms + 300)
        return self._run(split(concat([audio, tail]), block_ms))

    def run_stream(self, blocks: Iterable[AudioChunk], block_ms: float = BLOCK_MS) -> list[VoiceTurn]:
        """``run`` on a recording given as blocks (``WavStream.blocks``), never all of it in memory.

        Only the first ``CHANNEL_MS`` are read ahead, for the recognizer to adapt to; a request is
        capped at the maximum request length as it is live.
        """
        blocks = iter(blocks)
        head: list[AudioChunk] = []
        while sum(c.duration_ms for c in head) < CHANNEL_MS:
            block = next(blocks, None)
            if block is None:
                break
            head.append(to_stream_format(block))
        self.reset(channel=concat(head) if head else None)
        tail = split(silence(self.voice.trailing_silence_ms + 300), block_ms)
        return self._run(chain(head, blocks, tail))

    def _run(self, blocks: Iterable[AudioChunk]) -> list[VoiceTurn]:
        turns = []
        for chunk in blocks:
            turn = self.feed(chunk)
            if turn is not None:
                turns.append(turn)
        if self.state is State.LISTENING and self.endpointer.in_speech:
            # the recording stops mid-request
            endpoint = Endpoint("max_length", self._t_ms, self.endpointer.speech_start_ms, self._t_ms)
            last = self._finish(endpoint)
            if last is not None:
                turns.append(last)
        elif self.state is State.LISTENING and self._follow_up:
            self._close_window(self._t_ms, "end_of_audio")
        elif self.state is State.LISTENING and self._detection is not None:
            # woken, then nothing was said before the recording ended
            last = self._finish(Endpoint("no_speech", self._t_ms, None, None))
            if last is not None:
                turns.append(last)
        if self._worker is not None:
            self._worker.join()
        return turns

    # -- internals -----------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def in_follow_up(self) -> bool:
        """True while the follow-up window is open (listening without a wake word)."""
        return self._state is State.LISTENING and self._follow_up

    def _replying(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def _opens_window(self, vt: VoiceTurn) -> bool:
        """A reply to what reached the car's commands: acted on, asked back about, or refused."""
        if self.voice.follow_up_s <= 0 or self.always_listening or vt.turn is None or vt.error:
            return False
        return bool(vt.turn.commands or vt.turn.actions)

    def _open_window(self, t_ms: float) -> None:
        self._notice_said = False
        self._start_listening(t_ms, None, follow_up=True)
        self._follow_up = True
        self.endpointer.no_speech_ms = self.voice.follow_up_s * 1000
        self._emit("follow_up", t_ms, seconds=self.voice.follow_up_s)

    def _close_window(self, t_ms: float, reason: str) -> None:
        """The window ends with no request in it (silence, a wake word, push-to-talk, the file's end)."""
        self._emit("follow_up_end", t_ms, reason=reason)
        self._enter_idle(t_ms)

    def _emit(self, kind: str, t_ms: float, **data: Any) -> None:
        if self.on_event is not None:
            try:
                self.on_event(Event(kind, t_ms, time.perf_counter(), data))
            except Exception:  # a display bug must not stop the assistant
                log.exception("event callback failed on %s", kind)

    def _on_frame(self, frame: Any) -> None:
        if frame.direction != "tx":
            return
        with self._frames_lock:
            self._frames.append((time.perf_counter(), frame))

    def _on_notice(self, text: str) -> None:
        """A late report from the car (a window jammed on its way): said after any reply in progress."""
        self.notices.append(text)
        self._emit("notice", self._t_ms, text=text)
        if self.speak is None or not self.synthesize or self.parts.synthesizer is None:
            return
        synthesizer, speak = self.parts.synthesizer, self.speak
        self._notice_said = True  # the microphone will hear it: no follow-up window over it

        def say() -> None:
            with self._respond_lock:
                try:
                    speak(synthesizer.synthesize(text))
                except Exception:
                    log.exception("could not say %r", text)

        threading.Thread(target=say, name="notice", daemon=True).start()

    def _enter_idle(self, t_ms: float) -> None:
        self._state = State.IDLE
        self._follow_up = False
        self._detection: Detection | None = None
        self._partials: list[str] = []
        self._sem_key: str | None = None
        self._sem_since = 0.0

    def _start_listening(self, t_ms: float, detection: Detection | None, follow_up: bool = False) -> None:
        """Listen for a request; ``follow_up``: in the window after a reply, where the recognizer uses
        its follow-up language model when it has one."""
        self._state = State.LISTENING
        self._follow_up = False
        self._awaiting = None  # a wake word or push-to-talk while the reply plays: no window after it
        self.endpointer.no_speech_ms = (
            float("inf") if self.always_listening else self.voice.no_speech_s * 1000
        )
        self._detection = detection
        self._partials = []
        self._sem_key = None
        self._sem_since = t_ms
        self.endpointer.begin(t_ms)
        self.parts.vad.reset()
        context = concat(list(self._context)) if self._context else None
        self._context.clear()
        self.parts.recognizer.follow_up(follow_up)
        self.parts.recognizer.begin(context)

    def _listen(self, chunk: AudioChunk, t0: float, t_end: float) -> VoiceTurn | None:
        was_speech = self.endpointer.in_speech
        probability = self.parts.vad.process(chunk)
        endpoint = self.endpointer.update(t0, chunk.duration_ms, probability)
        if not was_speech and self.endpointer.in_speech:
            self._emit("speech_start", self.endpointer.speech_start_ms or t0)
        partial = self.parts.recognizer.accept(chunk)
        if partial is not None and partial.text:
            self._partials.append(partial.text)
            self._emit("partial", t_end, text=partial.text)
            # not in the follow-up window: "no, the other one" would end at "no" (a confident deny)
            if self.voice.semantic_endpointing and not self._follow_up:
                self._semantic_update(partial, t_end)
        if endpoint is None and self._sem_key and self._semantic_ready(t_end, probability):
            endpoint = Endpoint(
                "semantic", t_end, self.endpointer.speech_start_ms, self.endpointer.speech_end_ms
            )
        if endpoint is None:
            return None
        return self._finish(endpoint)

    def _semantic_update(self, partial: Transcript, t_ms: float) -> None:
        """Remember when the partial's commands last changed; None when they may not end a request."""
        key: str | None = None
        words = partial.text.split()
        if words and words[-1] not in DANGLING:
            try:
                parse = self.dialogue.parser.parse(partial.text)
            except AssistantError:
                parse = None
            if (
                parse is not None
                and parse.commands
                and all(c.confidence >= self.voice.semantic_min_confidence for c in parse.commands)
            ):
                key = repr([c.to_json() for c in parse.commands])
        if key != self._sem_key:
            self._sem_key = key
            self._sem_since = t_ms

    def _semantic_ready(self, t_ms: float, probability: float) -> bool:
        stable = self.voice.semantic_stable_ms
        speech_end = self.endpointer.speech_end_ms
        return (
            probability < self.endpointer.threshold
            and speech_end is not None
            and t_ms - speech_end >= stable
            and t_ms - self._sem_since >= stable
        )

    def _finish(self, endpoint: Endpoint) -> VoiceTurn | None:
        wall0 = time.perf_counter()
        detection, partials, follow_up = self._detection, self._partials, self._follow_up
        if follow_up and endpoint.reason == "no_speech":
            # silence closes the window; the recognizer's utterance is left to the next begin()
            self._close_window(endpoint.at_ms, "silence")
            return None
        delay = endpoint.at_ms - endpoint.speech_end_ms if endpoint.speech_end_ms is not None else 0.0
        self._emit("endpoint", endpoint.at_ms, reason=endpoint.reason, after_speech_ms=round(delay, 1))
        try:
            final = self.parts.recognizer.end()
        except AssistantError as err:
            log.warning("ASR failed: %s", err)
            final = Transcript("")
        asr_ms = (time.perf_counter() - wall0) * 1e3
        self._enter_idle(endpoint.at_ms)
        if self.always_listening:
            self._start_listening(endpoint.at_ms, None)
        vt = VoiceTurn(
            final.text,
            endpoint,
            detection,
            partials=partials,
            alternatives=final.alternatives,
            timings_ms={"endpoint_delay": delay, "asr_final": asr_ms},
            asr_confidence=final.confidence,
            words=[w.to_json() for w in final.words],
            follow_up=follow_up,
        )
        if detection is not None:
            vt.timings_ms["wake_at"] = detection.timestamp_ms
        if endpoint.reason == "no_speech":
            self._emit("timeout", endpoint.at_ms)
            return vt
        self._emit(
            "transcript",
            endpoint.at_ms,
            text=final.text,
            confidence=final.confidence if final.confidence is not None else None,
        )
        if self._worker is not None:
            self._worker.join()  # one reply at a time, in order
        if self.speak is not None:
            self._worker = threading.Thread(target=self._respond, args=(vt, wall0), daemon=True)
            self._worker.start()
            self._awaiting = vt  # feed() opens the window once the reply has been spoken
        else:
            self._respond(vt, wall0)
            if self.state is State.IDLE and self._opens_window(vt):
                self._open_window(endpoint.at_ms)  # a recording holds no reply: the window opens here
        return vt

    def _respond(self, vt: VoiceTurn, wall0: float) -> None:
        """Dialogue, then the spoken reply; fills ``vt`` in. Never raises: one bad request is one reply."""
        endpoint = vt.endpoint
        assert endpoint is not None
        t_ms = endpoint.at_ms
        with self._frames_lock:
            # replies are one at a time, so earlier frames are done with (a live session runs for hours)
            self._frames.clear()
            first_new = 0
        try:
            with self._respond_lock:
                if endpoint.reason == "wake":
                    vt.cut_off = True  # no "Sorry?": the driver is already saying the next request
                elif not vt.text.strip():
                    # noise, a cough, music: nothing to do; after a wake word, ask again
                    vt.reply = SORRY if vt.wake is not None else ""
                elif cut_off(text := self._rescore(vt), endpoint):
                    vt.cut_off = True
                    vt.reply = "" if vt.follow_up else SORRY
                elif vt.follow_up and not self._sure(text, vt.asr_confidence, word_coverage(vt)):
                    self._log_dropped(vt, text)  # talk between passengers: not for the assistant
                else:
                    # the audit log keeps what was heard beside what was acted on
                    self.dialogue.recorder.heard = Heard(
                        vt.text, vt.asr_confidence, vt.alternatives, text if text != vt.text else None,
                        dict(vt.timings_ms),
                    )
                    speech = Speech(vt.asr_confidence, vt.alternatives[:MAX_ALTERNATIVES], vt.text)
                    vt.text = text
                    turn = self.dialogue.handle(vt.text, speech)
                    vt.turn = turn
                    # in the window, words that are no command were not for the assistant: no answer
                    vt.reply = "" if vt.follow_up and not (turn.commands or turn.actions) else turn.reply
                    vt.timings_ms.update({f"dialogue_{k}": v for k, v in turn.timings_ms.items()})
                    self._emit("commands", t_ms, commands=vt.commands)
                with self._frames_lock:
                    new = self._frames[first_new:]
                vt.frames = [f for _, f in new] or list(vt.turn.frames if vt.turn else [])
                for wall, frame in new:
                    self._emit(
                        "frame",
                        t_ms,
                        message=frame.message,
                        signals=dict(frame.signals),
                        after_endpoint_ms=round((wall - wall0) * 1e3, 1),
                    )
                if new:
                    first = (new[0][0] - wall0) * 1e3
                    vt.timings_ms["first_frame"] = first
                    vt.timings_ms["eos_to_frame"] = vt.timings_ms["endpoint_delay"] + first
                vt.timings_ms["dialogue_total"] = (time.perf_counter() - wall0) * 1e3 - vt.timings_ms[
                    "asr_final"
                ]
                if vt.follow_up and not (vt.turn and (vt.turn.commands or vt.turn.actions)):
                    self._emit("reply", t_ms, text="", unanswered=True)  # not for the assistant
                else:
                    self._emit("reply", t_ms, text=vt.reply)
                if vt.reply and self.synthesize:
                    self._say(vt, wall0)
        except Exception as err:  # the assistant keeps listening whatever one request did
            log.exception("request %r failed", vt.text)
            vt.error = repr(err)
            self._emit("error", t_ms, error=str(err))

    def _rescore(self, vt: VoiceTurn) -> str:
        """The text to act on among the recognizer's best and its n-best alternatives.

        First the first of them that the intents' templates match exactly, or that is a follow-up
        phrase while the last turn's commands are live: on misheard speech a
        statistical parser still finds confident commands in garbage ("fogs" -> fog lights on),
        while an exact template match is rare by chance. Else the best text when the parser reads
        confident commands in it, else the first alternative it does ("is the car lock" -> "is
        the car locked"), else the best text.
        """
        endpoint = vt.endpoint or Endpoint("silence", 0, None, None)
        # a best text that was cut off ("turn up the") may be completed by an alternative ("turn up
        # the heat"), never shortened into a half request ("close the windows and" -> "... windows")
        least_words = len(vt.text.split()) if cut_off(vt.text, endpoint) else 0
        candidates = ([] if least_words else [vt.text]) + [
            t
            for t in vt.alternatives[:MAX_ALTERNATIVES]
            if not cut_off(t, endpoint) and len(t.split()) > least_words
        ]
        floor = self.voice.semantic_min_confidence

        def confident(parser: Parser, text: str, least: float) -> bool:
            parse = parser.parse(text)
            commands = parse.commands
            if parse.refused:  # understood, and refused for its number: not to be swapped for a
                return all(c.confidence >= least for c in commands)  # hypothesis that lost the minus
            return bool(commands) and min(c.confidence for c in commands) >= least

        # a follow-up ("and the passenger side too") matches no template on its own; while the last
        # turn's commands are live its patterns are as exact a match ("in the passenger side to" is
        # no request, its alternative is)
        follow_ups = bool(self.dialogue.context.live())

        def exact(grammar: Parser | None, text: str) -> bool:
            if follow_ups and classify(text) is not None:
                return True
            return grammar is not None and confident(grammar, text, GRAMMAR_CONFIDENCE)

        try:
            chosen: str | None = None
            grammar = self.parts.grammar
            if grammar is not None or follow_ups:
                chosen = next((t for t in candidates if exact(grammar, t)), None)
            if chosen is None and (len(candidates) > 1 or least_words):
                chosen = next((t for t in candidates if confident(self.dialogue.parser, t, floor)), None)
        except AssistantError:
            chosen = None
        if chosen is None or chosen == vt.text:
            return vt.text
        self._emit("rescored", endpoint.at_ms, heard=vt.text, chosen=chosen)
        return chosen

    def _sure(self, text: str, posterior: float | None = None, coverage: float | None = None) -> bool:
        """Sure enough to act on without a wake word (posterior and word times where the recogniser
        gives them): words spanning ``WINDOW_MIN_COVERAGE`` of the speech, and either a live
        follow-up heard with a posterior of ``WINDOW_FOLLOW_UP_POSTERIOR``, or a text heard with
        ``WINDOW_MIN_POSTERIOR`` every piece of which (cut at "and", "then", commas) one template
        matches whole, a yes or a no only while a question waits. Stricter than the parser's own
        template reading, which drops pieces it cannot match: misheard chatter "i need wiper and
        then open the way home" is wipers.set to it."""
        if coverage is not None and coverage < WINDOW_MIN_COVERAGE:
            return False
        follow_up = bool(self.dialogue.context.live()) and classify(text) is not None
        floor = WINDOW_FOLLOW_UP_POSTERIOR if follow_up else WINDOW_MIN_POSTERIOR
        if posterior is not None and posterior < floor:
            return False
        if follow_up:
            return True
        from assistant.nlu.templates import TemplateParser, clean

        if isinstance(self.parts.grammar, TemplateParser):
            templates = self.parts.grammar
        else:
            templates = self._templates = self._templates or TemplateParser()
        said = clean(text)
        try:
            whole = templates.match_piece(said)
            found = [whole] if whole is not None else [templates.match_piece(p) for p in PIECES.split(said)]
        except AssistantError:
            return False
        answers = any(m is not None and m.command.intent in WINDOW_ANSWERS for m in found)
        if answers and self.dialogue.pending is None:
            return False
        return all(m is not None and m.command.confidence >= GRAMMAR_CONFIDENCE for m in found)

    def _log_dropped(self, vt: VoiceTurn, text: str) -> None:
        """An audit entry for words in the window that were not acted on, with the rule that dropped them."""
        log_file = self.dialogue.recorder.log
        if log_file is None:
            return
        chosen = text if text != vt.text else None
        heard = Heard(vt.text, vt.asr_confidence, vt.alternatives, chosen, vt.timings_ms)
        entry = entry_of(Turn(text), self.dialogue.vehicle.state(), heard=heard)
        entry["decisions"] = [
            {
                "decision": "dropped",
                "rule": "follow_up_not_exact",
                "detail": {
                    "window_s": self.voice.follow_up_s,
                    "template_confidence": GRAMMAR_CONFIDENCE,
                    "min_posterior": WINDOW_MIN_POSTERIOR,
                    "posterior": vt.asr_confidence,
                    "min_coverage": WINDOW_MIN_COVERAGE,
                    "coverage": word_coverage(vt),
                },
            }
        ]
        log_file.write(entry)

    def _say(self, vt: VoiceTurn, wall0: float) -> None:
        synthesizer = self.parts.synthesizer
        assert synthesizer is not None
        t_ms = vt.endpoint.at_ms if vt.endpoint else 0.0
        chunks: list[AudioChunk] = []

        def stream() -> Iterator[AudioChunk]:
            t_synth = time.perf_counter()
            for i, chunk in enumerate(synthesizer.synthesize(vt.reply)):
                if i == 0:
                    first = (time.perf_counter() - wall0) * 1e3
                    vt.timings_ms["first_audio"] = first
                    vt.timings_ms["eos_to_audio"] = vt.timings_ms["endpoint_delay"] + first
                    self._emit("reply_audio", t_ms, after_endpoint_ms=round(first, 1))
                chunks.append(chunk)
                yield chunk
            vt.timings_ms["tts_total"] = (time.perf_counter() - t_synth) * 1e3

        if self.speak is not None:
            self.speak(stream())
        else:
            for _ in stream():
                pass
        if chunks:
            vt.reply_audio = concat(chunks)
            self._emit("reply_done", t_ms, seconds=round(vt.reply_audio.duration_ms / 1000, 2))


def word_coverage(vt: VoiceTurn) -> float | None:
    """The share of ``vt``'s speech (its stretch by the VAD) that its recognised words span; None when
    the engine gives no word times or the VAD no stretch."""
    e = vt.endpoint
    if e is None or e.speech_start_ms is None or e.speech_end_ms is None:
        return None
    spoken = e.speech_end_ms - e.speech_start_ms
    timed = [w for w in vt.words if w.get("end_ms", 0) > w.get("start_ms", 0)]
    if spoken <= 0 or not timed:
        return None
    return round(sum(w["end_ms"] - w["start_ms"] for w in timed) / spoken, 3)
