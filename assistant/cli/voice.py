"""The voice subcommands of car-assistant: run (live), listen (WAV files), simulate (bench drive).

``register(add)`` is called by ``assistant.cli.build_argparser`` with its
``add(name, func, help, nlu=False, can=False)`` helper.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.asr.base import REGISTRY as ASR_ENGINES
from assistant.config import Settings, settings_from_args
from assistant.wake.micro import WAKE_WORDS

if TYPE_CHECKING:
    from assistant.events import Event

DEFAULT_DRIVE = [
    "close the windows and turn on the AC",
    "set the temperature to 21 degrees",
    "turn on the driver seat heating",
    "what's the weather like tomorrow",
    "open the sunroof halfway",
    "turn on the fog lights",
    "volume up",
    "lock the doors",
]


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add(
        "run", cmd_run, "live: microphone -> wake word -> request -> car -> spoken reply", nlu=True, can=True
    )
    _voice_flags(p)
    p.add_argument(
        "--no-wake", action="store_true", help="no wake word: push-to-talk (Enter or the GPIO button)"
    )

    p = add("listen", cmd_listen, "the whole voice pipeline on WAV recordings", nlu=True, can=True)
    p.add_argument("files", nargs="+", metavar="FILE.wav")
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per file and line: file, text, commands, frames, reply, timings_ms",
    )
    p.add_argument("--no-wake", action="store_true", help="the recordings hold requests without a wake word")
    p.add_argument("--replies", metavar="DIR", help="speak the replies with piper into DIR/<file>.reply.wav")
    p.add_argument("--events", action="store_true", help="print every pipeline event (stderr)")
    _voice_flags(p)

    p = add(
        "simulate",
        cmd_simulate,
        "scripted bench drive: piper speech + car noise -> pipeline -> simulated car; reply WAVs, timeline",
        nlu=True,
        can=True,
    )
    p.add_argument("--script", metavar="FILE", help="one request per line (default: a built-in drive)")
    p.add_argument(
        "--snr", type=float, default=10.0, metavar="DB", help="speech-to-noise ratio (default 10 dB)"
    )
    p.add_argument("--no-noise", action="store_true", help="clean speech")
    p.add_argument(
        "--out", metavar="DIR", default="simulate-out", help="reply WAVs and drive.wav (default %(default)s)"
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per scripted request (asked, expected, done, verdict, turns), not the timeline",
    )
    _voice_flags(p)


def _voice_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--asr", choices=ASR_ENGINES.choices, help="speech recognizer (default: auto)")
    p.add_argument("--wake-word", choices=WAKE_WORDS)
    p.add_argument("--trailing-silence-ms", type=float, metavar="MS", help="silence that ends a request")
    p.add_argument("--no-semantic", action="store_true", help="end requests on silence only")
    p.add_argument(
        "--follow-up-s",
        type=float,
        metavar="S",
        help="after a reply, listen this long without the wake word (0: off; default 4)",
    )


def _settings(args: argparse.Namespace) -> Settings:
    return settings_from_args(args)[0]


def _note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _timeline(event: Event) -> None:
    from assistant import events as ev

    match event:
        case ev.PartialTranscript():
            return  # too chatty for a timeline
        case ev.WakeDetected():
            detail = f"{event.name} (p={event.probability})"
        case ev.EndpointDetected():
            detail = f"{event.reason}, {event.after_speech_ms} ms after speech"
        case ev.Transcript() | ev.Reply():
            detail = repr(event.text)
        case ev.Commands():
            detail = ", ".join(f"{c['intent']}{json.dumps(c['slots'])}" for c in event.commands) or "(none)"
        case ev.FrameSent():
            detail = f"CAN tx {event.message} {json.dumps(event.signals)} (+{event.after_endpoint_ms} ms)"
        case ev.ReplyAudio():
            detail = f"first sample +{event.after_endpoint_ms} ms"
        case ev.ReplyDone():
            detail = f"{event.seconds} s of speech"
        case ev.FollowUpOpened():
            detail = f"listening {event.seconds} s without the wake word"
        case ev.FollowUpClosed():
            detail = f"closed ({event.reason})"
        case ev.Failed():
            detail = event.error
        case _:
            detail = " ".join(f"{k}={v}" for k, v in event.data().items())
    print(f"  {event.t_ms / 1000:7.2f}s  {event.kind:<12} {detail}", flush=True)


# -- listen --------------------------------------------------------------------------------------


def cmd_listen(args: argparse.Namespace) -> int:
    from assistant.audio import AudioError, WavStream, write_wav
    from assistant.pipeline import VoicePipeline, build_parts
    from assistant.runtime import SETTLE_S, open_car, open_dialogue

    settings = _settings(args)
    parts = build_parts(settings, wake=not args.no_wake, tts=bool(args.replies))
    _note(f"asr: {parts.asr_choice}")
    failed = 0
    replies = Path(args.replies) if args.replies else None
    if replies:
        replies.mkdir(parents=True, exist_ok=True)
    with open_car(settings) as car:
        dialogue = open_dialogue(settings, car)
        on_event = (
            (lambda e: print(f"  {e.t_ms:8.0f} ms {e.kind} {e.data()}", file=sys.stderr))
            if args.events
            else None
        )
        pipeline = VoicePipeline(
            parts,
            dialogue,
            settings.voice,
            on_event,
            wake=not args.no_wake,
            bridge=car.bridge,
            synthesize=bool(replies),
        )
        try:
            for name in args.files:
                try:
                    audio = WavStream(name)  # read in blocks: an hour-long file costs no more memory
                except AudioError as err:
                    failed += 1
                    if args.json:
                        print(
                            json.dumps({"file": name, "text": "", "commands": [], "error": str(err)}),
                            flush=True,
                        )
                    else:
                        _note(f"error: {err}")
                    continue
                heard_before = len(pipeline.notices)
                turns = pipeline.run_stream(audio.blocks())
                car.vehicle.settle(SETTLE_S)  # the next file starts with the windows where they ended
                result = _file_result(name, turns)
                if len(pipeline.notices) > heard_before:  # a window that stopped short on its way
                    result["notices"] = pipeline.notices[heard_before:]
                if replies:
                    for i, turn in enumerate(turns):
                        if turn.reply_audio is not None:
                            suffix = "" if len(turns) == 1 else f".{i + 1}"
                            out = replies / f"{Path(name).stem}{suffix}.reply.wav"
                            write_wav(out, turn.reply_audio)
                            result.setdefault("reply_wavs", []).append(str(out))
                if args.json:
                    print(json.dumps(result, ensure_ascii=False), flush=True)
                else:
                    for n, one in enumerate(result.get("turns", [result]), 1):
                        which = f" request {n}:" if "turns" in result else ""
                        cut = " (cut off: nothing done)" if one.get("cut_off") else ""
                        print(f"{name}:{which} heard {one['text']!r}{cut}")
                        for c in one["commands"]:
                            print(f"  {c['intent']} {json.dumps(c['slots'])}  ({c['confidence']:.2f})")
                        print(f"  {len(one['frames'])} CAN frames; reply: {one['reply'] or '(none)'}")
                    for notice in result.get("notices", []):
                        print(f"  later: {notice}")
        finally:
            pipeline.close()
    return 1 if failed else 0


def _file_result(name: str, turns: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "file": name,
        "text": "",
        "commands": [],
        "frames": [],
        "reply": "",
        "timings_ms": {},
    }
    answered = [t for t in turns if t.endpoint is None or t.endpoint.reason != "no_speech"]
    if not answered:
        return out
    jsons = [t.to_json() for t in answered]
    if len(jsons) == 1:
        one = jsons[0]
        out.update({k: one[k] for k in ("text", "commands", "frames", "reply", "endpoint", "timings_ms")})
        # the recogniser's confidences (a file of several requests has them per turn)
        out.update({k: one[k] for k in ("asr_confidence", "words") if k in one})
        if one.get("cut_off"):
            out["cut_off"] = True
        return out
    # several requests (each after its own wake word): every one in 'turns', with its own
    # transcript, endpoint, stream times and timings; at the top what the file as a whole caused,
    # the transcripts kept apart, so no one request reads as one long sentence
    out["text"] = " / ".join(j["text"] for j in jsons if j["text"])
    out["commands"] = [c for j in jsons for c in j["commands"]]
    out["frames"] = [f for j in jsons for f in j["frames"]]
    out["reply"] = " ".join(j["reply"] for j in jsons if j["reply"])
    del out["timings_ms"]  # per request, in 'turns'
    if any(j.get("cut_off") for j in jsons):
        out["cut_off"] = True
    out["requests"] = len(jsons)
    out["turns"] = jsons
    return out


# -- simulate ------------------------------------------------------------------------------------


def cmd_simulate(args: argparse.Namespace) -> int:
    from assistant.audio import AudioChunk, concat, silence, write_wav
    from assistant.pipeline import VoicePipeline, build_parts
    from assistant.runtime import SETTLE_S, check_scripted_bus, open_car, open_dialogue
    from assistant.voice_sim import mix_at_snr, reading, request_audio, request_of, show, verdict

    settings = _settings(args)
    check_scripted_bus(settings)
    script = DEFAULT_DRIVE
    if args.script:
        lines = Path(args.script).read_text(encoding="utf-8").splitlines()
        script = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    parts = build_parts(settings)
    _note(
        f"asr: {parts.asr_choice}; wake word: {settings.voice.wake_word}; "
        f"noise: {'none' if args.no_noise else f'car-like at {args.snr:g} dB SNR'}; models loaded in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    assert parts.synthesizer is not None
    segments: list[AudioChunk] = []
    starts_ms: list[float] = []  # where each request's stretch of the drive begins
    for text in script:
        starts_ms.append(sum(s.duration_ms for s in segments))
        segments += [request_audio(parts.synthesizer, text), silence(1200)]
    drive = concat(segments)
    if not args.no_noise:
        # one continuous cabin: the noise runs through the pauses too
        drive = mix_at_snr(drive, args.snr, seed=1)
    write_wav(out / "drive.wav", drive)
    _note(f"drive: {len(script)} requests, {drive.duration_ms / 1000:.1f} s of audio -> {out / 'drive.wav'}")
    with open_car(settings) as car:
        start_state = car.bridge.state()
        dialogue = open_dialogue(settings, car)
        pipeline = VoicePipeline(
            parts, dialogue, settings.voice, None if args.json else _timeline, bridge=car.bridge
        )
        try:
            turns = pipeline.run(drive)
            car.vehicle.settle(SETTLE_S)  # windows still on their way when the drive ends
        finally:
            pipeline.close()
        # what each request asked: the commands its script line reads as typed text
        asked = [reading([c.to_json() for c in dialogue.parser.parse(text).commands]) for text in script]
        heard: list[list[Any]] = [[] for _ in script]  # the turns in each request's stretch of the drive
        wavs: dict[int, str] = {}
        for i, turn in enumerate(turns, 1):
            wav = ""
            if turn.reply_audio is not None:
                wav = str(out / f"reply-{i:02d}.wav")
                write_wav(wav, turn.reply_audio)
            at = turn.wake.timestamp_ms if turn.wake else (turn.endpoint.at_ms if turn.endpoint else 0.0)
            heard[request_of(at, starts_ms)].append(turn)
            wavs[id(turn)] = wav
        counts = {"right": 0, "wrong": 0, "missed": 0}
        confirmed = 0
        if not args.json:
            print("\nper request:")
        for n, (text, want, got) in enumerate(zip(script, asked, heard, strict=True), 1):
            done = reading([c for t in got for c in t.commands])
            judged = verdict(want, done)
            counts[judged] += 1
            carried = judged == "right" and any(
                a.status == "done" for t in got if t.turn for a in t.turn.settled().actions
            )
            confirmed += carried
            if args.json:  # one object per scripted request, its turns inside
                record = {
                    "request": n,
                    "asked": text,
                    "expected": [{"intent": i, "slots": dict(s)} for i, s in want],
                    "done": [{"intent": i, "slots": dict(s)} for i, s in done],
                    "verdict": judged,
                    "confirmed": carried,
                    "turns": [{**t.to_json(), "reply_wav": wavs[id(t)]} for t in got],
                }
                print(json.dumps(record, ensure_ascii=False), flush=True)
            else:
                outcome = ", carried out and confirmed by the car" if carried else ""
                print(f"  {n}. asked {text!r}: {show(want)}")
                print(f"     heard {' / '.join(repr(t.text) for t in got) or '(nothing)'}: {show(done)}")
                print(f"     {judged.upper()}{outcome}")
        if not args.json:
            print(
                f"\n{len(script)} requests: {counts['right']} right ({confirmed} carried out and confirmed "
                f"by the car), {counts['wrong']} wrong, {counts['missed']} missed; replies in {out}/"
            )
            state = car.bridge.state()
            changed = {k: v for k, v in state.items() if start_state.get(k) != v and k != "Vehicle.Speed"}
            print(
                "car changed: "
                + (
                    ", ".join(f"{k.removeprefix('Vehicle.')}={v}" for k, v in sorted(changed.items()))
                    or "nothing"
                )
            )
    return 0


def _tone(event: Event) -> str | None:
    """The earcon an event plays: wake heard; nothing came after the wake word or a stage failed;
    the follow-up window opened; a command ran with no reply (words in the window that were no
    command get no tone)."""
    from assistant import events as ev

    match event:
        case ev.WakeDetected() | ev.PushToTalk():
            return "wake"
        case ev.NoSpeech() | ev.Failed():
            return "error"
        case ev.FollowUpOpened():
            return "follow_up"
        case ev.Reply() if not event.text and not event.unanswered:
            return "done"
    return None


def live_pipeline(
    parts: Any, dialogue: Any, settings: Settings, on_event: Callable[[Event], None], car: Any, speaker: Any
) -> Any:
    """The live voice loop's pipeline, for `run` and the service alike: ``on_event`` sees every event,
    the earcons play on the speaker (when there is one and ``voice.earcons``), push-to-talk is wired."""
    from assistant.pipeline import VoicePipeline
    from assistant.tts.earcons import earcon

    def with_tones(event: Event) -> None:
        on_event(event)
        tone = _tone(event)
        if tone and speaker is not None and settings.voice.earcons:
            threading.Thread(target=speaker.play, args=(iter([earcon(tone)]),), daemon=True).start()

    pipeline = VoicePipeline(
        parts,
        dialogue,
        settings.voice,
        with_tones,
        wake=True,
        bridge=car.bridge,
        speak=speaker.play if speaker else None,
        stop_speaking=speaker.stop if speaker else None,
        synthesize=speaker is not None,
    )
    car.bridge.on_push_to_talk(lambda pressed: pipeline.push_to_talk() if pressed else None)
    return pipeline


# -- run -----------------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from assistant.audio import AudioDeviceError, Microphone, Speaker
    from assistant.pipeline import build_parts
    from assistant.runtime import open_car, open_dialogue

    settings = _settings(args)
    mic = Microphone(settings.voice.input_device)
    mic.open()  # first: no microphone is an error before seconds of model loading
    speaker = Speaker(settings.voice.output_device)
    try:
        speaker.check()
    except AudioDeviceError as err:
        _note(f"warning: {err}; replies are printed only")
        speaker = None  # type: ignore[assignment]
    parts = build_parts(settings, wake=not args.no_wake)
    _note(f"asr: {parts.asr_choice}")
    with open_car(settings) as car:
        dialogue = open_dialogue(settings, car)

        def on_event(event: Event) -> None:
            _timeline(event)

        pipeline = live_pipeline(parts, dialogue, settings, on_event, car, speaker)

        def console() -> None:
            try:
                for _ in sys.stdin:
                    pipeline.push_to_talk()
            except (OSError, ValueError):  # no console (a service, a test): the button still works
                return

        threading.Thread(target=console, daemon=True).start()
        word = settings.voice.wake_word.replace("_", " ")
        how = "push-to-talk (Enter)" if args.no_wake else f"say '{word}' or press Enter"
        print(f"listening: {how}; Ctrl-C quits", flush=True)
        try:
            while True:
                try:
                    pipeline.feed(mic.read())
                except AudioDeviceError as err:
                    _note(f"audio device lost: {err}; reopening")
                    while True:
                        time.sleep(1.0)
                        try:
                            mic.reopen()
                            _note("microphone reopened")
                            break
                        except AudioDeviceError as again:
                            _note(f"still no microphone ({again.__class__.__name__}); retrying")
        except KeyboardInterrupt:
            return 0
        finally:
            pipeline.close()
            mic.close()
