"""Training sentences: hassil samples from intents/ plus hand-written wording, augmented.

Every example carries character spans: one per command (its segment) and one
per slot, so the labels survive joins, fillers and noise. Word-level BIO tags
are made from the spans with the same tokenizer pre-tokenisation the runtime
uses. Everything is seeded: the same seed gives the same data.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from assistant.asr.domain import OUT_OF_SCOPE
from assistant.catalog import SLOT_SPECS, SlotValue
from assistant.nlu.numbers import is_spelled_number, spell_number

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Slot:
    """A slot value and the characters that said it; start = end = -1 when the wording implies it
    without a span of its own ("skip this song" is action=next)."""

    name: str
    value: SlotValue
    start: int
    end: int

    @property
    def implied(self) -> bool:
        return self.start < 0

    def moved(self, offset: int) -> Slot:
        return self if self.implied else replace(self, start=self.start + offset, end=self.end + offset)


@dataclass(frozen=True)
class Frame:
    """One command inside an example: its intent, its character segment and its slot spans."""

    intent: str
    start: int
    end: int
    slots: tuple[Slot, ...] = ()


@dataclass(frozen=True)
class Example:
    text: str
    frames: tuple[Frame, ...] = ()
    source: str = ""
    group: str = ""  # examples sharing a group (one base sentence) stay on one side of the split

    def shifted(self, offset: int) -> tuple[Frame, ...]:
        return tuple(
            replace(
                f, start=f.start + offset, end=f.end + offset, slots=tuple(s.moved(offset) for s in f.slots)
            )
            for f in self.frames
        )

    def expected(self) -> str:
        """The dev_text.tsv column: intent{slot=value,...} joined by '; ', '-' for none."""
        if not self.frames:
            return "-"
        parts = []
        for f in self.frames:
            slots = ",".join(f"{s.name}={s.value}" for s in f.slots)
            parts.append(f"{f.intent}{{{slots}}}" if slots else f.intent)
        return "; ".join(parts)


# ---- the hand-written markup ----------------------------------------------------------

_ALT = re.compile(r"(?<!\])\(([^()]*\|[^()]*)\)")
_SPAN = re.compile(r"\[([^\]]+)\]\(([a-z_]+)=([^)]+)\)")
_IMPLIED = re.compile(r"\{([a-z_]+)=([^}]+)\}")


def expand_alternatives(line: str) -> list[str]:
    """'(a|b) c' -> ['a c', 'b c']; spans '[x](slot=v)' are left alone."""
    parts: list[list[str]] = []
    pos = 0
    for m in _ALT.finditer(line):
        parts.append([line[pos : m.start()]])
        parts.append(m.group(1).split("|"))
        pos = m.end()
    parts.append([line[pos:]])
    return [" ".join("".join(p).split()) for p in itertools.product(*parts)]


def _typed(value: str) -> SlotValue:
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def parse_markup(line: str, intent: str, source: str = "paraphrase", group: str = "") -> Example:
    """'crack [my](window=driver) window' -> Example with one frame and its slot span;
    '{slot=value}' anywhere gives a slot the wording implies without a span."""
    slots = [Slot(m.group(1), _typed(m.group(2)), -1, -1) for m in _IMPLIED.finditer(line)]
    line = " ".join(_IMPLIED.sub(" ", line).split())
    text = ""
    pos = 0
    for m in _SPAN.finditer(line):
        text += line[pos : m.start()]
        start = len(text)
        text += m.group(1)
        slots.append(Slot(m.group(2), _typed(m.group(3)), start, len(text)))
        pos = m.end()
    text += line[pos:]
    # the templates' spans name the whole thing ("the passenger window"): follow them
    for i, sl in enumerate(slots):
        if sl.name in ("window", "door") and not sl.implied:
            after = re.match(r" (side )?(window|windows|door|doors)\b", text[sl.end :])
            if after:
                slots[i] = replace(sl, end=sl.end + after.end())
    lead = len(text) - len(text.lstrip())
    text = text.strip()
    slots = [s.moved(-lead) for s in slots]
    for s in slots:
        spec = SLOT_SPECS.get(intent, {}).get(s.name)
        if spec is None or not spec.accepts(s.value):
            raise ValueError(f"{source}: {intent} {s.name}={s.value!r} is not a catalog value in {line!r}")
    return Example(text, (Frame(intent, 0, len(text), tuple(slots)),), source, group or line)


def load_paraphrases(path: Path = DATA_DIR / "paraphrases.yaml") -> list[Example]:
    raw: dict[str, list[str]] = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for intent, lines in raw.items():
        if intent not in SLOT_SPECS:
            raise ValueError(f"{path.name}: {intent!r} is not a catalog intent")
        for line in lines:
            for variant in expand_alternatives(line):
                out.append(parse_markup(variant, intent, "paraphrase", group=f"{intent}:{line}"))
    return out


def load_out_of_scope(path: Path = OUT_OF_SCOPE) -> list[Example]:
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    return [Example(ln, (), "oos", ln) for ln in lines if ln and not ln.startswith("#")]


_OOS_FRAMES = [
    "what's the {x}",
    "tell me about {x}",
    "how do i {y}",
    "can you {y}",
    "i want to {y}",
    "please {y}",
    "search for {x}",
    "look up {x}",
    "who invented {x}",
    "why is {x} so expensive",
    "show me {x}",
    "is {x} any good",
    "do you know {x}",
    "what do you think about {x}",
    "i {feel} {x}",
]
_OOS_X = [
    "the weather",
    "the news",
    "the stock market",
    "football",
    "the nearest hospital",
    "pizza places",
    "my calendar",
    "the population of china",
    "quantum physics",
    "the history of rome",
    "my horoscope",
    "cheap hotels",
    "electric cars",
    "the moon landing",
    "jazz music",
    "a good podcast",
    "the traffic",
    "my bank balance",
    "the lottery numbers",
    "the best pizza in town",
    "taylor swift",
    "the olympics",
    "a coffee shop",
    "my emails",
    "the time in tokyo",
    "the exchange rate",
    "the movie times",
    "my flight",
    "the closest atm",
    "the game score",
    "the recipe for lasagna",
    "a joke",
    "the dentist",
]
_OOS_Y = [
    "call my brother",
    "book a flight",
    "order groceries",
    "find a restaurant",
    "pay my bills",
    "text my mom",
    "set an alarm",
    "check my email",
    "navigate home",
    "find parking",
    "learn spanish",
    "get to the airport",
    "buy a present",
    "cook rice",
    "fix my phone",
    "watch a movie",
    "reserve a table",
    "send a photo",
    "find a charger",
    "record a note",
    "post on instagram",
    "check the score",
    "play chess",
]
_OOS_FEEL = ["love", "hate", "like", "miss", "really enjoy", "don't understand"]


def generate_out_of_scope(n: int, rng: random.Random) -> list[Example]:
    out = []
    for _ in range(n):
        frame = rng.choice(_OOS_FRAMES)
        text = frame.format(x=rng.choice(_OOS_X), y=rng.choice(_OOS_Y), feel=rng.choice(_OOS_FEEL))
        out.append(Example(text, (), "oos-generated", f"oosgen:{text}"))
    return out


# ---- hassil samples from intents/ (owned by the templates engine) ---------------------


def _find_span(text: str, span: str, taken: list[tuple[int, int]]) -> tuple[int, int] | None:
    low = text.lower()
    for m in re.finditer(r"(?<!\w)" + re.escape(span.lower()) + r"(?!\w)", low):
        if all(m.end() <= a or m.start() >= b for a, b in taken):
            return m.start(), m.end()
    return None


def load_template_samples(max_per_intent: int, seed: int) -> list[Example]:
    """Sentences hassil generates from intents/, with their slot spans located in the text."""
    from assistant.nlu.sampling import sample_with_spans

    out = []
    for rec in sample_with_spans(max_per_intent, seed):
        text, intent, slots = _record_fields(rec)
        text = " ".join(text.split())
        taken: list[tuple[int, int]] = []
        spans = []
        ok = True
        for name, (value, span_text) in slots.items():
            if span_text is None or not str(span_text).strip():
                spans.append(Slot(name, value, -1, -1))
                continue
            where = _find_span(text, " ".join(str(span_text).split()), taken)
            if where is None:
                ok = False
                break
            taken.append(where)
            spans.append(Slot(name, value, *where))
        if not ok or intent not in SLOT_SPECS:
            continue
        spans.sort(key=lambda s: (s.implied, s.start))
        out.append(Example(text, (Frame(intent, 0, len(text), tuple(spans)),), "hassil", f"hassil:{text}"))
    return out


def _record_fields(rec: Any) -> tuple[str, str, dict[str, tuple[SlotValue, str]]]:
    if isinstance(rec, dict):
        return rec["text"], rec["intent"], dict(rec.get("slots") or {})
    return rec.text, rec.intent, dict(rec.slots or {})


# ---- augmentation -----------------------------------------------------------------------

@dataclass
class Augmenter:
    rng: random.Random
    fillers: dict[str, Any] = field(
        default_factory=lambda: yaml.safe_load((DATA_DIR / "fillers.yaml").read_text(encoding="utf-8"))
    )

    def _replace(self, ex: Example, start: int, end: int, new: str) -> Example:
        """Replace text[start:end]; spans after it move, spans covering it stretch."""
        delta = len(new) - (end - start)

        def move(a: int, b: int) -> tuple[int, int]:
            if b <= start:
                return a, b
            if a >= end:
                return a + delta, b + delta
            return a, b + delta

        frames = []
        for f in ex.frames:
            fa, fb = move(f.start, f.end)
            slots = []
            for s in f.slots:
                if s.implied:
                    slots.append(s)
                    continue
                sa, sb = move(s.start, s.end)
                slots.append(replace(s, start=sa, end=sb))
            frames.append(replace(f, start=fa, end=fb, slots=tuple(slots)))
        return replace(ex, text=ex.text[:start] + new + ex.text[end:], frames=tuple(frames))

    def numbers(self, ex: Example) -> Example:
        """A numeric slot span flipped between digits and words ('22' <-> 'twenty two')."""
        for f in ex.frames:
            for s in f.slots:
                if isinstance(s.value, str) or s.implied:
                    continue
                said = ex.text[s.start : s.end]
                m = re.fullmatch(r"(\d+(?:\.\d+)?)( ?%)?", said)
                if m:
                    new = spell_number(float(m.group(1))) + (" percent" if m.group(2) else "")
                elif is_spelled_number(said):
                    v = float(s.value)
                    new = str(int(v)) if v.is_integer() else str(v)
                else:
                    continue
                return self._replace(ex, s.start, s.end, new)
        return ex

    def polite(self, ex: Example) -> Example:
        """A politeness prefix or suffix that joins the (single) command."""
        if len(ex.frames) != 1:
            return ex
        if self.rng.random() < 0.6:
            pre = self.rng.choice(self.fillers["polite_prefix"]) + " "
            ex2 = self._replace(ex, 0, 0, pre)
            f = ex2.frames[0]
            return replace(ex2, frames=(replace(f, start=0),))
        suf = self.rng.choice([" ", ", "]) + self.rng.choice(self.fillers["polite_suffix"])
        ex2 = replace(ex, text=ex.text + suf)
        f = ex2.frames[0]
        return replace(ex2, frames=(replace(f, end=f.end + len(suf)),))

    def filler(self, ex: Example) -> Example:
        """'um', 'hey car' before, or a hesitation between words: not part of any command."""
        kind = self.rng.random()
        if kind < 0.45:
            word = self.rng.choice(self.fillers["fillers"] + self.fillers["wake"])
            sep = self.rng.choice([" ", ", "])
            pre = word + sep
            return Example(pre + ex.text, ex.shifted(len(pre)), ex.source, ex.group)
        if kind < 0.6:
            word = self.rng.choice(self.fillers["fillers"])
            return Example(ex.text + " " + word, ex.frames, ex.source, ex.group)
        # a hesitation between two words, outside slot spans
        gaps = [m.start() for m in re.finditer(r" ", ex.text)]
        gaps = [g for g in gaps if not any(s.start <= g < s.end for f in ex.frames for s in f.slots)]
        if not gaps:
            return ex
        g = self.rng.choice(gaps)
        word = (
            " " + self.rng.choice(["um", "uh", "erm", "like", "uh the"]) if self.rng.random() < 0.7 else ","
        )
        return self._replace(ex, g, g, word)

    def asr(self, ex: Example) -> Example:
        """A dropped or misheard word outside slot spans; punctuation and case lost."""
        words = [(m.start(), m.end()) for m in re.finditer(r"[\w']+", ex.text)]
        free = [
            (a, b) for a, b in words if not any(s.start < b and a < s.end for f in ex.frames for s in f.slots)
        ]
        if self.rng.random() < 0.5:
            ex = self._strip_punct(ex)
            words = [(m.start(), m.end()) for m in re.finditer(r"[\w']+", ex.text)]
            free = [
                (a, b)
                for a, b in words
                if not any(s.start < b and a < s.end for f in ex.frames for s in f.slots)
            ]
        if not free or len(words) < 3:
            return ex
        a, b = self.rng.choice(free)
        word = ex.text[a:b].lower()
        swaps = self.fillers["asr_swaps"]
        if word in swaps and self.rng.random() < 0.7:
            new = self.rng.choice(swaps[word])
        elif self.rng.random() < 0.5:
            new = ""
        else:
            new = word + " " + word
        if new == "":
            # drop the word and one adjacent space; keep frame bounds sane
            if b < len(ex.text) and ex.text[b] == " ":
                b += 1
            elif a > 0 and ex.text[a - 1] == " ":
                a -= 1
        out = self._replace(ex, a, b, new)
        return self._clean(out)

    def _strip_punct(self, ex: Example) -> Example:
        out = ex
        for m in reversed(list(re.finditer(r"[,.?!]", ex.text))):
            if any(s.start <= m.start() < s.end for f in ex.frames for s in f.slots):
                continue
            out = self._replace(out, m.start(), m.end(), "")
        return self._clean(out)

    def _clean(self, ex: Example) -> Example:
        """Collapse double spaces; keep frames that still hold text."""
        while "  " in ex.text:
            i = ex.text.index("  ")
            ex = self._replace(ex, i, i + 2, " ")
        if ex.text.startswith(" "):
            ex = self._replace(ex, 0, 1, "")
        if ex.text.endswith(" "):
            n = len(ex.text)
            ex = self._replace(ex, n - 1, n, "")
        frames = tuple(f for f in ex.frames if ex.text[f.start : f.end].strip())
        return replace(ex, frames=frames)

    def case(self, ex: Example) -> Example:
        r = self.rng.random()
        if r < 0.5:
            text = ex.text[0].upper() + ex.text[1:] if ex.text else ex.text
        elif r < 0.6:
            text = ex.text.upper()
        else:
            text = ex.text
        if self.rng.random() < 0.3 and ex.frames and not text.endswith(("?", ".", "!")):
            end = (
                self.rng.choice([".", "!", "?"])
                if any(f.intent == "vehicle.query" for f in ex.frames)
                else self.rng.choice([".", "!"])
            )
            text += end
        return replace(ex, text=text)

    def join(self, parts: list[Example]) -> Example:
        """Commands in spoken order: 'A and B', 'A, then B'; the join words belong to no command."""
        text = ""
        frames: list[Frame] = []
        for i, p in enumerate(parts):
            if i:
                text += self.rng.choice(self.fillers["joins"])
            frames.extend(p.shifted(len(text)))
            text += p.text
        return Example(text, tuple(frames), "join", "+".join(p.group for p in parts))

    def vary(self, ex: Example) -> Example:
        """One random variant of a single-command example."""
        if self.rng.random() < 0.5:
            ex = self.numbers(ex)
        if self.rng.random() < 0.35:
            ex = self.polite(ex)
        if self.rng.random() < 0.2:
            ex = self.filler(ex)
        if self.rng.random() < 0.15:
            ex = self.asr(ex)
        return self.case(ex)


def generate_noise_strings(n: int, rng: random.Random) -> list[Example]:
    """Letter strings that are no words: key mashes, syllable babble, stray letters. Out-of-scope; a
    string the strict template parser reads as a request ("no", "ok") is left out."""
    from assistant.nlu.templates import TemplateParser

    strict = TemplateParser()
    letters = "abcdefghijklmnopqrstuvwxyz"
    consonants, vowels = "bcdfghjklmnprstvwz", "aeiouy"
    # every one- and two-letter string first: a stray "yu" or "eh" must never answer a question
    short = list(letters) + [a + b for a in letters for b in letters]
    out = [Example(t, (), "noise", f"noise:{t}") for t in short if not strict.parse(t).commands][:n]
    while len(out) < n:
        kind = rng.random()
        if kind < 0.5:
            text = "".join(rng.choice(letters + "  ") for _ in range(rng.randint(1, 18)))
        elif kind < 0.85:
            text = " ".join(
                "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(rng.randint(1, 3)))
                for _ in range(rng.randint(1, 4))
            )
        else:
            text = " ".join(rng.choice(letters) for _ in range(rng.randint(1, 3)))
        text = " ".join(text.split())
        if text and not strict.parse(text).commands:
            out.append(Example(text, (), "noise", f"noise:{text}"))
    return out


# ---- broad out-of-scope text: CLINC150 (read from the shared data folder, never committed) ----------

CLINC_DIR = "clinc150"
CLINC_NOT_OUT_OF_SCOPE = frozenset(
    {
        # catalog intents here: assistant.confirm / deny / cancel / repeat, media.volume
        "yes",
        "no",
        "maybe",
        "cancel",
        "repeat",
        "change_volume",
        "whisper_mode",
        # media and lights, and "what song is this" (vehicle.query on media)
        "play_music",
        "next_song",
        "what_song",
        "smart_home",
        # "what can i ask you" is assistant.help
        "what_can_i_ask_you",
        # questions about the car itself: a catalog may grow them; never teach them as out-of-scope
        "gas",
        "tire_pressure",
        "mpg",
        "oil_change_when",
        "last_maintenance",
    }
)
"""CLINC150 intents that are, or may become, requests to this car: dropped, never labelled out-of-scope."""


DATA_DIR_ENV = "CAR_ASSISTANT_DATA_DIR"
"""Where third-party training data (never committed here: CLINC150) lives when ``--data-dir`` is not
given; nothing outside the repository is read by default."""


def default_data_dir() -> Path | None:
    """``$CAR_ASSISTANT_DATA_DIR``, or None: then a step that needs third-party data says so."""
    import os

    value = os.environ.get(DATA_DIR_ENV)
    return Path(value) if value else None


def clinc_file(data_dir: Path | None) -> Path:
    """CLINC150's ``data_full.json`` under ``data_dir``, or a clear error naming what to pass."""
    if data_dir is None:
        raise MissingDataError(
            f"CLINC150 is needed here and no data folder is set: pass --data-dir DIR (or set "
            f"{DATA_DIR_ENV}=DIR) with DIR/{CLINC_DIR}/data_full.json (see models/README.md)"
        )
    full = data_dir / CLINC_DIR / "data_full.json"
    if not full.is_file():
        raise MissingDataError(
            f"CLINC150 is missing: {full} does not exist; pass --data-dir DIR with DIR/{CLINC_DIR}/ "
            "(see models/README.md)"
        )
    return full


class MissingDataError(FileNotFoundError):
    """A data set the full training run reads from the data folder is not there."""


def load_clinc(data_dir: Path | None, rng: random.Random, per_intent: int, wiki: int) -> list[Example]:
    """Out-of-scope examples from CLINC150 (CC-BY-3.0, Larson et al. 2019): up to ``per_intent`` training
    sentences of each intent that is no request to the car, all of its out-of-scope training split, and
    ``wiki`` of its general English Wikipedia sentences. Its test splits are never read here: they
    measure the model."""
    import json

    try:
        full = clinc_file(data_dir)
    except MissingDataError as err:
        raise MissingDataError(f"{err}, or train without it: --set use_clinc=false") from err
    root = full.parent
    data = json.loads(full.read_text(encoding="utf-8"))
    by_intent: dict[str, list[str]] = {}
    for text, intent in data["train"]:
        if intent not in CLINC_NOT_OUT_OF_SCOPE:
            by_intent.setdefault(intent, []).append(text)
    texts: list[str] = []
    for intent in sorted(by_intent):
        items = by_intent[intent]
        texts += rng.sample(items, min(per_intent, len(items)))
    texts += [text for text, _ in data["oos_train"]]
    wiki_path = root / "all_wiki_sents.txt"
    if wiki and wiki_path.is_file():
        lines = [ln.strip() for ln in wiki_path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        # long encyclopedia sentences teach little a driver says; short ones look like speech
        short = [ln for ln in lines if len(ln.split()) <= 14]
        texts += rng.sample(short, min(wiki, len(short)))
    return [Example(t, (), "clinc150", f"clinc:{t}") for t in texts]


@dataclass
class Corpus:
    train: list[Example]
    heldout: list[Example]


def build_corpus(
    seed: int,
    per_intent: int = 200,
    hassil_per_intent: int = 150,
    variants: int = 2,
    joins: int = 2500,
    oos_generated: int = 600,
    heldout_fraction: float = 0.1,
    use_templates: bool = True,
    only_intents: Iterable[str] | None = None,
    recognised: Iterable[Example] = (),
    broad_oos: Iterable[Example] = (),
    big_numbers: int = 0,
) -> Corpus:
    """Balanced, augmented training data and a held-out split of unseen base sentences.

    ``recognised``: transcripts of spoken sentences with the labels meant (asr_loop.read_transcripts),
    split by the sentence said; ``broad_oos``: out-of-scope text of other domains, training only;
    ``big_numbers``: requests whose number is past any range, still labelled as the request.
    Both are added after the split and the shuffle with a generator of their own, so the rest of
    the corpus, and the held-out split, are the same with or without them."""
    rng = random.Random(seed)
    aug = Augmenter(rng)
    base = load_paraphrases()
    if use_templates:
        base += load_template_samples(hassil_per_intent, seed)
    if only_intents is not None:
        keep = set(only_intents)
        base = [e for e in base if e.frames[0].intent in keep]
    oos = load_out_of_scope() + generate_out_of_scope(oos_generated, rng)

    groups = sorted({e.group for e in base + oos})
    rng.shuffle(groups)
    held_groups = set(groups[: int(len(groups) * heldout_fraction)])

    def split(items: list[Example]) -> tuple[list[Example], list[Example]]:
        return [e for e in items if e.group not in held_groups], [e for e in items if e.group in held_groups]

    base_train, base_held = split(base)
    oos_train, oos_held = split(oos)

    def expand(
        singles: list[Example], n_per_intent: int, oos_items: list[Example], n_joins: int, n_oos: int
    ) -> list[Example]:
        by_intent: dict[str, dict[str, list[Example]]] = {}
        for e in singles:
            by_intent.setdefault(e.frames[0].intent, {}).setdefault(e.source, []).append(e)
        out: list[Example] = []
        for intent in sorted(by_intent):
            # template samples and hand-written wording get equal shares of the intent's quota
            sources = by_intent[intent]
            quota = max(n_per_intent // len(sources), 1)
            for src in sorted(sources):
                items = sources[src]
                picks = list(items) if len(items) <= quota else rng.sample(items, quota)
                out.extend(aug.case(e) for e in picks)
                for _ in range(max(quota - len(picks), 0) + len(picks) * (variants - 1) // 2):
                    out.append(aug.vary(rng.choice(items)))
        flat = [e for sources in by_intent.values() for items in sources.values() for e in items]
        for _ in range(n_joins):
            k = 2 if rng.random() < 0.8 else 3
            parts = [aug.vary(rng.choice(flat)) for _ in range(k)]
            # "it's cold" style parts joined lower-case, as speech comes
            parts = [replace(p, text=p.text.rstrip(".!")) if i < k - 1 else p for i, p in enumerate(parts)]
            parts = [_fix_frames(p) for p in parts]
            parts = [
                p if i == 0 or rng.random() < 0.3 else replace(p, text=p.text.lower())
                for i, p in enumerate(parts)
            ]
            out.append(aug.join(parts))
        for _ in range(n_oos):
            e = rng.choice(oos_items)
            r = rng.random()
            if r < 0.5:
                out.append(aug.case(e))
            elif r < 0.7 and flat:
                # an aside before or after a real request: only the request is a command
                cmd = aug.vary(rng.choice(flat))
                parts = (
                    [e, cmd]
                    if rng.random() < 0.5
                    else [_fix_frames(replace(cmd, text=cmd.text.rstrip(".!"))), e]
                )
                out.append(aug.join(parts))
            else:
                out.append(aug.case(aug.filler(e)) if rng.random() < 0.5 else aug.case(e))
        return out

    train = expand(base_train, per_intent, oos_train, joins, max(len(oos_train) * 3, per_intent * 8))
    held = expand(base_held, max(per_intent // 10, 5), oos_held, joins // 10, max(len(oos_held) * 2, 40))
    rng.shuffle(train)
    extra_rng = random.Random(seed + 7)
    said = list(recognised)
    said_groups = sorted({e.group for e in said})
    extra_rng.shuffle(said_groups)
    said_held = set(said_groups[: int(len(said_groups) * heldout_fraction)])
    for e in said:
        if only_intents is not None and e.frames and e.frames[0].intent not in set(only_intents):
            continue
        (held if e.group in said_held else train).append(e)
    train += [extra_rng.choice([e, aug.case(e)]) if e.text else e for e in broad_oos]
    # other domains' text is full of amounts ("transfer 5000 dollars"): a request with a number past its
    # slot's range must still read as that request, so the vehicle can refuse the value aloud
    numeric = [
        (e, s)
        for e in base_train
        for s in e.frames[0].slots[:1]
        if not s.implied and not isinstance(s.value, str)
    ]
    for _ in range(big_numbers if numeric else 0):
        e, s = extra_rng.choice(numeric)
        big = str(extra_rng.choice([extra_rng.randint(101, 999), extra_rng.randint(1000, 99999)]))
        train.append(aug._replace(e, s.start, s.end, big))
    return Corpus(train=[_fix_frames(e) for e in train], heldout=[_fix_frames(e) for e in held])


def _fix_frames(ex: Example) -> Example:
    """Clamp spans into the text (after edits at its end)."""
    n = len(ex.text)
    frames = []
    for f in ex.frames:
        slots = tuple(
            s if s.implied else replace(s, start=min(s.start, n), end=min(s.end, n))
            for s in f.slots
            if s.implied or min(s.end, n) > min(s.start, n)
        )
        frames.append(replace(f, start=min(f.start, n), end=min(f.end, n), slots=slots))
    return replace(ex, frames=tuple(frames))


def write_tsv(examples: Iterable[Example], path: Path) -> None:
    lines = ["# Held-out split of the SLM training data (generated; dev_text.tsv format)."]
    for e in examples:
        text = " ".join(e.text.split())
        if text and "\t" not in text:
            lines.append(f"{text}\t{e.expected()}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---- word-level labels --------------------------------------------------------------------


def words_of(encoding: Any) -> list[tuple[int, int, int]]:
    """(first token index, char start, char end) per word of a tokenizers Encoding."""
    out: dict[int, list[int]] = {}
    for i, w in enumerate(encoding.word_ids):
        if w is None:
            continue
        a, b = encoding.offsets[i]
        if w not in out:
            out[w] = [i, a, b]
        else:
            out[w][2] = b
    return [tuple(v) for _, v in sorted(out.items())]  # type: ignore[misc]


def word_labels(
    ex: Example,
    words: list[tuple[int, int, int]],
    intents: list[str],
    slots: list[str],
    values: list[str] | None = None,
) -> tuple[list[int], list[int], list[list[int]]]:
    """Per word: intent tag (0 = O, 1 + 2i = B-intent_i, 2 + 2i = I-intent_i), slot tag alike, and the
    indices in ``values`` ("slot=value") of every value its command carries (said or implied)."""
    itags, stags, vtags = [], [], []
    seen_frames: set[int] = set()
    seen_slots: set[tuple[int, int]] = set()
    for _, a, b in words:
        it = st = 0
        vt: list[int] = []
        for fi, f in enumerate(ex.frames):
            if f.start <= a and b <= f.end + 1 and a < f.end:
                k = intents.index(f.intent)
                it = 1 + 2 * k if fi not in seen_frames else 2 + 2 * k
                seen_frames.add(fi)
                if values is not None:
                    vt = [values.index(v) for v in frame_values(f) if v in values]
                for si, s in enumerate(f.slots):
                    if s.implied:
                        continue
                    if s.start <= a < s.end or (a <= s.start < b):
                        j = slots.index(s.name)
                        st = 1 + 2 * j if (fi, si) not in seen_slots else 2 + 2 * j
                        seen_slots.add((fi, si))
                        break
                break
        itags.append(it)
        stags.append(st)
        vtags.append(vt)
    return itags, stags, vtags


def frame_values(f: Frame) -> list[str]:
    return [f"{s.name}={s.value}" for s in f.slots]
