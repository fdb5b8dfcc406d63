"""The small language model engine: an int8 ONNX word tagger, no torch at run time.

The model tags every word of the utterance three ways: which command it belongs
to (B-/I-intent or O, so "open the window and turn the ac on" splits into two
commands in spoken order), which slot span it is part of (B-/I-slot or O), and
which slot values its command carries (multi-label, for values the wording
implies without a span: "skip this song" is action next). Slot spans become
catalog values through the template engine's normaliser, then through the span
lexicon learnt in training; the value head fills what no span gave.
Confidence is the calibrated mean tag probability of a command's words; below
the manifest's threshold the command is dropped.

Files in ``models/slm`` (written by ``car-assistant train``): model.onnx,
tokenizer.json, labels.json and manifest.json with their sha256, the hash of
the intents/ they were trained on, the training command and seed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.catalog import SLOT_SPECS, SlotValue
from assistant.errors import ModelMismatchError, ModelNotFoundError
from assistant.nlu.base import Command, Parse, Parser, Refusal, check_text, keep_valid
from assistant.package_data import data_path

MODEL_DIR = data_path("models", "slm")
"""The shipped model: ``models/slm`` of the repository, packaged into the wheel."""
RESTORE_HINT = (
    "restore it with `git checkout models/slm` (or reinstall), or rebuild it with `car-assistant train`"
)


@dataclass(frozen=True)
class WordTags:
    """The model's reading of one utterance, word by word."""

    spans: list[tuple[int, int]]  # character start, end per word
    intent_probs: np.ndarray  # words x (1 + 2 * intents): O, B-, I- per intent
    slot_probs: np.ndarray  # words x (1 + 2 * slots)
    value_probs: np.ndarray  # words x values: P(the word's command carries slot=value)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    out: np.ndarray = e / e.sum(-1, keepdims=True)
    return out


def _default_normaliser() -> Callable[[str, str, str], SlotValue | None] | None:
    try:
        from assistant.nlu.normalize import normalize_slot
    except ImportError:
        return None
    return normalize_slot


def _default_number_parser() -> Callable[[str], float | int | None] | None:
    try:
        from assistant.nlu.numbers import parse_number
    except ImportError:
        return None
    return parse_number


def _default_number_reader() -> Callable[[str, int, int], float | int | None] | None:
    try:
        from assistant.nlu.numbers import number_in
    except ImportError:
        return None
    return number_in


MODEL_FILES = ("model.onnx", "tokenizer.json", "labels.json")
"""The files the engine loads; the manifest must vouch for each (sha256 and size)."""


def _manifest_problem(manifest: Any, check_intents: bool = True) -> str | None:
    """What the runtime needs from manifest.json and this one lacks, or None."""
    if not isinstance(manifest, dict):
        return "not a JSON object"
    files = manifest.get("files")
    if not isinstance(files, dict):
        return "no 'files' object"
    for name in MODEL_FILES:
        meta = files.get(name)
        if not isinstance(meta, dict):
            return f"no entry for {name} under 'files'"
        if not isinstance(meta.get("sha256"), str) or len(meta["sha256"]) != 64:
            return f"no 'sha256' for {name}"
        if not isinstance(meta.get("size"), int) or isinstance(meta["size"], bool):
            return f"no 'size' for {name}"
    if check_intents and not isinstance(manifest.get("intents_hash"), str):
        return "no 'intents_hash'"
    return None


def current_intents_hash(intents_dir: str | Path | None = None) -> str | None:
    try:
        from assistant.nlu.intents import INTENTS_DIR, intents_hash
    except ImportError:
        return None
    return str(intents_hash(INTENTS_DIR if intents_dir is None else intents_dir))


class SlmParser(Parser):
    """The int8 ONNX tagger from ``models/slm``; one intra-op thread unless told otherwise."""

    name = "slm"

    def __init__(
        self, model_dir: str | Path | None = None, threads: int = 1, check_intents: bool = True,
        intents_dir: str | Path | None = None,
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else MODEL_DIR
        # the templates the model must have been trained on (None: the shipped intents/)
        self.intents_dir = intents_dir
        manifest = self._manifest(check_intents)
        self._check_files(manifest)
        if check_intents:
            self._check_intents(manifest)
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer

            self.tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
            self.tokenizer.no_padding()
            self.tokenizer.no_truncation()
            labels = json.loads((self.model_dir / "labels.json").read_text(encoding="utf-8"))
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3
            self.session = ort.InferenceSession(
                str(self.model_dir / "model.onnx"), opts, providers=["CPUExecutionProvider"]
            )
        except ImportError:
            raise
        except Exception as err:  # a file that is there but unreadable is as good as missing
            raise ModelNotFoundError(
                f"the SLM in {self.model_dir} cannot be loaded ({err}); {RESTORE_HINT}"
            ) from err
        self.manifest = manifest
        self.configure(labels)

    def configure(self, labels: dict[str, Any]) -> None:
        """Label names, calibration and lexicon from labels.json."""
        self.intents: list[str] = labels["intents"]
        self.slots: list[str] = labels["slots"]
        self.temperature = float(labels.get("temperature", 1.0))
        self.threshold = float(labels.get("threshold", 0.5))
        self.max_tokens = int(labels.get("max_tokens", 64))
        self.lexicon: dict[str, dict[str, SlotValue]] = labels.get("lexicon", {})
        self.values: list[tuple[str, SlotValue]] = [(str(n), v) for n, v in labels.get("values", [])]
        self.cls_id = int(self.tokenizer.token_to_id("[CLS]") or 0)
        self.sep_id = int(self.tokenizer.token_to_id("[SEP]") or 0)
        self.normalize_slot = _default_normaliser()
        self.parse_number = _default_number_parser()
        self.number_in = _default_number_reader()

    # ---- loading -------------------------------------------------------------------

    def _manifest(self, check_intents: bool) -> dict[str, Any]:
        path = self.model_dir / "manifest.json"
        try:
            manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise ModelNotFoundError(f"no SLM manifest at {path}; {RESTORE_HINT}") from err
        except (OSError, ValueError) as err:
            raise ModelNotFoundError(
                f"the SLM manifest {path} is unreadable ({err}); {RESTORE_HINT}"
            ) from err
        problem = _manifest_problem(manifest, check_intents)
        if problem:
            raise ModelNotFoundError(f"the SLM manifest {path} is incomplete ({problem}); {RESTORE_HINT}")
        return manifest

    def _check_files(self, manifest: dict[str, Any]) -> None:
        for name in MODEL_FILES:
            meta = manifest["files"][name]
            path = self.model_dir / name
            if not path.is_file():
                raise ModelNotFoundError(f"the SLM file {path} is missing; {RESTORE_HINT}")
            if path.stat().st_size != meta["size"] or sha256(path) != meta["sha256"]:
                raise ModelNotFoundError(
                    f"the SLM file {path} is corrupt (its sha256 differs from manifest.json); {RESTORE_HINT}"
                )

    def _check_intents(self, manifest: dict[str, Any]) -> None:
        trained_on = manifest.get("intents_hash")
        now = current_intents_hash(self.intents_dir)
        if now is not None and trained_on != now:
            raise ModelMismatchError(
                f"the SLM in {self.model_dir} was trained on other intents than those in "
                f"{self.intents_dir or 'intents/'} "
                f"(intents hash {str(trained_on)[:12]} vs {now[:12]}); retrain it with `car-assistant train` "
                "(`--incremental` takes minutes), or choose the template engine with `--nlu templates`"
            )

    # ---- parsing -------------------------------------------------------------------

    def parse(self, text: str) -> Parse:
        clean = check_text(text)
        tags = self.tag(clean)
        commands, refused = self.decode_refusing(clean, tags)
        return Parse(text=text, commands=keep_valid(commands), engine=self.name, refused=tuple(refused))

    def tag(self, text: str) -> WordTags:
        """Word spans and calibrated tag probabilities; long text is read in word-aligned chunks."""
        enc = self.tokenizer.encode(text, add_special_tokens=False)
        words: list[list[int]] = []  # per word: first token, last token + 1, char start, char end
        last = None
        for i, word_id in enumerate(enc.word_ids):
            if word_id is None:
                continue
            a, b = enc.offsets[i]
            if word_id != last:
                words.append([i, i + 1, a, b])
                last = word_id
            else:
                words[-1][1] = i + 1
                words[-1][3] = b
        n_i = 1 + 2 * len(self.intents)
        n_s = 1 + 2 * len(self.slots)
        if not words:
            return WordTags(
                [],
                np.zeros((0, n_i), np.float32),
                np.zeros((0, n_s), np.float32),
                np.zeros((0, len(self.values)), np.float32),
            )
        ids = enc.ids
        room = self.max_tokens - 2
        chunks: list[list[list[int]]] = [[]]
        for w in words:
            w[1] = min(w[1], w[0] + room)  # one absurdly long word keeps its first tokens
            if chunks[-1] and w[1] - chunks[-1][0][0] > room:
                chunks.append([])
            chunks[-1].append(w)
        width = max(c[-1][1] - c[0][0] for c in chunks) + 2
        batch = np.zeros((len(chunks), width), np.int64)
        mask = np.zeros((len(chunks), width), np.int64)
        for r, chunk in enumerate(chunks):
            toks = [self.cls_id]
            for w in chunk:
                toks.extend(ids[w[0] : w[1]])
                w[0] = len(toks) - (w[1] - w[0])  # the word's first token inside this row
            toks.append(self.sep_id)
            batch[r, : len(toks)] = toks
            mask[r, : len(toks)] = 1
        intent_logits, slot_logits, value_logits = self.session.run(
            None, {"input_ids": batch, "attention_mask": mask}
        )
        rows = [r for r, chunk in enumerate(chunks) for _ in chunk]
        firsts = [w[0] for chunk in chunks for w in chunk]
        il = intent_logits[rows, firsts] / self.temperature
        sl = slot_logits[rows, firsts]
        vp = 1.0 / (1.0 + np.exp(-value_logits[rows, firsts]))
        return WordTags([(w[2], w[3]) for w in words], _softmax(il), _softmax(sl), vp)

    def decode(self, text: str, tags: WordTags) -> list[Command]:
        """Word tags -> commands in spoken order, slot values normalised to the catalog."""
        return self.decode_refusing(text, tags)[0]

    def decode_refusing(self, text: str, tags: WordTags) -> tuple[list[Command], list[Refusal]]:
        """``decode``, and the commands refused for a number outside their slot's range.

        A number slot is read from the whole number said where its span is, not from the span:
        the tagger often leaves out a minus sign or a decimal ("-40" tagged "40", "99.99" as
        "99." and "99"), and "open the window -50 percent" must not open it 50 %.
        """
        k = len(self.intents)
        itag = tags.intent_probs.argmax(-1)
        # family probability per intent: p(B-x) + p(I-x)
        fam = tags.intent_probs[:, 1::2] + tags.intent_probs[:, 2::2] if k else np.zeros((len(itag), 0))
        segments: list[list[int]] = []
        seg_intent: list[int] = []
        prev_o = True
        for w, t in enumerate(itag):
            if t == 0:
                prev_o = True
                continue
            x = (t - 1) // 2
            begin = (t - 1) % 2 == 0
            if begin or not segments or (prev_o and seg_intent[-1] != x):
                segments.append([w])
                seg_intent.append(x)
            else:
                segments[-1].append(w)
            prev_o = False
        slot_spans = self._slot_spans(tags)
        commands = []
        refused: list[Refusal] = []
        for si, seg in enumerate(segments):
            votes = fam[seg].sum(0)
            x = int(votes.argmax())
            conf = float(fam[seg, x].mean())
            if conf < self.threshold:
                continue
            intent = self.intents[x]
            lo, hi = seg[0], seg[-1]
            nxt = segments[si + 1][0] if si + 1 < len(segments) else len(itag)
            prv = segments[si - 1][-1] if si > 0 else -1
            slots: dict[str, SlotValue] = {}
            refusal: Refusal | None = None
            for name, a, b in slot_spans:
                # a slot belongs to the command whose words surround it; stray ones to the nearest before
                if not (lo <= a <= hi or (hi < a < nxt) or (prv < a < lo and si == 0)):
                    continue
                if name in slots or name not in SLOT_SPECS.get(intent, {}):
                    continue
                if SLOT_SPECS[intent][name].kind != "enum" and self.number_in is not None:
                    number = self.number_in(text, tags.spans[a][0], tags.spans[b][1])
                    if number is not None:
                        why = SLOT_SPECS[intent][name].why_not(number)
                        if why is None:
                            slots[name] = number
                            continue
                        if why != "kind":
                            refusal = Refusal(intent, name, number, why)
                            break
                span_text = text[tags.spans[a][0] : tags.spans[b][1]]
                value = self.slot_value(intent, name, span_text)
                if value is None:
                    # a span cut one word short ("too" of "too quiet"): the normaliser on a word more
                    n = len(tags.spans) - 1
                    for lo_w, hi_w in (
                        (a, min(b + 1, n)),
                        (max(a - 1, 0), b),
                        (max(a - 1, 0), min(b + 1, n)),
                    ):
                        if (lo_w, hi_w) != (a, b):
                            wider = text[tags.spans[lo_w][0] : tags.spans[hi_w][1]]
                            value = self._normalised(intent, name, wider)
                            if value is not None:
                                break
                if value is not None:
                    slots[name] = value
            if refusal is not None:
                refused.append(refusal)
                continue
            # values the wording implies without a span ("skip this song": action next), or whose span
            # the normaliser could not read: the value head's mean over the command's words
            if self.values:
                mean = tags.value_probs[seg].mean(0)
                specs = SLOT_SPECS.get(intent, {})
                for j in np.argsort(-mean):
                    name, value = self.values[j]
                    if name not in specs or name in slots or not specs[name].accepts(value):
                        continue
                    # a required slot takes the head's best guess sooner than dropping the command
                    if mean[j] >= 0.5 or (specs[name].required and mean[j] >= 0.15):
                        slots[name] = value
            commands.append(Command(intent=intent, slots=slots, confidence=conf))
        return commands, refused

    def _slot_spans(self, tags: WordTags) -> list[tuple[str, int, int]]:
        stag = tags.slot_probs.argmax(-1)
        spans: list[tuple[str, int, int]] = []
        for w, t in enumerate(stag):
            if t == 0:
                continue
            j = (t - 1) // 2
            name = self.slots[j]
            inside = (t - 1) % 2 == 1
            if inside and spans and spans[-1][0] == name and spans[-1][2] == w - 1:
                spans[-1] = (name, spans[-1][1], w)
            else:
                spans.append((name, w, w))
        return spans

    def _normalised(self, intent: str, slot: str, span_text: str) -> SlotValue | None:
        if self.normalize_slot is None:
            return None
        try:
            value = self.normalize_slot(intent, slot, span_text)
        except Exception:  # the normaliser may refuse a span the model made up
            return None
        return value if value is not None and SLOT_SPECS[intent][slot].accepts(value) else None

    def slot_value(self, intent: str, slot: str, span_text: str) -> SlotValue | None:
        """A span's catalog value: the template engine's normaliser, the learnt lexicon, a number."""
        spec = SLOT_SPECS[intent][slot]
        value = self._normalised(intent, slot, span_text)
        if value is not None:
            return value
        key = lexicon_key(span_text)
        for scope in (f"{intent}.{slot}", slot):
            value = self.lexicon.get(scope, {}).get(key)
            if value is not None and spec.accepts(value):
                return value
        if spec.kind != "enum" and self.parse_number is not None:
            try:
                number = self.parse_number(span_text)
            except Exception:
                number = None
            if number is not None and spec.accepts(number):
                return number
        return None


def lexicon_key(span_text: str) -> str:
    """Span text as the lexicon stores it: lower case, words only."""
    return " ".join(re.findall(r"[\w']+|\.", span_text.lower()))
