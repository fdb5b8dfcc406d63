"""The domain language: spoken-form sentences from intents/, as an ARPA language model and a word list.

Template sentences are written for reading ("set it to 22", "a/c"); speech
recognizers need them as spoken words ("set it to twenty two", "a c").
``domain_sentences`` makes that conversion; ``domain_lm`` builds a trigram
ARPA model from them with pocketsphinx's ``ArpaBoLM`` and caches it under a
key that includes the intents/ hash, so an edited template rebuilds it and an
unchanged one loads in milliseconds.

The model has a way out for speech that is not for the car: the most frequent
words of pocketsphinx's bundled general English model join its unigrams
(``GENERAL_WORDS``, ``GENERAL_WEIGHT``), reached from any domain context by
backing off, so "what time does the museum open" can be heard as that and not
forced into car words (which the language model would then read as a command).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.nlu.intents import INTENTS_DIR, intents_hash, load_intents
from assistant.nlu.numbers import spell_number
from assistant.package_data import data_path

if TYPE_CHECKING:
    from assistant.nlu.sampling import SampleRecord

log = logging.getLogger(__name__)

LM_VERSION = "7"
"""Bump when the sentence conversion or LM recipe changes: old caches are then ignored."""
SENTENCES_PER_INTENT = 400
SENTENCES_PER_PHRASE = 2
"""Sentences written for each way of saying a slot value ("the driver window", "my side"), beyond the
sampled ones: see ``phrase_sentences``."""
PHRASE_POOL = 10
"""The phrases are those of ``PHRASE_POOL`` times as many sampled sentences per intent."""
GENERAL_WORDS = 1000
"""Most frequent words of pocketsphinx's bundled general English model that join the domain model as a
way out: speech that is not for the car can be heard as the English it is instead of car words."""
GENERAL_WEIGHT = 0.1
"""Share of the unigram mass the general words get (the domain keeps the rest, and its bigrams and
trigrams are scaled by 1 - this); from any domain context they are reached by backing off."""
# training text that is not a command keeps off-domain speech from being forced into commands
OUT_OF_SCOPE = data_path("intents", "out_of_scope.txt")

WRITTEN = {
    "deg": "degrees",
    "khz": "kilohertz",
    "mhz": "megahertz",
    "mw": "m w",
    "int": "intermittent",
    "farenheit": "fahrenheit",
}
"""Written abbreviations and misspellings in the templates, as a driver says them."""


def spoken_words(text: str) -> list[str]:
    """Lower-case spoken tokens: numbers spelled, a/c and a.c. as letters, punctuation dropped."""
    text = text.lower().replace("%", " percent ").replace("/", " ").replace("-", " ")
    out: list[str] = []
    for token in re.findall(r"[a-z0-9'.]+", text):
        token = token.strip(".'")
        if not token:
            continue
        if re.fullmatch(r"\d+(\.\d+)?", token):
            out.extend(spell_number(token).split())
        elif re.fullmatch(r"\d+[a-z]+", token):  # 2nd, 3rd
            out.extend(spell_number(re.match(r"\d+", token).group()).split())  # type: ignore[union-attr]
        elif "." in token:
            out.extend(part for part in token.split(".") if part)
        elif token in WRITTEN:
            out.extend(WRITTEN[token].split())
        else:
            out.append(token)
    return out


def domain_sentences(intents_dir: Path | str = INTENTS_DIR, per_intent: int = SENTENCES_PER_INTENT,
                     seed: int = 0, per_phrase: int = SENTENCES_PER_PHRASE) -> list[str]:
    """Spoken-form sentences the templates of ``intents_dir`` allow: distinct ones sampled per intent,
    then ``per_phrase`` more for every way of saying a slot value (``phrase_sentences``)."""
    from assistant.nlu.sampling import intent_records

    intents = load_intents(intents_dir)
    seen: dict[str, None] = {}
    extra: list[str] = []
    for name in sorted(intents.intents):
        rng = random.Random(f"{seed}:{name}")
        records = intent_records(intents, name, per_intent, rng)
        for record in records:
            words = spoken_words(record.text)
            if words:
                seen.setdefault(" ".join(words), None)
        if per_phrase:
            pool_rng = random.Random(f"{seed}:{name}:pool")
            pool = intent_records(intents, name, per_intent * PHRASE_POOL, pool_rng)
            extra += phrase_sentences(records, pool, per_phrase, rng)
    return list(seen) + extra


def phrase_sentences(
    records: list[SampleRecord], pool: list[SampleRecord], per_phrase: int, rng: random.Random
) -> list[str]:
    """``per_phrase`` sentences for each way ``pool`` says a slot value, its words put in place of the
    same slot's words in sentences of ``records``.

    Drawing template alternatives uniformly weighs a plain phrase by how many ways its value has:
    "the driver window" is one of 48 ways to say the driver's window, so the first samples held it
    once and the model heard "open the driver window" as "open the driver wind nope". Each phrase
    said equally often gives the plain ones their place beside the rare ones."""
    carriers: dict[str, list[tuple[str, str]]] = {}
    for record in records:
        for slot, (_value, said) in record.slots.items():
            if said and re.search(r"[a-z]", said) and f" {said} " in f" {record.text} ":
                carriers.setdefault(slot, []).append((record.text, said))
    phrases: dict[tuple[str, str], None] = {}
    for record in pool:
        for slot, (_value, said) in record.slots.items():
            if said and slot in carriers and not re.search(r"\d", said):
                phrases.setdefault((slot, said), None)
    out = []
    for slot, said in phrases:
        for _ in range(per_phrase):
            text, old = rng.choice(carriers[slot])
            words = spoken_words(f" {text} ".replace(f" {old} ", f" {said} ", 1))
            if words:
                out.append(" ".join(words))
    return out


def compound_sentences(sentences: list[str], n: int = 4000, seed: int = 0) -> list[str]:
    """Two requests in one breath ("close the windows and turn on the ac"): the parser splits them."""
    rng = random.Random(seed)
    joins = ["and", "and", "and", "and then", "then", "and also"]
    return [f"{rng.choice(sentences)} {rng.choice(joins)} {rng.choice(sentences)}" for _ in range(n)]


def out_of_scope_sentences() -> list[str]:
    if not OUT_OF_SCOPE.exists():
        return []
    lines = OUT_OF_SCOPE.read_text(encoding="utf-8").splitlines()
    return [" ".join(spoken_words(line)) for line in lines if line.strip() and not line.startswith("#")]


def join_compounds(text: str, vocabulary: frozenset[str] | set[str]) -> str:
    """Glue split compounds back when the glued word is a domain word: "sun roof" -> "sunroof".

    Recognizers with a word-level dictionary often say a compound as its
    parts; the parser's templates know the compound.
    """
    words = text.split()
    out: list[str] = []
    i = 0
    while i < len(words):
        if i + 1 < len(words) and words[i] + words[i + 1] in vocabulary and len(words[i]) > 1:
            out.append(words[i] + words[i + 1])
            i += 2
        else:
            out.append(words[i])
            i += 1
    return " ".join(out)


def general_unigrams(n: int = GENERAL_WORDS) -> dict[str, float]:
    """The ``n`` likeliest words of pocketsphinx's bundled general English model: word -> probability
    renormalised over them (read word by word: writing that model out as ARPA crashes pocketsphinx)."""
    import math

    from pocketsphinx import NGramModel, get_model_path

    model = NGramModel.readfile(get_model_path("en-us/en-us.lm.bin"))
    words: set[str] = set()
    with open(get_model_path("en-us/cmudict-en-us.dict"), encoding="utf-8") as f:
        for line in f:
            word = line.split(" ", 1)[0]
            if word and "(" not in word and re.fullmatch(r"[a-z']+", word):
                words.add(word)
    ln_base = math.log(1.0001)  # pocketsphinx's log base
    scored = sorted(((model.prob([w]) * ln_base, w) for w in words), reverse=True)[:n]
    total = sum(math.exp(s) for s, _ in scored)
    return {w: math.exp(s) / total for s, w in scored}


def mix_unigrams(arpa: str, general: dict[str, float], weight: float) -> str:
    """``arpa`` with ``general`` mixed in: p(w) = (1 - weight) p_domain(w) + weight p_general(w) for unigrams,
    higher orders scaled by (1 - weight); backoff weights are kept (a close, not exact, normalisation)."""
    import math

    keep = math.log10(1 - weight)
    out: list[str | None] = []  # None: where the unigrams go
    order = 0
    unigrams: dict[str, list[str]] = {}
    for line in arpa.splitlines():
        head = re.fullmatch(r"\\(\d)-grams:", line.strip())
        fields = line.split()
        if head:
            order = int(head.group(1))
            out.append(line)
        elif order == 0 or not fields or line.strip() == "\\end\\":
            out.append(line)
        elif order == 1:
            if not unigrams:
                out.append(None)
            unigrams[fields[1]] = fields
        else:
            out.append("\t".join([f"{float(fields[0]) + keep:.4f}", *fields[1:]]))
    for word in general:
        unigrams.setdefault(word, ["-99", word])
    filled = []
    for word, fields in unigrams.items():
        domain = 0.0 if float(fields[0]) <= -98 else 10 ** float(fields[0])
        p = (1 - weight) * domain + weight * general.get(word, 0.0)
        filled.append("\t".join([f"{math.log10(p) if p > 0 else -99.0:.4f}", word, *fields[2:]]))
    text = "\n".join("\n".join(filled) if line is None else line for line in out) + "\n"
    return re.sub(r"ngram 1=\d+", f"ngram 1={len(unigrams)}", text, count=1)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "car-assistant" / "asr"


@dataclass(frozen=True)
class DomainLm:
    """A built domain language model on disk."""

    arpa: Path
    words: tuple[str, ...]
    key: str
    built: bool
    """True when this call built it, False when it came from the cache."""


def domain_key(intents_dir: Path | str = INTENTS_DIR) -> str:
    extra = OUT_OF_SCOPE.read_bytes() if OUT_OF_SCOPE.exists() else b""
    recipe = f"{LM_VERSION}\0{GENERAL_WORDS}\0{GENERAL_WEIGHT}\0{intents_hash(intents_dir)}\0"
    digest = hashlib.sha256(recipe.encode() + extra)
    return digest.hexdigest()[:16]


def domain_text(intents_dir: Path | str = INTENTS_DIR) -> str:
    """The domain model's training text: the templates' sentences, two-request compounds and the
    out-of-scope way out; the domain outweighs the off-domain text three to one."""
    sentences = domain_sentences(intents_dir)
    return "\n".join(sentences * 3 + compound_sentences(sentences) + out_of_scope_sentences())


def domain_lm(intents_dir: Path | str = INTENTS_DIR, cache: Path | None = None) -> DomainLm:
    """The ARPA model for ``intents_dir``, from the cache or built now (a few seconds) and cached."""
    return _cached_lm("domain", domain_key(intents_dir), cache, intents_dir, lambda: domain_text(intents_dir))


def _cached_lm(
    kind: str, key: str, cache: Path | None, intents_dir: Path | str, text_of: Callable[[], str]
) -> DomainLm:
    """The ``kind`` model of ``key`` from the cache, or built from ``text_of()`` with the general-English
    way out mixed in, written atomically (another process may be building the same key) and cached."""
    cache = cache or cache_dir()
    arpa = cache / f"{kind}-{key}.arpa"
    meta = cache / f"{kind}-{key}.json"
    if arpa.exists() and meta.exists():
        try:
            words = tuple(json.loads(meta.read_text(encoding="utf-8"))["words"])
            return DomainLm(arpa, words, key, False)
        except (ValueError, KeyError):
            log.warning("%s LM cache %s is damaged; rebuilding", kind, meta)
    from pocketsphinx.lm import ArpaBoLM

    text = text_of()
    lm = ArpaBoLM(text=text, add_start=True)
    lm.compute()
    cache.mkdir(parents=True, exist_ok=True)
    tmp = arpa.with_suffix(f".tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        lm.write(f)
    if GENERAL_WORDS and GENERAL_WEIGHT > 0:
        tmp.write_text(mix_unigrams(tmp.read_text(encoding="utf-8"), general_unigrams(GENERAL_WORDS),
                                    GENERAL_WEIGHT), encoding="utf-8")
    os.replace(tmp, arpa)
    words = tuple(sorted({w for line in text.splitlines() for w in line.split()}))
    meta.write_text(json.dumps({"words": words, "intents_hash": intents_hash(intents_dir)}), encoding="utf-8")
    log.info("built the %s language model %s (%d lines, %d words)", kind, arpa.name,
             text.count("\n") + 1, len(words))
    return DomainLm(arpa, words, key, True)


# -- the follow-up window's model ------------------------------------------------------------------

FOLLOW_UP_LM_VERSION = "1"
"""Bump when the recipe of the follow-up model changes (the phrasings themselves are in its key)."""
FOLLOW_UP_SENTENCES = 6000
FOLLOW_UP_REPEAT = 2
"""How many times the follow-up phrasings are written into the window's training text (the domain's
sentences are written three times): in the window a follow-up is as likely as a request."""

_ALSO_LEADS = ("", "and", "also", "and also", "same for", "the same for", "do the same for", "same thing for",
               "do the same on", "what about", "how about", "and for", "and on", "now", "and now")
_ALSO_TAILS = ("", "", "too", "as well", "also", "please", "too please", "as well please")
_NOUNS = ("", "", "one", "ones", "side", "window", "windows", "seat", "seats", "door", "doors", "zone")
_OTHER = ("the other one", "the other ones", "the other side", "the other window", "the other seat",
          "the other door", "other one", "other side")
_NEGATIONS = ("no", "no no", "not that one", "not that", "wrong one", "the wrong one", "i meant", "i mean",
              "no i meant", "no i said", "make that", "change that to", "not the driver",
              "not the passenger", "not the front", "not the rear", "sorry i meant", "oh sorry i meant")
_MORE = ("a bit more", "a little more", "more", "even more", "some more", "a bit further", "further",
         "keep going", "a little bit more", "a lot more", "a touch more", "a notch more", "more please",
         "a bit more please", "little more", "bit more")
_LESS = ("too much", "that's too much", "that is too much", "way too much", "a bit too much", "too far",
         "it's too much", "a bit less", "a little less", "less", "not so much", "not that much",
         "back a bit", "go back a bit", "bring it back a bit", "a little bit less", "a notch less",
         "less please", "a bit less please", "little less", "bit less")
_VERBS = ("open", "close", "shut", "lock", "unlock", "fold", "unfold", "roll down", "roll up")
_OBJECTS = ("it", "them", "that", "those")
_AGAIN = ("do it again", "do that again", "do this again", "do it once more", "do that once more",
          "same again", "the same again")
_BARE = {"all", "all of them", "both", "every", "everything", "mine", "my", "the rest"}
"""Positions said without "the" before them."""
_ANSWERS = ("yes", "yes please", "yeah", "no", "no thanks", "no thank you", "okay", "cancel", "never mind")


def _position_words() -> list[str]:
    from assistant.context import POSITIONS

    return sorted(POSITIONS)


def follow_up_sentences(n: int = FOLLOW_UP_SENTENCES, seed: int = 0) -> list[str]:
    """Spoken follow-ups of the kinds ``assistant.context`` resolves ("and the passenger side too",
    "the other one", "no the rear", "a bit more", "close it again") and the answers to a question,
    sampled from their parts (not from any test set)."""
    rng = random.Random(f"follow-up:{seed}")
    positions = _position_words()

    def place() -> str:
        position = rng.choice(positions)
        the = "" if position in _BARE else rng.choice(("the", "the", ""))
        words = [the, position, rng.choice(_NOUNS)]
        return " ".join(w for w in words if w)

    def also() -> str:
        return " ".join(w for w in (rng.choice(_ALSO_LEADS), place(), rng.choice(_ALSO_TAILS)) if w)

    def other() -> str:
        return " ".join(w for w in (rng.choice(("", "", "and", "no")), rng.choice(_OTHER),
                                    rng.choice(_ALSO_TAILS + ("instead",))) if w)

    def instead() -> str:
        target = rng.choice(_OTHER) if rng.random() < 0.3 else place()
        return " ".join(w for w in (rng.choice(_NEGATIONS), target, rng.choice(("", "", "instead", "please")))
                        if w)

    def again() -> str:
        r = rng.random()
        if r < 0.5:
            return " ".join(w for w in (rng.choice(_VERBS), rng.choice(_OBJECTS),
                                        rng.choice(("", "", "again", "back", "back again"))) if w)
        if r < 0.8:
            return (f"{rng.choice(('turn', 'switch', 'put'))} {rng.choice(_OBJECTS[:3])} "
                    f"{rng.choice(('', 'back '))}{rng.choice(('on', 'off'))}")
        return rng.choice(_AGAIN)

    kinds = [(also, 5), (other, 1), (instead, 2), (lambda: rng.choice(_MORE), 1),
             (lambda: rng.choice(_LESS), 1), (again, 2), (lambda: rng.choice(_ANSWERS), 1)]
    makers = [make for make, weight in kinds for _ in range(weight)]
    return [" ".join(rng.choice(makers)().split()) for _ in range(n)]


def follow_up_key(intents_dir: Path | str = INTENTS_DIR) -> str:
    """The domain model's key and the phrasings themselves: an edited phrasing rebuilds the model."""
    recipe = f"{FOLLOW_UP_LM_VERSION}\0{FOLLOW_UP_REPEAT}\0{domain_key(intents_dir)}\0"
    return hashlib.sha256(recipe.encode() + "\n".join(follow_up_sentences()).encode()).hexdigest()[:16]


def follow_up_lm(intents_dir: Path | str = INTENTS_DIR, cache: Path | None = None) -> DomainLm:
    """The follow-up window's ARPA model: the domain model's text and way out, plus follow-up phrasings
    (``follow_up_sentences``). A recogniser uses it only while the window after a reply is open, so the
    first turn of a request keeps the domain model; cached like ``domain_lm``."""

    def text() -> str:
        return "\n".join([domain_text(intents_dir), *follow_up_sentences() * FOLLOW_UP_REPEAT])

    return _cached_lm("follow-up", follow_up_key(intents_dir), cache, intents_dir, text)
