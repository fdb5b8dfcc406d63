"""CMU pocketsphinx with its bundled US English acoustic model and a domain language model from intents/.

The domain LM comes from ``assistant.asr.domain`` (built once, cached, rebuilt
when intents/ change). Words of the domain that the bundled dictionary lacks
get a pronunciation from ``pronunciations.dict`` beside this file (CMU
phones, written by hand for the few domain words the bundled dictionary
lacks: "defogger", "recirc"), else one glued from two dictionary words
(``headlamps`` = ``head`` + ``lamps``); the rest are reported in
``missing_words`` and logged, since the recognizer can never output them.

A second search holds the follow-up window's model (``domain.follow_up_lm``:
the domain's sentences plus follow-up phrasings, "and the passenger side
too", "the other one", "a bit more"); ``follow_up(True)`` makes the requests
begun after it use that one, so a request after the wake word keeps the
domain model (follow-up phrasings in it cost first turns).

The decoder runs its lattice (bestpath) pass, so each word of the final
transcript carries its posterior probability and the transcript the
posterior of the whole text (``Transcript.posterior``); the actuation policy
reads them as the recogniser's evidence.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from assistant.asr.base import AsrError, Recognizer, Transcript, Word
from assistant.asr.domain import domain_lm, follow_up_lm, join_compounds
from assistant.audio import AudioChunk, to_stream_format
from assistant.errors import ModelNotFoundError
from assistant.nlu.intents import INTENTS_DIR

log = logging.getLogger(__name__)

EXTRA_DICT = Path(__file__).with_name("pronunciations.dict")
"""Domain words missing from cmudict, with hand-written CMU phones (no g2p model ships here)."""

PARTIAL_EVERY_MS = 150.0
"""A partial hypothesis costs a backtrace; one every 150 ms is plenty for endpointing."""
NBEST = 30
"""n-best entries read from the lattice (the pipeline tries up to 10 distinct texts)."""
NBEST_MARGIN = 0.05
"""Alternatives scoring within this of the best (pocketsphinx's normalised n-best score) are offered."""
CMN_WINDOW = 500
"""Frames the live cepstral mean's prior counts for (pocketsphinx's CMN_WIN)."""
FOLLOW_UP_SEARCH = "follow_up"
"""The decoder's search for the follow-up window (the domain model's is pocketsphinx's default one)."""
ADAPT_MAX_S = 5
"""Audio ``reset(channel)`` reads at most: the start of a recording, and under pocketsphinx's 800-frame
high-water mark, past which it rescales its running sums and the prior's weight is no longer
CMN_WINDOW."""


def _read_dict(path: Path) -> dict[str, str]:
    pron: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            word, _, phones = line.strip().partition(" ")
            if word and "(" not in word:
                pron.setdefault(word, phones.strip())
    return pron


def _cmn_vector(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _unit(p: float) -> float | None:
    """A posterior pocketsphinx reports, clipped to [0, 1]; None for a missing one (NaN)."""
    return None if p != p else min(1.0, max(0.0, float(p)))


def compound_pronunciation(word: str, pron: dict[str, str]) -> str | None:
    """Phones for ``word`` as two dictionary words (longest first part first), or None."""
    for cut in range(len(word) - 2, 1, -1):
        head, tail = word[:cut], word[cut:]
        if head in pron and tail in pron and len(tail) > 1:
            return f"{pron[head]} {pron[tail]}"
    return None


class PocketsphinxRecognizer(Recognizer):
    name = "pocketsphinx"

    def __init__(self, intents_dir: str | Path = INTENTS_DIR, cache: str | Path | None = None,
                 **decoder_options: Any) -> None:
        try:
            from pocketsphinx import Config, Decoder, get_model_path
        except ImportError as err:
            raise AsrError("pocketsphinx is not installed; run: pip install -e .") from err
        hmm = Path(get_model_path("en-us/en-us"))
        dictionary = Path(get_model_path("en-us/cmudict-en-us.dict"))
        if not hmm.is_dir() or not dictionary.exists():
            raise ModelNotFoundError(f"pocketsphinx's English model is missing under {hmm.parent}; "
                                     "reinstall it: pip install --force-reinstall pocketsphinx")
        self.lm = domain_lm(intents_dir, Path(cache) if cache else None)
        self._vocabulary = frozenset(self.lm.words)
        # bestpath: a lattice search after the first pass, which gives the words' posteriors
        config = Config(hmm=str(hmm), dict=str(dictionary), lm=str(self.lm.arpa), samprate=16000,
                        loglevel="FATAL", bestpath=True)
        for key, value in decoder_options.items():
            config[key] = value
        try:
            self._decoder: Any = Decoder(config)
        except Exception as err:
            raise AsrError(f"pocketsphinx cannot load the domain model {self.lm.arpa}: {err}") from err
        pron = _read_dict(dictionary)
        extra = _read_dict(EXTRA_DICT) if EXTRA_DICT.exists() else {}
        self.added_words: dict[str, str] = {}
        self.missing_words: tuple[str, ...] = ()
        missing = []
        for word in self.lm.words:
            if word in pron:
                continue
            phones = extra.get(word) or compound_pronunciation(word, pron)
            if phones is None:
                missing.append(word)
                continue
            self.added_words[word] = phones
        items = list(self.added_words.items())
        for i, (word, phones) in enumerate(items):
            # rebuilding the search once, after the last word, not once per word
            self._decoder.add_word(word, phones, i == len(items) - 1)
        self.missing_words = tuple(missing)
        # the window's model: its words beyond the domain's are cmudict words (it adds phrasings only)
        self.follow_up_lm = follow_up_lm(intents_dir, Path(cache) if cache else None)
        self._main_search = self._decoder.current_search()
        try:
            self._decoder.add_lm_file(FOLLOW_UP_SEARCH, str(self.follow_up_lm.arpa))
        except Exception as err:
            raise AsrError(
                f"pocketsphinx cannot load the follow-up model {self.follow_up_lm.arpa}: {err}"
            ) from err
        self._vocabulary = self._vocabulary | frozenset(self.follow_up_lm.words)
        self._search = self._main_search
        if missing:
            log.warning("pocketsphinx: %d domain words have no pronunciation and cannot be recognized: %s",
                        len(missing), ", ".join(missing))
        self._active = False
        self._since_partial = 0.0
        self._last_partial = ""
        # Live cepstral mean normalisation only updates its mean at the end of an utterance, so a
        # request is normalised with what the channel sounded like before it: the previous request,
        # or the context audio given to begin(). From the initial mean, car noise costs a third of
        # the requests.
        self._cmn0 = self._decoder.get_cmn(False)

    def reset(self, channel: AudioChunk | None = None) -> None:
        if self._active:
            self._decoder.end_utt()
            self._active = False
        self._decoder.set_cmn(self._cmn0)
        if channel is None:
            return
        # One utterance moves the live mean only part of the way from its prior towards the audio's
        # own: the prior counts as CMN_WINDOW frames against the utterance's n. One pass over the
        # recording and that ratio give the audio's mean, the state a run of earlier requests in
        # the same cabin leaves (within about 2 units of c0 against 25 passes). Left at the one-pass
        # mean, a fifth of the requests at 10 dB SNR are lost against the mean of earlier files.
        audio = to_stream_format(channel).audio[: 2 * 16000 * ADAPT_MAX_S]
        if not audio:
            return
        before = _cmn_vector(self._decoder.get_cmn(False))
        self._decoder.start_utt()
        self._decoder.process_raw(audio, False, False)
        self._decoder.end_utt()
        frames = self._decoder.n_frames()
        after = _cmn_vector(self._decoder.get_cmn(False))
        if frames <= 0 or len(after) != len(before):
            return
        share = frames / (CMN_WINDOW + frames)
        mean = [b + (a - b) / share for a, b in zip(after, before, strict=True)]
        self._decoder.set_cmn(",".join(f"{x:.4g}" for x in mean))

    def follow_up(self, on: bool) -> None:
        self._search = FOLLOW_UP_SEARCH if on else self._main_search

    @property
    def search(self) -> str:
        """The decoder's active search (after ``begin``: the request's): the domain model's, or
        ``FOLLOW_UP_SEARCH``."""
        return str(self._decoder.current_search())

    def begin(self, context: AudioChunk | None = None) -> None:
        if self._active:
            self._decoder.end_utt()
        if self._decoder.current_search() != self._search:
            self._decoder.activate_search(self._search)
        if context is not None and context.samples > 0:
            # a throwaway utterance over the audio just before the request: only its mean is kept
            self._decoder.start_utt()
            self._decoder.process_raw(to_stream_format(context).audio, False, False)
            self._decoder.end_utt()
        self._decoder.start_utt()
        self._active = True
        self._since_partial = 0.0
        self._last_partial = ""

    def accept(self, chunk: AudioChunk) -> Transcript | None:
        if not self._active:
            self.begin()
        chunk = to_stream_format(chunk)
        self._decoder.process_raw(chunk.audio, False, False)
        self._since_partial += chunk.duration_ms
        if self._since_partial < PARTIAL_EVERY_MS:
            return None
        self._since_partial = 0.0
        hyp = self._decoder.hyp()
        text = join_compounds(hyp.hypstr, self._vocabulary) if hyp is not None else ""
        if text == self._last_partial:
            return None
        self._last_partial = text
        return Transcript(text, final=False)

    def end(self) -> Transcript:
        if not self._active:
            return Transcript("")
        self._decoder.end_utt()
        self._active = False
        hyp = self._decoder.hyp()
        text = hyp.hypstr if hyp is not None else ""
        words = []
        frame_ms = 10.0
        for seg in self._decoder.seg():
            if seg.word.startswith("<") or seg.word.startswith("[") or seg.word == "<sil>":
                continue
            words.append(Word(seg.word.split("(")[0], seg.start_frame * frame_ms, seg.end_frame * frame_ms,
                              _unit(seg.prob)))
        best = join_compounds(text, self._vocabulary)
        posterior = _unit(hyp.prob) if hyp is not None and best else None
        return Transcript(best, True, tuple(words), self._alternatives(best), posterior)

    def _alternatives(self, best: str) -> tuple[str, ...]:
        out: list[str] = []
        top: float | None = None
        try:
            for i, nb in enumerate(self._decoder.nbest()):
                if i >= NBEST:
                    break
                top = nb.score if top is None else top
                if nb.score < top - NBEST_MARGIN:
                    continue
                text = join_compounds(" ".join(nb.hypstr.split()), self._vocabulary)
                if text and text != best and text not in out:
                    out.append(text)
        except Exception:  # n-best is a bonus; a search without a lattice has none
            log.debug("no n-best list", exc_info=True)
        return tuple(out)
