"""Recogniser-in-the-loop training data: sentences spoken, transcribed, and labelled with what was meant.

The language model is trained on typed text, but in the car it reads what the
recogniser made of speech: "switch the fan off" comes out as "switch and
unlock". This module speaks training sentences (catalog requests and
out-of-scope speech) with several voices, rates and car-noise levels,
transcribes them with pocketsphinx and its domain language model, and keeps
each transcript with the label the speaker meant:

- a request whose transcript keeps its slot words and most of its wording
  (word error rate <= ``KEEP_WER``) keeps its intent and slots;
- a request garbled past ``GARBLED_WER`` is labelled out-of-scope: the driver
  meant something, but not what the words now say, and asking again is
  cheaper than acting on it;
- out-of-scope speech stays out-of-scope, whatever car words it became.

A transcript that the strict template parser reads as a different command
("lock the doors" heard as "unlock the doors") is dropped rather than
labelled against its own words; so is anything in between the two cut-offs.

The transcripts are cached, text only, in ``data/asr_transcripts.tsv`` so a
training run needs no audio and no synthesiser. Regenerate them (about 15
minutes on one core; needs piper's joe voice from the runtime install and the
``espeak-ng`` program, e.g. ``apt-get install espeak-ng``) with::

    python -m workbench.training.asr_loop --out workbench/training/data/asr_transcripts.tsv

and append the second batch, five more espeak-ng voices (``MORE_VOICES``), two seeds::

    python -m workbench.training.asr_loop --append --seed 29 --in-scope 130 --out-of-scope 60 \
        --voices en-us+m5 en+f4 en-gb-scotland+m2 en-us+f5 en+m6     # and again with --seed 31
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.nlu.numbers import spell_number
from workbench.bench.scoring import edit_distance
from workbench.training.data import (
    DATA_DIR,
    Example,
    load_out_of_scope,
    load_paraphrases,
    load_template_samples,
    parse_markup,
)

TRANSCRIPTS = DATA_DIR / "asr_transcripts.tsv"
SPOKEN_OOS = DATA_DIR / "spoken_out_of_scope.txt"
KEEP_WER = 0.34
"""A request transcript at or under this word error rate keeps its intent (slot words must be there too)."""
GARBLED_WER = 0.5
"""A request transcript at or over this word error rate is labelled out-of-scope."""
MIN_GARBLED_WORDS = 2
"""A garbled request transcript this short is dropped rather than labelled out-of-scope."""


@dataclass(frozen=True)
class Condition:
    """How one utterance is spoken: a synthesiser voice, its rate, and car noise (None = clean)."""

    voice: str  # "piper:joe" or an espeak-ng voice name such as "en-us+m3"
    rate: float  # piper: length_scale; espeak-ng: words per minute
    snr_db: float | None

    def tag(self) -> str:
        noise = "clean" if self.snr_db is None else f"{self.snr_db:g}dB"
        return f"{self.voice}@{self.rate:g}/{noise}"


CONDITIONS = [
    *(Condition("piper:joe", ls, snr) for ls in (0.8, 1.0, 1.25) for snr in (None, 10.0)),
    *(Condition(v, wpm, snr) for v in ("en-us+m3", "en+f3") for wpm in (140, 175) for snr in (None, 10.0)),
]
MORE_VOICES = ("en-us+m5", "en+f4", "en-gb-scotland+m2", "en-us+f5", "en+m6")
"""espeak-ng voices added for the second batch (``--voices``), so the model meets more than three speakers.
Never the voices the unseen-voice benchmark speaks with (workbench/voice_bench.py UNSEEN_VOICES)."""


def espeak_conditions(voices: Sequence[str]) -> list[Condition]:
    """Each espeak-ng voice at two rates, clean and in car noise at 10 dB."""
    return [Condition(v, wpm, snr) for v in voices for wpm in (140, 175) for snr in (None, 10.0)]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def wer(ref: Sequence[str], hyp: Sequence[str]) -> float:
    """Word error rate: edit distance over the reference length."""
    return edit_distance(ref, hyp) / max(len(ref), 1)


_NUM = re.compile(r"(\d+(?:\.\d+)?)( ?%)?")


def say_numbers(text: str) -> str:
    """Digits as a speaker says them, as the recogniser writes them: '22' -> 'twenty two'."""
    return _NUM.sub(lambda m: spell_number(float(m.group(1))) + (" percent" if m.group(2) else ""), text)


def spoken_form(ex: Example) -> tuple[str, list[tuple[str, str, str]], list[tuple[str, str]]]:
    """The sentence as spoken, its slot spans as (spoken words, slot, value), and its implied slots."""
    (frame,) = ex.frames
    said = sorted((s for s in frame.slots if not s.implied), key=lambda s: s.start)
    pieces, pos, spans = [], 0, []
    for s in said:
        pieces.append(say_numbers(ex.text[pos : s.start]))
        span = " ".join(words(say_numbers(ex.text[s.start : s.end])))
        pieces.append(span)
        spans.append((span, s.name, str(s.value)))
        pos = s.end
    pieces.append(say_numbers(ex.text[pos:]))
    text = " ".join(words(" ".join(pieces)))
    implied = [(s.name, str(s.value)) for s in frame.slots if s.implied]
    return text, spans, implied


def label(
    intent: str | None,
    said: str,
    heard: str,
    spans: Sequence[tuple[str, str, str]],
    implied: Sequence[tuple[str, str]],
    template_intents: set[str] | None,
) -> tuple[str, str] | None:
    """(intent or '-', markup of the transcript) for a transcript, or None to drop it.

    ``template_intents``: the intents the strict template parser reads in ``heard`` (None: not run).
    """
    heard = " ".join(words(heard))
    if not heard:
        return None
    if intent is None:
        # out-of-scope speech that became a clean catalog command is the recogniser's fault, not the
        # wording's: labelling "open the window" out-of-scope would fight every real request
        return None if template_intents else ("-", heard)
    if template_intents and template_intents != {intent}:
        return None
    err = wer(words(said), words(heard))
    if err >= GARBLED_WER:
        # two words or fewer ("heat on" for "be silent") are as often a real request: no lesson either way
        return None if template_intents or len(words(heard)) <= MIN_GARBLED_WORDS else ("-", heard)
    if err > KEEP_WER:
        return None
    markup, taken = heard, 0
    for span, name, value in spans:
        m = re.search(r"(?<![\w'])" + re.escape(span) + r"(?![\w'])", markup[taken:])
        if m is None:
            return None
        a, b = taken + m.start(), taken + m.end()
        tagged = f"[{span}]({name}={value})"
        markup = markup[:a] + tagged + markup[b:]
        taken = a + len(tagged)
    markup += "".join(f" {{{name}={value}}}" for name, value in implied)
    return intent, markup


def read_transcripts(path: Path = TRANSCRIPTS) -> list[Example]:
    """The cached transcripts as training examples (source 'asr'), grouped by the sentence said."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 4:
            raise ValueError(f"{path.name}:{n}: expected 4 tab-separated columns (intent, markup, said, how)")
        intent, markup, said, _ = cols
        group = f"asr:{said}"
        if intent == "-":
            out.append(Example(markup, (), "asr-oos", group))
        else:
            out.append(parse_markup(markup, intent, "asr", group))
    return out


# ---- speaking and transcribing (regeneration only) ------------------------------------------


def _sentences(seed: int, n_in: int, n_oos: int) -> list[tuple[str | None, Example]]:
    rng = random.Random(seed)
    base = load_paraphrases() + load_template_samples(12, seed)
    by_intent: dict[str, list[Example]] = {}
    for e in base:
        by_intent.setdefault(e.frames[0].intent, []).append(e)
    picks: list[tuple[str | None, Example]] = []
    per = max(n_in // len(by_intent), 1)
    for intent in sorted(by_intent):
        items = by_intent[intent]
        picks += [(intent, e) for e in rng.sample(items, min(per, len(items)))]
    oos = load_out_of_scope() + [
        Example(ln.strip(), (), "oos", ln.strip())
        for ln in SPOKEN_OOS.read_text(encoding="utf-8").splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    picks += [(None, e) for e in rng.sample(oos, min(n_oos, len(oos)))]
    return picks


class _Speaker:
    def __init__(self) -> None:
        from assistant.tts.piper import PiperSynthesizer

        self.piper: dict[float, PiperSynthesizer] = {}
        self._cls = PiperSynthesizer
        self.tmp = Path(tempfile.mkdtemp(prefix="asr-loop-"))

    def __call__(self, text: str, cond: Condition, seed: int):  # noqa: ANN204 - AudioChunk
        from assistant.audio import read_wav, to_stream_format
        from assistant.voice_sim import mix_at_snr, speak

        if cond.voice == "piper:joe":
            if cond.rate not in self.piper:
                self.piper[cond.rate] = self._cls(length_scale=cond.rate, cache_size=0)
                self.piper[cond.rate].load()
            audio = speak(self.piper[cond.rate], text)
        else:
            wav = self.tmp / "e.wav"
            subprocess.run(
                ["espeak-ng", "-v", cond.voice, "-s", str(int(cond.rate)), "-w", str(wav), text],
                check=True,
                capture_output=True,
            )
            audio = to_stream_format(read_wav(wav))
        return audio if cond.snr_db is None else mix_at_snr(audio, cond.snr_db, seed)


def generate(
    out: Path,
    seed: int,
    n_in: int,
    n_oos: int,
    per_sentence: int,
    start: int = 0,
    conditions: Sequence[Condition] = CONDITIONS,
    append: bool = False,
) -> int:
    from assistant.asr.pocketsphinx import PocketsphinxRecognizer
    from assistant.nlu.templates import TemplateParser

    rng = random.Random(seed)
    speaker = _Speaker()
    asr = PocketsphinxRecognizer()
    strict = TemplateParser()
    rows = out.read_text(encoding="utf-8").splitlines() if start or append else [
        "# Recogniser-in-the-loop transcripts, made by workbench/training/asr_loop.py (see its docstring).",
        "# intent ('-' = out-of-scope)\ttranscript markup\tsentence said\tvoice@rate/noise",
    ]
    kept = {"in": 0, "oos": 0, "garbled": 0, "dropped": 0}
    t0 = time.time()
    picks = _sentences(seed, n_in, n_oos)
    for k, (intent, ex) in enumerate(picks):
        if k < start:  # resuming: draw what this sentence drew, speak nothing
            for _ in rng.sample(list(conditions), per_sentence):
                rng.randrange(1 << 30)
            continue
        spans: list[tuple[str, str, str]] = []
        implied: list[tuple[str, str]] = []
        if intent is None:
            said = " ".join(words(say_numbers(ex.text)))
        else:
            said, spans, implied = spoken_form(ex)
        for cond in rng.sample(list(conditions), per_sentence):
            audio = speaker(said, cond, rng.randrange(1 << 30))
            if audio.samples == 0:  # nothing a synthesiser could say ("hmm" to espeak-ng at some rates)
                kept["dropped"] += 1
                continue
            asr.reset()
            asr.begin()
            try:
                asr.accept(audio)
                heard = asr.end().text
            except (IndexError, TypeError):  # pocketsphinx on audio it cannot frame, or no hypothesis
                asr.reset()
                kept["dropped"] += 1
                continue
            found = {c.intent for c in strict.parse(heard).commands} if heard.strip() else set()
            got = label(intent, said, heard, spans, implied, found)
            if got is None:
                kept["dropped"] += 1
                continue
            kept["in" if got[0] != "-" else ("oos" if intent is None else "garbled")] += 1
            rows.append(f"{got[0]}\t{got[1]}\t{said}\t{cond.tag()}")
        if k % 25 == 0:
            print(f"[{time.time() - t0:.0f} s] {k}/{len(picks)} sentences: {kept}", flush=True)
            out.write_text("\n".join(rows) + "\n", encoding="utf-8")  # a crash keeps what was heard
    out.write_text("\n".join(rows) + "\n", encoding="utf-8")
    print(f"wrote {len(rows) - 2} transcripts to {out}: {kept}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m workbench.training.asr_loop", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--out", type=Path, default=TRANSCRIPTS)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument(
        "--in-scope", type=int, default=264, help="catalog sentences to speak (spread over intents)"
    )
    ap.add_argument("--out-of-scope", type=int, default=160, help="out-of-scope sentences to speak")
    ap.add_argument("--per-sentence", type=int, default=2, help="voice/rate/noise conditions per sentence")
    ap.add_argument(
        "--start", type=int, default=0, help="resume: keep OUT's rows and speak from this sentence on"
    )
    ap.add_argument(
        "--voices",
        nargs="+",
        metavar="ESPEAK_VOICE",
        help="speak with these espeak-ng voices (two rates, clean and 10 dB) instead of the first batch's "
        f"conditions; the second batch used: {' '.join(MORE_VOICES)}",
    )
    ap.add_argument("--append", action="store_true", help="add to OUT's rows instead of starting it afresh")
    args = ap.parse_args(argv)
    conditions = espeak_conditions(args.voices) if args.voices else CONDITIONS
    return generate(
        args.out,
        args.seed,
        args.in_scope,
        args.out_of_scope,
        args.per_sentence,
        args.start,
        conditions,
        args.append,
    )


if __name__ == "__main__":
    sys.exit(main())
