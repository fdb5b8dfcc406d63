"""pocketsphinx's decoder settings against its word error rate (issue 10).

    python -m workbench.bench.asr_settings [--n 30] [--voices ...] [--snr 10] [--no-clean] \\
        --settings '{}' '{"lw": 10}' '{"topn": 8}'

Each ``--settings`` is a JSON object of pocketsphinx Config keys (``lw``, ``wip``, ``beam``, ``topn``,
``pl_window``, ``mllr``...) given to ``PocketsphinxRecognizer``. The sentences are ``--n`` in-domain
lines of ``models/slm/heldout.tsv`` (held out from the SLM's training; some are sentences of the
recogniser's domain model too), every word in the domain model, a fixed shuffle. The default voices
are piper joe and espeak-ng voices the SLM's training used; the unseen-voice benchmark's voices
(``workbench/voice_bench.py UNSEEN_VOICES``, flite) are for that benchmark, not for this one. Each
voice speaks them clean and with car noise at each ``--snr``; each recording gets the pipeline's
channel adaptation (``reset`` with the recording), then is decoded as the speech section of
``car-assistant bench`` decodes it (``workbench.bench.speech.decode``: 30 ms chunks, no endpointing).
Prints one ``figure:`` line per setting: the mean word error rate over the voices and
conditions, then each one's. Speech is cached as the voice benchmark's is.

Known biases, the same for every setting (kept so that the README's figures reproduce): digits are
dropped from a line before it is spoken ("both sides to 21" is said "both sides to"), and a compound
the recogniser glues ("rollback") counts as two errors against the reference's two words. The
language weight ``lw`` is the first pass's only; ``fwdflatlw`` and ``bestpathlw`` weigh the later
passes.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
import zlib
from pathlib import Path
from typing import Any

from assistant.audio import AudioChunk
from assistant.voice_sim import mix_at_snr
from workbench.bench.scoring import edit_distance
from workbench.bench.speech import decode

HELDOUT = Path(__file__).resolve().parents[2] / "models" / "slm" / "heldout.tsv"
VOICES = ("piper:joe", "espeak-ng:en-us+m3", "espeak-ng:en+f3", "espeak-ng:en-gb-scotland+m2")
"""Voices the language model's recogniser-in-the-loop data used (workbench/training/asr_loop.py)."""


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower().replace("-", " ")).split()


def sentences(n: int, vocabulary: frozenset[str], path: Path = HELDOUT, seed: int = 7) -> list[str]:
    """``n`` distinct in-domain held-out lines of two words or more, every word in ``vocabulary``."""
    out: dict[str, None] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        text, _, label = line.partition("\t")
        if line.startswith("#") or not label or label == "-" or label.startswith("assistant."):
            continue
        said = " ".join(words(text))
        if len(said.split()) >= 2 and all(w in vocabulary for w in said.split()):
            out.setdefault(said)
    chosen = list(out)
    random.Random(seed).shuffle(chosen)
    return chosen[:n]


EXAMPLE = '\'{"lw": 10}\''


def settings_of(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        why = f"--settings {text!r} is not JSON ({err.msg}); give an object, e.g. {EXAMPLE}"
        raise SystemExit(why) from err
    if not isinstance(value, dict):
        raise SystemExit(f"--settings {text!r} is not a JSON object; give one, e.g. {EXAMPLE}")
    return value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--settings", nargs="+", default=["{}"], help="JSON objects of pocketsphinx Config keys")
    ap.add_argument("--voices", nargs="+", default=list(VOICES))
    ap.add_argument("--n", type=int, default=30, help="sentences")
    ap.add_argument("--snr", type=float, nargs="*", default=[10.0], help="noise levels (dB) besides clean")
    ap.add_argument("--no-clean", action="store_true", help="only the --snr conditions")
    args = ap.parse_args(argv)
    if args.n < 1:
        ap.error("--n must be 1 or more")
    settings = [settings_of(s) for s in args.settings]
    conditions: list[float | None] = ([] if args.no_clean else [None]) + list(args.snr)
    if not conditions:
        raise SystemExit("no condition left: give --snr levels with --no-clean")

    from assistant.asr.base import AsrError
    from assistant.asr.domain import domain_lm
    from assistant.asr.pocketsphinx import PocketsphinxRecognizer
    from workbench.voice_bench import SpeechCache

    texts = sentences(args.n, frozenset(domain_lm().words))
    speech = SpeechCache()
    try:
        clips = {(v, t): speech.get(t, voice=v) for v in args.voices for t in texts}
    except (ValueError, RuntimeError) as err:
        raise SystemExit(f"--voices: {err}") from err
    print(f"{len(texts)} sentences x {len(args.voices)} voices x {len(conditions)} conditions", flush=True)
    for text, options in zip(args.settings, settings, strict=True):
        try:
            recognizer = PocketsphinxRecognizer(**options)
        except (KeyError, ValueError, TypeError, AsrError) as err:
            raise SystemExit(f"--settings {text!r}: pocketsphinx refuses it ({err})") from err
        t0 = time.perf_counter()
        rates: dict[str, float] = {}
        for voice in args.voices:
            for snr in conditions:
                errors = total = 0
                for t in texts:
                    clip = clips[(voice, t)]
                    seed = zlib.crc32(t.encode()) % 1000
                    audio: AudioChunk = clip if snr is None else mix_at_snr(clip, snr, seed=seed)
                    recognizer.reset(audio)
                    heard = decode(recognizer, audio)
                    errors += edit_distance(t.split(), words(heard))
                    total += len(t.split())
                rates[f"{voice.split(':')[-1]}/{'clean' if snr is None else f'{snr:g}dB'}"] = errors / total
        mean = sum(rates.values()) / len(rates)
        each = " ".join(f"{k}={v:.3f}" for k, v in rates.items())
        print(f"figure: wer {text} = {mean:.3f}  ({each}; {time.perf_counter() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
