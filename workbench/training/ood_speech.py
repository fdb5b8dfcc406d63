"""False actuation on speech that is not for the car, and what the same bars cost on car requests.

    python -m workbench.training.ood_speech [--n 60] [--voices ...] [--snr 10] [--dump ood.jsonl]
    python -m workbench.training.ood_speech --set eval/dev_text.tsv --voices piper:joe@1.0 piper:joe@1.3
    python -m workbench.training.ood_speech --rebar ood.jsonl in.jsonl --bars thresholds.yaml

Out-of-domain: the sentences of ``data/ood_speech_sentences.txt`` (written for this check: small talk,
passengers talking to each other, radio and talk-show lines, questions about the world, dictation,
single words, car words in other senses; ``--n`` takes an even spread of them) and sounds that are no
speech (silence, car noise, tones and a tune, coughs, a hum, claps; made with numpy), each spoken by
every voice of ``--voices`` (piper joe at two length scales, two espeak-ng voices), clean and with car
noise at each ``--snr``, through wake-less ``listen`` (the same pipeline, in process), a fresh dialogue
per recording on one simulated car. Prints, per condition, the recordings that sent any CAN frame and
those that moved a safety function (risk class ``safety`` of intents/policy/risk.yaml) without a yes.

In-domain (``--set``, a dev_text.tsv file): per condition, the requests carried out right, asked back,
dropped (nothing done, nothing asked) and wrong (something else done).

``--bars`` measures with another thresholds.yaml. ``--dump`` writes each recording's evidence and
decisions as JSON lines; ``--rebar`` reads such dumps and applies other bars offline (the policy's own
decide(), on the evidence the dump kept), which is how the speech bars of intents/policy/thresholds.yaml
were chosen. Audio is synthesised once and cached under
the system's temp folder (``--cache`` to move it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import zlib
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from assistant.audio import RATE, AudioChunk, concat, read_wav, silence, write_wav
from workbench.bench.false_actuation import espeak

SENTENCES_FILE = Path(__file__).with_name("data") / "ood_speech_sentences.txt"
VOICES = ("piper:joe@1.0", "piper:joe@1.3", "espeak-ng:en-us+f3", "espeak-ng:en-gb-x-rp+m3")
"""piper's en_US joe at length scales 1.0 and 1.3 (slower speech sounds like another speaker to the
recogniser) and two espeak-ng voices the language model's training never used."""
NON_SPEECH = ("silence", "car noise", "chords", "tune", "cough", "coughs", "hum", "claps", "whistle",
              "door slam")
CACHE = Path(tempfile.gettempdir()) / "car-assistant-ood-speech"


def sentences(n: int | None = None, path: Path = SENTENCES_FILE) -> list[str]:
    """The out-of-domain sentences of ``path``; ``n`` of them spread evenly over the file (every kind)."""
    lines = [s.strip() for s in path.read_text(encoding="utf-8").splitlines()]
    lines = [s for s in lines if s and not s.startswith("#")]
    if n is None or n >= len(lines):
        return lines
    return [lines[i * len(lines) // n] for i in range(n)]


# -- audio ----------------------------------------------------------------------------------------


def non_speech(kind: str, seed: int = 0) -> AudioChunk:
    """A recording with no speech in it, about 2.5 s: what a cabin hears besides the driver."""
    rng = np.random.default_rng(zlib.crc32(f"{kind}|{seed}".encode()))
    n = int(2.5 * RATE)
    t = np.arange(n) / RATE
    x = np.zeros(n)
    if kind == "silence":
        pass
    elif kind == "car noise":
        from assistant.voice_sim import car_noise

        x = car_noise(2500.0, seed) * 1.5
    elif kind == "chords":  # three chords of a song, with harmonics
        for i, root in enumerate((220.0, 261.6, 196.0)):
            seg = slice(i * n // 3, (i + 1) * n // 3)
            for ratio in (1.0, 1.26, 1.5, 2.0):
                for h in (1, 2, 3):
                    x[seg] += 0.05 / h * np.sin(2 * np.pi * root * ratio * h * t[seg])
    elif kind == "tune":  # a melody of short notes
        notes = rng.choice([262, 294, 330, 349, 392, 440, 494, 523], 10)
        for i, f in enumerate(notes):
            seg = slice(i * n // 10, (i + 1) * n // 10)
            env = np.exp(-np.linspace(0, 4, seg.stop - seg.start))
            x[seg] = 0.25 * env * (np.sin(2 * np.pi * f * t[seg]) + 0.3 * np.sin(4 * np.pi * f * t[seg]))
    elif kind in ("cough", "coughs", "claps", "door slam"):
        count = {"cough": 1, "coughs": 3, "claps": 6, "door slam": 1}[kind]
        length = {"cough": 0.35, "coughs": 0.3, "claps": 0.04, "door slam": 0.25}[kind]
        for i in range(count):
            start = int((0.3 + i * 2.0 / count) * RATE)
            m = int(length * RATE)
            burst = rng.standard_normal(m)
            if kind in ("cough", "coughs"):  # a voiced, low-passed burst: sharp onset, slower decay
                burst = np.convolve(burst, np.ones(8) / 8, mode="same") + 0.5 * np.sin(
                    2 * np.pi * 140 * np.arange(m) / RATE)
            elif kind == "door slam":
                burst = np.convolve(burst, np.ones(40) / 40, mode="same") * 4
            env = np.exp(-np.linspace(0, 6 if kind != "claps" else 12, m))
            x[start : start + m] += 0.4 * env * burst / (np.std(burst) + 1e-9)
    elif kind == "hum":
        x = 0.1 * np.sin(2 * np.pi * 100 * t) + 0.05 * np.sin(4 * np.pi * 100 * t) + 0.033 * np.sin(
            6 * np.pi * 100 * t)
    elif kind == "whistle":
        x = 0.2 * np.sin(2 * np.pi * (900 + 300 * np.sin(2 * np.pi * 0.8 * t)) * t)
    else:
        raise ValueError(f"unknown sound {kind!r}; choose one of {', '.join(NON_SPEECH)}")
    return concat([silence(400), AudioChunk.from_array(np.clip(x, -0.99, 0.99).astype(np.float32), RATE),
                   silence(300)])


class Voices:
    """Speech of a text in one of ``VOICES``, made once and kept as WAV files under ``cache``."""

    def __init__(self, cache: Path = CACHE) -> None:
        self.cache = cache
        self._piper: dict[float, Any] = {}

    def get(self, text: str, voice: str) -> AudioChunk:
        self.cache.mkdir(parents=True, exist_ok=True)
        path = self.cache / f"{hashlib.sha256(f'v1|{voice}|{text}'.encode()).hexdigest()[:20]}.wav"
        if path.exists():
            return read_wav(path)
        engine, _, name = voice.partition(":")
        if engine == "piper":
            speech = self._piper_speech(text, float(name.partition("@")[2] or 1.0))
        elif engine == "espeak-ng":
            speech = espeak(text, name)
        else:
            raise ValueError(f"unknown voice {voice!r}; use piper:joe@RATE or espeak-ng:NAME")
        audio = concat([silence(400), speech, silence(200)])  # as a driver's recording
        write_wav(path, audio)
        return audio

    def _piper_speech(self, text: str, rate: float) -> AudioChunk:
        from assistant.voice_sim import speak

        if rate not in self._piper:
            from assistant.tts.piper import PiperSynthesizer

            self._piper[rate] = PiperSynthesizer(noise_scale=0.0, noise_w_scale=0.0, length_scale=rate)
            self._piper[rate].load()
        return speak(self._piper[rate], text)


def in_noise(audio: AudioChunk, snr: float | None, seed: int, speech: bool = True) -> AudioChunk:
    """``audio`` clean, or with car noise at ``snr`` dB (sounds that are no speech: noise at -25 dBFS)."""
    from assistant.voice_sim import mix_at_snr, noise_only

    if snr is None:
        return audio
    if speech:
        return mix_at_snr(audio, snr, seed=seed)
    noise = noise_only(audio.duration_ms, -25.0, seed).array().astype(np.int32)
    mixed = np.clip(audio.array().astype(np.int32) + noise[: audio.samples], -32768, 32767)
    return AudioChunk.from_array(mixed.astype(np.float32) / 32768.0, RATE)


# -- what a recording caused ----------------------------------------------------------------------


def record(turns: Iterable[Any], risk_of: Any) -> dict[str, Any]:
    """One recording's turns as a JSON-able record: what was heard, and per command its decision,
    unrounded evidence, risk class, whether it was done and whether its action sent a frame."""
    out: dict[str, Any] = {"heard": [], "commands": [], "sent": False}
    for vt in turns:
        out["sent"] = out["sent"] or bool(vt.frames)
        if vt.text:
            out["heard"].append(vt.text)
        turn = vt.turn
        if turn is None:
            continue
        actions = list(turn.actions)
        for i, command in enumerate(turn.commands):
            decision = turn.decisions[i] if i < len(turn.decisions) else None
            action = next((a for a in actions if a.intent == command.intent), None)
            if action is not None:
                actions.remove(action)
            out["commands"].append({
                "intent": command.intent,
                "text": vt.text,
                "slots": dict(command.slots),
                "confidence": command.confidence,
                "risk": risk_of(command),
                "outcome": decision.outcome if decision else "acted",
                "evidence": dict(decision.evidence) if decision else {},
                "status": action.status if action else None,
                "framed": bool(action is not None and action.frames),
            })
    return out


def moved_safety(rec: dict[str, Any]) -> bool:
    return any(c["risk"] == "safety" and c["outcome"] == "acted" and c["framed"] and c["status"] in
               ("done", "moving", "timeout") for c in rec["commands"])


def verdict(rec: dict[str, Any], expected: list[Any]) -> str:
    """right | asked | dropped | wrong for an in-domain recording (its commands against ``expected``)."""
    from assistant.nlu.base import Command
    from assistant.nlu.evalset import frame_ok

    done = [Command(c["intent"], c["slots"], c["confidence"]).to_json() for c in rec["commands"]
            if c["outcome"] == "acted"]
    if frame_ok(expected, done):
        return "right"
    if any(c["outcome"] == "asked" for c in rec["commands"]) and not done:
        return "asked"
    return "dropped" if not done else "wrong"


# -- offline: the same evidence under other bars -------------------------------------------------


def rebar(rec: dict[str, Any], policy: Any) -> dict[str, Any]:
    """``rec`` as ``policy``'s bars decide it: a command acted before and now asked or dropped sends no
    frame (the policy only ever withholds; what the other bars would newly act on is not guessed)."""
    from assistant.nlu.base import Command

    commands = []
    for c in rec["commands"]:
        c = dict(c)
        if c["outcome"] == "acted" and c["evidence"] and c["intent"] != "assistant.confirm":
            cmd = Command(c["intent"], c["slots"], c["confidence"])
            evidence = dict(c["evidence"])
            if "templates" not in evidence:  # a dump from before the policy read the templates
                evidence["templates"] = policy.template_agreement(cmd, c.get("text") or rec["heard"][-1])
            c["outcome"] = policy.decide(cmd, evidence).outcome
        commands.append(c)
    sent = rec["sent"] and any(c["outcome"] == "acted" and c["framed"] for c in commands)
    return {**rec, "commands": commands, "sent": sent}


def summarize(records: list[dict[str, Any]]) -> list[str]:
    lines = []
    conditions = sorted({(r["voice"], r["snr"] is not None) for r in records}, key=str)
    for voice, noisy in conditions:
        rs = [r for r in records if r["voice"] == voice and (r["snr"] is not None) == noisy]
        cond = f"{voice} {'10 dB' if noisy else 'clean'}"
        if rs[0].get("expected") is not None:
            count = Counter(verdict(r, r["expected"]) for r in rs)
            lines.append(f"figure: in-domain {cond}: right {count['right']}/{len(rs)}, "
                         f"asked {count['asked']}, dropped {count['dropped']}, wrong {count['wrong']}")
        else:
            sent = sum(r["sent"] for r in rs)
            safety = sum(moved_safety(r) for r in rs)
            lines.append(f"figure: ood {cond}: sent a frame {sent}/{len(rs)}, safety moved {safety}")
    return lines


def rebar_main(paths: list[Path], bars_file: Path | None, verbose: bool) -> None:
    from assistant.policy import Policy, load_bars

    policy = Policy(bars=load_bars(bars_file) if bars_file else None)
    for path in paths:
        records = [rebar(json.loads(line), policy) for line in path.read_text(encoding="utf-8").splitlines()]
        print(f"{path}:")
        for line in summarize(records):
            print(" ", line)
        ood = [r for r in records if r.get("expected") is None]
        if ood:
            print(f"  all: sent a frame {sum(r['sent'] for r in ood)}/{len(ood)}, "
                  f"safety moved {sum(moved_safety(r) for r in ood)}")
        if verbose:
            for r in records:
                if (r.get("expected") is None and r["sent"]) or (
                    r.get("expected") is not None and verdict(r, r["expected"]) != "right"
                ):
                    print(f"    {r['voice']} {r['snr']} {r['text']!r} heard {r['heard']}: "
                          f"{[(c['intent'], c['outcome']) for c in r['commands']]}")


# -- running it -----------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--snr", type=float, nargs="*", default=[10.0], help="noise levels (dB) besides clean")
    ap.add_argument("--voices", nargs="*", default=list(VOICES), help="piper:joe@RATE or espeak-ng:NAME")
    ap.add_argument("--n", type=int, help="sentences (or --set lines) to use, spread over the file")
    ap.add_argument("--no-sounds", action="store_true", help="leave out the recordings that are no speech")
    ap.add_argument("--set", type=Path, help="in-domain instead: a dev_text.tsv file")
    ap.add_argument("--sentences", type=Path, default=SENTENCES_FILE, help="out-of-domain sentences file")
    ap.add_argument("--dump", type=Path, help="write each recording's evidence and decisions as JSON lines")
    ap.add_argument("--rebar", type=Path, nargs="+", help="dumps to decide again offline (with --bars)")
    ap.add_argument("--bars", type=Path, help="a thresholds.yaml to decide with (default: the shipped one)")
    ap.add_argument("--cache", type=Path, default=CACHE, help="where synthesised audio is kept")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every recording that sent a frame")
    args = ap.parse_args()
    if args.rebar:
        rebar_main(args.rebar, args.bars, args.verbose)
        return

    from assistant.config import CanSettings, Settings, SimSettings
    from assistant.pipeline import VoicePipeline, build_parts
    from assistant.policy import Policy, load_bars, load_risks
    from assistant.runtime import open_car, open_dialogue

    settings = Settings(can=CanSettings(interface="virtual", channel="ood", simulate=True),
                        sim=SimSettings(window_travel_s=0.3))
    parts = build_parts(settings, wake=False, tts=False)
    risks = load_risks()
    policy = Policy(bars=load_bars(args.bars)) if args.bars else None
    voices = Voices(args.cache)
    items: list[tuple[str, Any]] = []  # (text or sound name, expected or None)
    if args.set:
        from assistant.nlu.evalset import read_set

        rows = read_set(args.set)
        if args.n:
            rows = [rows[i * len(rows) // args.n] for i in range(min(args.n, len(rows)))]
        items = [(t, e) for t, e in rows]
    else:
        items = [(t, None) for t in sentences(args.n, args.sentences)]
    dump = open(args.dump, "w", encoding="utf-8") if args.dump else None  # noqa: SIM115
    records: list[dict[str, Any]] = []
    with open_car(settings) as car:

        def run(audio: AudioChunk) -> list[Any]:
            dialogue = open_dialogue(settings, car)
            if policy is not None:
                dialogue.policy = policy
            pipeline = VoicePipeline(parts, dialogue, settings.voice, wake=False, bridge=car.bridge,
                                     synthesize=False)
            try:
                turns = pipeline.run(audio)
            finally:
                pipeline.close()
            car.vehicle.settle(5.0)
            return turns

        def one(voice: str, text: str, expected: Any, audio: AudioChunk, snr: float | None) -> None:
            rec = record(run(audio), risks.risk)
            rec.update({"voice": voice, "text": text, "snr": snr, "expected": expected})
            records.append(rec)
            if dump is not None:
                dump.write(json.dumps(rec, default=str) + "\n")
                dump.flush()
            if args.verbose and rec["sent"] and expected is None:
                print(f"  {voice} {snr} {text!r} heard {rec['heard']}: "
                      f"{[(c['intent'], c['outcome']) for c in rec['commands']]}", flush=True)

        try:
            for voice in args.voices:
                for snr in [None, *args.snr]:
                    for text, expected in items:
                        seed = zlib.crc32(text.encode()) % 1000
                        one(voice, text, expected, in_noise(voices.get(text, voice), snr, seed), snr)
                    for line in summarize([r for r in records if r["voice"] == voice and r["snr"] == snr]):
                        print(line, flush=True)
            if not args.set and not args.no_sounds:
                for snr in [None, *args.snr]:
                    for i, kind in enumerate(NON_SPEECH):
                        one("sound", kind, None, in_noise(non_speech(kind, i), snr, i, speech=False), snr)
                    for line in summarize([r for r in records if r["voice"] == "sound" and r["snr"] == snr]):
                        print(line, flush=True)
        finally:
            if dump is not None:
                dump.close()


if __name__ == "__main__":
    main()
