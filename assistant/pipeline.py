"""The voice pipeline: wake -> VAD + streaming ASR -> dialogue (text) -> reply TTS.

One explicit orchestrator over five fixed stages, fed one audio chunk at a
time from a microphone or a file. Progress goes to one callback as typed events
(``assistant.events``: the CLI timeline, the service log and the tests all read the same events).

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
reply, where the request ended; a ``FollowUpOpened`` event marks it (the CLI plays
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
what keeps lyrics and chatter out, and ``python -m workbench.voice_bench
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
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from itertools import chain
from typing import Any

from assistant import events as ev
from assistant.asr.base import Recognizer, Transcript, choose_engine, load_recognizer
from assistant.audio import AudioChunk, concat, silence, split, to_stream_format
from assistant.audit import Heard, entry_of
from assistant.config import Settings, VoiceSettings
from assistant.dialogue import Dialogue, Turn
from assistant.errors import AssistantError
from assistant.events import Event, WindowEnd
from assistant.nlu.base import Parser, load_parser
from assistant.nlu.rescoring import GRAMMAR_CONFIDENCE, MAX_ALTERNATIVES, rescore, sure
from assistant.policy import Speech
from assistant.timings import RequestClock, ms_since
from assistant.tts.base import Synthesizer, load_synthesizer
from assistant.tts.playback import ReplyWorker, say_later, speak_reply
from assistant.vad.base import Endpoint, Endpointer, SpeechDetector, load_speech_detector
from assistant.vad.semantic import SemanticEndpointer, cut_off
from assistant.wake.base import Detection, WakeDetector, load_wake_detector

log = logging.getLogger(__name__)

CONTEXT_MS = 1500.0
"""Audio before a request handed to the recognizer to adapt to the cabin (ms)."""
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
BLOCK_MS = 30.0
CHANNEL_MS = 10_000.0
"""Start of a streamed recording read ahead for the recognizer to adapt to (ms; it uses up to 5 s)."""
"""Audio block the pipeline is fed in (ms): 3 wake-word feature frames."""


class State(Enum):
    IDLE = "idle"
    """Waiting for the wake word or push-to-talk."""
    LISTENING = "listening"
    """A request is being heard."""


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
        detector = load_wake_detector("micro", model=v.wake_word, cutoff=v.wake_cutoff)
    synthesizer: Synthesizer | None = None
    if tts:
        synthesizer = load_synthesizer("piper", model=v.tts_model, length_scale=v.tts_length_scale)
        synthesizer.load()
    grammar: Parser | None = None
    if v.grammar_first:
        grammar = load_parser("templates")
    vad = load_speech_detector("silero")
    return VoiceParts(vad, recognizer, detector, synthesizer, f"{name} ({why})", grammar)


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
        self.semantic = SemanticEndpointer(v.semantic_min_confidence, v.semantic_stable_ms)
        self._ptt = threading.Event()
        self._frames: list[tuple[float, Any]] = []
        self._frames_lock = threading.Lock()
        self._unsubscribe = bridge.subscribe(self._on_frame) if bridge is not None else None
        self._unlisten = dialogue.vehicle.listen(self._on_notice)
        # the policy reads what was heard against the templates: the same parser, built now, not at the
        # first request
        dialogue.policy.use_templates(parts.grammar)
        self.notices: list[str] = []
        """What the car side said later (a window that stopped short), in order."""
        self._respond_lock = threading.Lock()
        self._context: deque[AudioChunk] = deque()
        self.replies = ReplyWorker()
        """Dialogue and reply of each request, live: in order, in a thread the wake word can interrupt."""
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
        self.replies.join()
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
                self._emit(ev.PushToTalk(t_end))
            if detection is not None:
                if detection.name != "push_to_talk":
                    self._emit_wake(t_end, detection)
                if self.replies.busy and self.stop_speaking is not None:
                    self.stop_speaking()  # barge-in: the driver talks over the reply
                    self._emit(ev.BargeIn(t_end))
                self._start_listening(t_end, detection)
            return None
        if self.use_wake and self.parts.wake is not None:
            # keep the detector's streaming state current; a stale one fires on the old wake word
            detection = self.parts.wake.process(chunk)
            if detection is not None and self._follow_up:
                # the driver used the wake word in the window: what came before it was the wake phrase
                self._close_window(t_end, WindowEnd.WAKE)
                self._emit_wake(t_end, detection)
                self._start_listening(t_end, detection)
                return None
            if detection is not None:
                # a new wake word: the request so far is over, the new one starts here
                e = self.endpointer
                turn = self._finish(Endpoint("wake", t_end, e.speech_start_ms, e.speech_end_ms))
                self._emit_wake(t_end, detection)
                self._start_listening(t_end, detection)
                return turn
        if self._follow_up and self._notice_said and not self.endpointer.in_speech:
            self._close_window(t_end, WindowEnd.NOTICE)
            return None
        if self._follow_up and self._ptt.is_set() and not self.endpointer.in_speech:
            self._ptt.clear()
            self._close_window(t_end, WindowEnd.PUSH_TO_TALK)
            self._emit(ev.PushToTalk(t_end))
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
            self._close_window(self._t_ms, WindowEnd.END_OF_AUDIO)
        elif self.state is State.LISTENING and self._detection is not None:
            # woken, then nothing was said before the recording ended
            last = self._finish(Endpoint("no_speech", self._t_ms, None, None))
            if last is not None:
                turns.append(last)
        self.replies.join()
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
        return self.replies.busy

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
        self._emit(ev.FollowUpOpened(t_ms, self.voice.follow_up_s))

    def _close_window(self, t_ms: float, reason: WindowEnd) -> None:
        """The window ends with no request in it (silence, a wake word, push-to-talk, the file's end)."""
        self._emit(ev.FollowUpClosed(t_ms, reason))
        self._enter_idle(t_ms)

    def _emit(self, event: Event) -> None:
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:  # a display bug must not stop the assistant
                log.exception("event callback failed on %s", event.kind)

    def _emit_wake(self, t_ms: float, detection: Detection) -> None:
        self._emit(ev.WakeDetected(t_ms, detection.name, round(detection.probability, 3)))

    def _on_frame(self, frame: Any) -> None:
        if frame.direction != "tx":
            return
        with self._frames_lock:
            self._frames.append((time.perf_counter(), frame))

    def _on_notice(self, text: str) -> None:
        """A late report from the car (a window jammed on its way): said after any reply in progress."""
        self.notices.append(text)
        self._emit(ev.Notice(self._t_ms, text))
        if self.speak is None or not self.synthesize or self.parts.synthesizer is None:
            return
        self._notice_said = True  # the microphone will hear it: no follow-up window over it
        say_later(text, self.parts.synthesizer, self.speak, self._respond_lock)

    def _enter_idle(self, t_ms: float) -> None:
        self._state = State.IDLE
        self._follow_up = False
        self._detection: Detection | None = None
        self._partials: list[str] = []
        self.semantic.begin(0.0)

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
        self.semantic.begin(t_ms)
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
            self._emit(ev.SpeechStarted(self.endpointer.speech_start_ms or t0))
        partial = self.parts.recognizer.accept(chunk)
        if partial is not None and partial.text:
            self._partials.append(partial.text)
            self._emit(ev.PartialTranscript(t_end, partial.text))
            # not in the follow-up window: "no, the other one" would end at "no" (a confident deny)
            if self.voice.semantic_endpointing and not self._follow_up:
                self.semantic.update(partial.text, t_end, self.dialogue.parser)
        if endpoint is None and self.semantic.ready(t_end, probability, self.endpointer):
            endpoint = Endpoint(
                "semantic", t_end, self.endpointer.speech_start_ms, self.endpointer.speech_end_ms
            )
        if endpoint is None:
            return None
        return self._finish(endpoint)

    def _finish(self, endpoint: Endpoint) -> VoiceTurn | None:
        wall0 = time.perf_counter()
        detection, partials, follow_up = self._detection, self._partials, self._follow_up
        if follow_up and endpoint.reason == "no_speech":
            # silence closes the window; the recognizer's utterance is left to the next begin()
            self._close_window(endpoint.at_ms, WindowEnd.SILENCE)
            return None
        delay = endpoint.at_ms - endpoint.speech_end_ms if endpoint.speech_end_ms is not None else 0.0
        self._emit(ev.EndpointDetected(endpoint.at_ms, endpoint.reason, round(delay, 1)))
        try:
            final = self.parts.recognizer.end()
        except AssistantError as err:
            log.warning("ASR failed: %s", err)
            final = Transcript("")
        asr_ms = ms_since(wall0)
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
            self._emit(ev.NoSpeech(endpoint.at_ms))
            return vt
        self._emit(ev.Transcript(endpoint.at_ms, final.text, final.confidence))
        self.replies.join()  # one reply at a time, in order
        if self.speak is not None:
            self.replies.start(lambda: self._respond(vt, wall0))
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
        clock = RequestClock(vt.timings_ms, wall0)
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
                    vt.reply = self._sorry() if vt.wake is not None else ""
                elif cut_off(text := self._rescore(vt), endpoint):
                    vt.cut_off = True
                    vt.reply = "" if vt.follow_up else self._sorry()
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
                    self._emit(ev.Commands(t_ms, tuple(vt.commands)))
                with self._frames_lock:
                    new = self._frames[first_new:]
                vt.frames = [f for _, f in new] or list(vt.turn.frames if vt.turn else [])
                for wall, frame in new:
                    after = round(clock.since(wall), 1)
                    self._emit(ev.FrameSent(t_ms, frame.message, dict(frame.signals), after))
                if new:
                    clock.first("frame", new[0][0])
                clock.dialogue_done()
                if vt.follow_up and not (vt.turn and (vt.turn.commands or vt.turn.actions)):
                    self._emit(ev.Reply(t_ms, "", unanswered=True))  # not for the assistant
                else:
                    self._emit(ev.Reply(t_ms, vt.reply))
                if vt.reply and self.synthesize:
                    self._say(vt, clock)
        except Exception as err:  # the assistant keeps listening whatever one request did
            log.exception("request %r failed", vt.text)
            vt.error = repr(err)
            self._emit(ev.Failed(t_ms, str(err)))

    def _sorry(self) -> str:
        """The short ask-again after a wake word with nothing heard, or a request cut off."""
        return self.dialogue.replies.say("policy.sorry")

    def _rescore(self, vt: VoiceTurn) -> str:
        """The text to act on among the recognizer's best and its n-best alternatives (see
        ``nlu.rescoring.rescore``); a ``rescored`` event when it is not the best."""
        endpoint = vt.endpoint or Endpoint("silence", 0, None, None)
        chosen = rescore(
            vt.text,
            vt.alternatives,
            parser=self.dialogue.parser,
            grammar=self.parts.grammar,
            floor=self.voice.semantic_min_confidence,
            is_cut_off=lambda text: cut_off(text, endpoint),
            # while a question waits, the heard answer is not outranked by a follow-up alternative
            # ("yeah go ahead" read as its alternative "and the rear ones too")
            follow_up=self._follow_up_phrase() if self.dialogue.pending is None else None,
        )
        if chosen != vt.text:
            self._emit(ev.Rescored(endpoint.at_ms, vt.text, chosen))
        return chosen

    def _sure(self, text: str, posterior: float | None = None, coverage: float | None = None) -> bool:
        """Sure enough to act on in the follow-up window, without a wake word (posterior and word
        times where the recogniser gives them): words spanning ``WINDOW_MIN_COVERAGE`` of the speech,
        a posterior of ``WINDOW_FOLLOW_UP_POSTERIOR`` for a live follow-up phrase or
        ``WINDOW_MIN_POSTERIOR`` for anything else, and then ``nlu.rescoring.sure`` (a follow-up
        phrase, or templates matching every piece whole; a yes or a no only while a question waits)."""
        if coverage is not None and coverage < WINDOW_MIN_COVERAGE:
            return False
        follow_up = self._follow_up_phrase()
        phrase = follow_up is not None and follow_up(text)
        # a one-word phrase ("more") is as thin as a one-word command: the command's floor
        floor = WINDOW_FOLLOW_UP_POSTERIOR if phrase and len(text.split()) > 1 else WINDOW_MIN_POSTERIOR
        if posterior is not None and posterior < floor:
            return False
        from assistant.nlu.templates import TemplateParser

        if isinstance(self.parts.grammar, TemplateParser):
            templates = self.parts.grammar
        else:
            templates = self._templates = self._templates or TemplateParser()
        return sure(text, templates, follow_up, answers=self.dialogue.pending is not None)

    def _follow_up_phrase(self) -> Callable[[str], bool] | None:
        """While the last turn's commands are live, what recognises a follow-up phrase ("and the
        passenger side too", "a bit more") that resolves against them to commands: as exact a match
        as a template's."""
        context = self.dialogue.context
        if not context.live():
            return None
        return context.follows

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

    def _say(self, vt: VoiceTurn, clock: RequestClock) -> None:
        synthesizer = self.parts.synthesizer
        assert synthesizer is not None
        t_ms = vt.endpoint.at_ms if vt.endpoint else 0.0

        def first_audio() -> None:
            self._emit(ev.ReplyAudio(t_ms, round(clock.first("audio"), 1)))

        def synthesized(ms: float) -> None:
            vt.timings_ms["tts_total"] = ms

        audio = speak_reply(synthesizer, vt.reply, self.speak, first_audio, synthesized)
        if audio is not None:
            vt.reply_audio = audio
            self._emit(ev.ReplyDone(t_ms, round(vt.reply_audio.duration_ms / 1000, 2)))


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
    span = sum(float(w["end_ms"]) - float(w["start_ms"]) for w in timed)
    return round(span / spoken, 3)
