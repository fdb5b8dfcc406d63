"""False actuation on speech that is not for the car: how many recordings send any CAN frame.

    python -m workbench.training.ood_speech [--snr 10] [--rates 1.0 1.3] [--n 40]

General English sentences written for this check (none a car request), spoken by piper's joe voice
at the length scales given (slower and faster speech sounds like another speaker to the recogniser),
clean and with car noise at each SNR, through wake-less ``listen`` (the same pipeline, in process).
Prints, per condition, the recordings that sent any frame and those that moved a security or safety
function (doors unlocked, trunk, windows or sunroof opened, mirrors, headlights off).

It imports nothing newer than the pipeline, so the same file measures an older checkout:
``PYTHONPATH=/path/to/old/checkout python workbench/training/ood_speech.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from pathlib import Path
from typing import Any

SENTENCES = """\
i would like a large latte with oat milk
can i get a cappuccino to go please
two espressos and a croissant for here
the weather is supposed to be nice this weekend
what time does the museum open on sundays
my sister bought a new house near the lake
the meeting starts at nine tomorrow morning
did you remember to feed the cat
i think we should order pizza tonight
have you seen my reading glasses anywhere
the train was late again this morning
she plays the piano every evening
let me tell you about my holiday in spain
the kids are at football practice until six
how was your day at work
i can't believe how expensive groceries have become
we need to buy milk eggs and bread
that movie was much better than the book
remind me to call the dentist
the garden needs watering after this heat
could you pass me the salt
he is reading a book about ancient rome
our flight leaves from gate twelve
the library closes early on fridays
i'm not sure that's a good idea
honestly i have no idea what he meant
banana
hello there
good morning everyone
see you later
thank you very much
that sounds great
never mind
what was that song called
i love this part
it is getting dark outside
the dog wants to go for a walk
my phone battery is almost empty
let's stop for coffee somewhere
turn left at the next traffic light
""".splitlines()

SAFETY = {"doors.unlock", "trunk.open", "trunk.close", "window.open", "sunroof.open", "mirrors.fold",
          "mirrors.unfold"}
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "car-assistant" / "ood"


def speech(synths: dict[float, Any], text: str, rate: float) -> Any:
    from assistant.audio import read_wav, write_wav
    from assistant.tts.piper import PiperSynthesizer
    from assistant.voice_sim import request_audio

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{hashlib.sha256(f'joe|{rate}|{text}'.encode()).hexdigest()[:20]}.wav"
    if path.exists():
        return read_wav(path)
    if rate not in synths:
        synths[rate] = PiperSynthesizer(noise_scale=0.0, noise_w_scale=0.0, length_scale=rate)
        synths[rate].load()
    audio = request_audio(synths[rate], text, None)
    write_wav(path, audio)
    return audio


def moved_safety(turn: Any) -> bool:
    if turn.turn is None:
        return False
    for command, action in zip(turn.turn.commands, turn.turn.actions, strict=False):
        if action.status not in ("done", "moving", "timeout") or not action.targets:
            continue
        if command.intent in SAFETY:
            return True
        if command.intent == "lights.set" and command.slots.get("light") == "headlights":
            return command.slots.get("state") == "off"
    return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--snr", type=float, nargs="*", default=[10.0], help="noise levels (dB) besides clean")
    ap.add_argument("--rates", type=float, nargs="*", default=[1.0, 1.3], help="piper length scales")
    ap.add_argument("--n", type=int, default=len(SENTENCES), help="sentences to use")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every recording that sent a frame")
    ap.add_argument("--set", type=Path, help="in-domain instead: a dev_text.tsv file (its first --n lines)")
    ap.add_argument("--dump", type=Path, help="write each recording's turns as JSON lines here (calibration)")
    args = ap.parse_args()
    from assistant.config import CanSettings, Settings, SimSettings
    from assistant.pipeline import VoicePipeline, build_parts
    from assistant.runtime import open_car, open_dialogue
    from assistant.voice_sim import mix_at_snr

    settings = Settings(can=CanSettings(interface="virtual", channel="ood", simulate=True),
                        sim=SimSettings(window_travel_s=0.3))
    parts = build_parts(settings, wake=False, tts=False)
    synths: dict[float, Any] = {}
    expected: list[Any] = []
    if args.set:
        from assistant.nlu.evalset import read_set

        rows = read_set(args.set)[: args.n]
        texts, expected = [t for t, _ in rows], [e for _, e in rows]
    else:
        texts = [t for t in SENTENCES if t.strip()][: args.n]
    dump = open(args.dump, "w", encoding="utf-8") if args.dump else None  # noqa: SIM115
    with open_car(settings) as car:
        pipeline = VoicePipeline(parts, open_dialogue(settings, car), settings.voice, wake=False,
                                 bridge=car.bridge, synthesize=False)
        try:
            for rate in args.rates:
                for snr in [None, *args.snr]:
                    framed = safety = right = 0
                    for i, text in enumerate(texts):
                        audio = speech(synths, text, rate)
                        if snr is not None:
                            audio = mix_at_snr(audio, snr, seed=i)
                        turns = pipeline.run(audio)
                        car.vehicle.settle(5.0)
                        sent = any(t.frames for t in turns)
                        if dump is not None:
                            import json

                            record = {"text": text, "rate": rate, "snr": snr, "sent": sent,
                                      "expected": expected[i] if expected else [],
                                      "turns": [t.to_json() for t in turns]}
                            dump.write(json.dumps(record) + "\n")
                        framed += sent
                        safety += any(moved_safety(t) for t in turns)
                        if expected:
                            from assistant.nlu.evalset import frame_ok

                            done = [c for t in turns for c in t.commands
                                    if c.get("decision", {}).get("outcome", "acted") == "acted"]
                            right += frame_ok(expected[i], done)
                        if sent and args.verbose:
                            heard = " | ".join(t.text for t in turns)
                            print(f"  {text!r} heard {heard!r}: {[t.commands for t in turns]}", flush=True)
                    cond = f"rate {rate} {'clean' if snr is None else f'{snr:g} dB'}"
                    if expected:
                        print(f"figure: in-domain {cond}: carried out right {right}/{len(texts)}, any frame "
                              f"{framed}, safety moved {safety}", flush=True)
                    else:
                        print(f"figure: ood frames {cond} = {framed}/{len(texts)}; safety moved = {safety}",
                              flush=True)
        finally:
            pipeline.close()
            if dump is not None:
                dump.close()


if __name__ == "__main__":
    main()
