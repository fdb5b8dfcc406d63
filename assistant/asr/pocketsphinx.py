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

``noise_floor_db`` (off by default; the voice benchmark's ``--ps noise_floor_db=38``) fills the audio up
to a low white noise floor before the decoder (``NoiseFloor``): no microphone records digital silence
or spectral valleys deeper than its own noise, and the acoustic model, trained on recorded speech,
mishears audio that clean (synthetic speech). Audio with a cabin's own noise passes unchanged. It is
not on by default: it has not been measured against the out-of-domain and follow-up sets yet, and it
turned a clean piper "turn on the fog lights" heard without a channel (``reset()``) into "put on the
fog wife".

The decoder runs its lattice (bestpath) pass, so each word of the final
transcript carries its posterior probability and the transcript the
posterior of the whole text (``Transcript.posterior``); the actuation policy
reads them as the recogniser's evidence.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

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
NOISE_FLOOR_DB = 38.0
"""The noise floor's level below the loudest recent 20 ms of audio (dB), when it is on. Chosen on
training voices (piper joe, espeak-ng en-us+m3, en+f3, en-gb-scotland+m2; 30 held-out training
sentences each, clean and in car noise at 10 dB): clean word error rate 0.16 / 0.38 / 0.63 / 0.80
without a floor, 0.16 / 0.23 / 0.59 / 0.60 at 38 dB (0.18 / 0.26 / 0.59 / 0.50 at 32, 0.15 / 0.26 /
0.69 / 0.68 at 44); measured with the floor added whole, which on clean audio is what filling up adds.
Never chosen on the unseen-voice set."""
FLOOR_FRAME = 320
"""Samples per level measurement (20 ms at 16 kHz)."""
FLOOR_START_DBFS = -20.0
"""The loudest level assumed before any audio has been heard (a quiet voice's loud frames; louder
speech raises it at once)."""
FLOOR_LOWEST_DBFS = -40.0
"""The tracked level decays no lower than this in long silences."""
FLOOR_DECAY_DB_PER_S = 2.0
"""How fast the tracked loudest level falls when the audio is quieter than it (a door slam fades)."""
QUIET_RISE_DB_PER_S = 3.0
"""How fast the tracked quietest level (the audio's own noise) rises while the audio is louder."""


class NoiseFloor:
    """Fills the audio up to a white noise floor ``below_db`` under its loudest recent 20 ms, from a
    fixed seed, so that the same audio gives the same samples after ``reset``.

    Two levels are tracked per 20 ms: the loudest (rises at once, falls ``FLOOR_DECAY_DB_PER_S``) and
    the quietest (falls at once, rises ``QUIET_RISE_DB_PER_S``): the audio's own noise. Only the
    power the own noise lacks to reach the floor is added, so audio from a cabin, whose noise is well
    above the floor, passes unchanged, and digital silence gets the whole floor.

    Why: pocketsphinx's acoustic model was trained on recorded speech, which always has a noise floor.
    Synthetic speech has digital silence and spectral valleys no microphone records, and is misheard.
    """

    def __init__(self, below_db: float = NOISE_FLOOR_DB, seed: int = 0) -> None:
        self.below_db = float(below_db)
        self.seed = seed
        self.reset()

    def reset(self, level_dbfs: float = FLOOR_START_DBFS) -> None:
        self._rng = np.random.default_rng(self.seed)
        self.level_dbfs = level_dbfs
        self.quiet_dbfs = 0.0  # the first 20 ms sets it

    @staticmethod
    def loudest(chunk: AudioChunk) -> float:
        """The loudest 20 ms of ``chunk`` in dBFS (``FLOOR_LOWEST_DBFS`` for a quieter or empty one)."""
        x = to_stream_format(chunk).array().astype(np.float32) / 32768.0
        n = len(x) // FLOOR_FRAME * FLOOR_FRAME
        if n == 0:
            return FLOOR_LOWEST_DBFS
        rms = np.sqrt(np.mean(x[:n].reshape(-1, FLOOR_FRAME) ** 2, axis=1))
        return max(FLOOR_LOWEST_DBFS, float(20 * np.log10(rms.max() + 1e-12)))

    def __call__(self, chunk: AudioChunk) -> AudioChunk:
        chunk = to_stream_format(chunk)
        x = chunk.array().astype(np.float32) / 32768.0
        if len(x) == 0:
            return chunk
        sigma = np.empty(len(x), dtype=np.float32)
        step_s = FLOOR_FRAME / chunk.rate
        for start in range(0, len(x), FLOOR_FRAME):
            frame = x[start : start + FLOOR_FRAME]
            db = 20 * np.log10(float(np.sqrt(np.mean(frame**2))) + 1e-12)
            self.level_dbfs = max(db, self.level_dbfs - FLOOR_DECAY_DB_PER_S * step_s, FLOOR_LOWEST_DBFS)
            self.quiet_dbfs = min(db, self.quiet_dbfs + QUIET_RISE_DB_PER_S * step_s)
            lacking = 10 ** ((self.level_dbfs - self.below_db) / 10) - 10 ** (self.quiet_dbfs / 10)
            sigma[start : start + FLOOR_FRAME] = np.sqrt(max(0.0, lacking))
        if not sigma.any():
            return chunk
        y = x + self._rng.standard_normal(len(x)).astype(np.float32) * sigma
        return AudioChunk.from_array(y, chunk.rate, chunk.timestamp_ms)


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
                 noise_floor_db: float | None = None, **decoder_options: Any) -> None:
        """``noise_floor_db``: a noise floor this far under the speech (``NoiseFloor``; ``NOISE_FLOOR_DB``
        is the measured choice); None: none, the default.
        ``decoder_options``: pocketsphinx Config keys (``lw``, ``beam``...)."""
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
        self._floor = NoiseFloor(noise_floor_db) if noise_floor_db is not None else None

    def _floored(self, chunk: AudioChunk) -> AudioChunk:
        return self._floor(chunk) if self._floor is not None else to_stream_format(chunk)

    def reset(self, channel: AudioChunk | None = None) -> None:
        if self._active:
            self._decoder.end_utt()
            self._active = False
        self._decoder.set_cmn(self._cmn0)
        if self._floor is not None:
            self._floor.reset()
        if channel is None:
            return
        # One utterance moves the live mean only part of the way from its prior towards the audio's
        # own: the prior counts as CMN_WINDOW frames against the utterance's n. One pass over the
        # recording and that ratio give the audio's mean, the state a run of earlier requests in
        # the same cabin leaves (within about 2 units of c0 against 25 passes). Left at the one-pass
        # mean, a fifth of the requests at 10 dB SNR are lost against the mean of earlier files.
        head = to_stream_format(channel)
        head = AudioChunk(head.rate, head.width, head.channels, head.audio[: 2 * 16000 * ADAPT_MAX_S])
        if not head.audio:
            return
        if self._floor is not None:
            # the recording's own loudness from its start, so its first words get their floor
            self._floor.reset(NoiseFloor.loudest(head))
        audio = self._floored(head).audio
        if self._floor is not None:
            self._floor.reset(NoiseFloor.loudest(head))  # the request starts from the same state
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
            self._decoder.process_raw(self._floored(context).audio, False, False)
            self._decoder.end_utt()
        self._decoder.start_utt()
        self._active = True
        self._since_partial = 0.0
        self._last_partial = ""

    def accept(self, chunk: AudioChunk) -> Transcript | None:
        if not self._active:
            self.begin()
        chunk = self._floored(chunk)
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
