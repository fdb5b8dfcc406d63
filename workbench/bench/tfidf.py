"""The classic peer: TF-IDF + logistic regression, trained on the SLM's own generated data.

Fair setup: the same ``build_corpus`` examples the SLM trained on, the same
intents, the template engine's conjunction splitting for several commands in
one breath, and slots through the same normaliser the SLM uses
(``assistant.nlu.normalize.normalize_slot``).

- intent: one multinomial logistic regression (C=10) over word 1-2 gram and
  character 2-5 gram TF-IDF (sublinear tf) of a command's words, with an extra
  ``(none)`` class learnt from the out-of-scope sentences;
- slot spans: a gazetteer of every span the training data marks for the
  intent's slot (then for that slot in any intent), read by ``normalize_slot``
  first and by the span's majority value second; longest span first, a value
  the normaliser reads before one only the gazetteer knows; then the
  normaliser on short unmatched word runs made of the slot's words; spoken
  numbers for the intent's numeric slot;
- values the wording implies without a span ("I'm cold": direction up): one
  logistic regression per implied value, used as the SLM uses its value head.

At parse time the features and probabilities are computed from the fitted
vocabularies and weights directly (the same arithmetic as ``transform`` and
``predict_proba``): scikit-learn's per-call input validation costs more than
the model, and a deployed classic model would not pay it either.

Needs scikit-learn (the ``bench`` extra).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from assistant.catalog import SLOT_SPECS, SlotValue
from assistant.nlu.base import Command, Parse, Parser, check_text, keep_valid
from assistant.nlu.normalize import normalize_slot
from assistant.nlu.numbers import parse_number
from assistant.nlu.templates import _SEP_RE  # the template engine's own conjunction splitter

NONE = "(none)"
MAX_SPAN_WORDS = 5
MAX_FALLBACK_WORDS = 3
_NUM = (
    r"zero|oh|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|"
    r"\d+(?:\.\d+)?"
)
_NUMBER_RUN = re.compile(rf"\b(?:{_NUM})(?:[ -](?:(?:and|point|a) )?(?:{_NUM}))*\b")


def key(text: str) -> str:
    """Lower-case words, as the gazetteer and the features see them."""
    return " ".join(re.findall(r"[\w']+|\.", text.lower()))


def pieces(text: str) -> list[str]:
    """The utterance cut at conjunctions and commas, as the template engine cuts it."""
    parts = _SEP_RE.split(text)
    return [p.strip(" ,") for k, p in enumerate(parts) if k % 2 == 0 and p.strip(" ,")]


class _Tfidf:
    """A fitted TfidfVectorizer's transform of one text, without the per-call validation."""

    def __init__(self, vectorizer: Any, offset: int) -> None:
        self.analyze = vectorizer.build_analyzer()
        self.vocab: dict[str, int] = vectorizer.vocabulary_
        self.idf = vectorizer.idf_
        self.offset = offset

    def add(self, text: str, out: dict[int, float]) -> None:
        counts = Counter(t for t in self.analyze(text) if t in self.vocab)
        row = {self.vocab[t]: (1.0 + math.log(c)) * self.idf[self.vocab[t]] for t, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in row.values())) or 1.0
        for j, v in row.items():
            out[self.offset + j] = v / norm


class TfidfParser(Parser):
    """TF-IDF + logistic regression intents, gazetteer + normaliser slots."""

    name = "tfidf"

    def __init__(self, train: Sequence[Any], seed: int = 13) -> None:
        """``train``: workbench.training.data.Example list (the SLM's training split)."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion

        texts: list[str] = []
        intents: list[str] = []
        implied: list[set[str]] = []
        gazetteer: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
        for ex in train:
            if not ex.frames:
                texts.append(ex.text)
                intents.append(NONE)
                implied.append(set())
                continue
            for f in ex.frames:
                texts.append(ex.text[f.start : f.end])
                intents.append(f.intent)
                implied.append({f"{s.name}={s.value}" for s in f.slots if s.implied})
                for s in f.slots:
                    if not s.implied and s.end > s.start:
                        span = key(ex.text[s.start : s.end])
                        gazetteer[f"{f.intent}.{s.name}"][span][repr(s.value)] += 1
                        gazetteer[s.name][span][repr(s.value)] += 1
        words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=3)
        union = FeatureUnion([("words", words), ("chars", chars)])
        x = union.fit_transform([key(t) for t in texts]).tocsr()
        self._features = [_Tfidf(words, 0), _Tfidf(chars, len(words.vocabulary_))]
        self.width = x.shape[1]
        model = LogisticRegression(C=10.0, max_iter=1000, random_state=seed)
        model.fit(x, intents)
        self.classes: list[str] = [str(c) for c in model.classes_]
        self.intent_w = model.coef_.T.copy()
        self.intent_b = model.intercept_.copy()
        self.gazetteer = {
            scope: {k: _value(v.most_common(1)[0][0]) for k, v in spans.items()}
            for scope, spans in gazetteer.items()
        }
        self.slot_words = {
            scope: {w for span in spans for w in span.split()} for scope, spans in self.gazetteer.items()
        }
        # implied values: one binary model each, on the commands of the intents that have that slot
        self.value_labels: list[tuple[str, SlotValue]] = []
        weights, biases = [], []
        for lab in sorted({v for vs in implied for v in vs}):
            slot, _, raw = lab.partition("=")
            rows = [i for i, it in enumerate(intents) if slot in SLOT_SPECS.get(it, {})]
            y = [lab in implied[i] for i in rows]
            if 0 < sum(y) < len(y):
                m = LogisticRegression(C=10.0, max_iter=1000, random_state=seed)
                m.fit(x[rows], y)
                self.value_labels.append((slot, _typed(raw)))
                weights.append(m.coef_[0])
                biases.append(m.intercept_[0])
        self.value_w = np.array(weights, dtype=np.float64).reshape(len(weights), self.width).T
        self.value_b = np.array(biases, dtype=np.float64)
        self.n_train = len(texts)

    def _vectors(self, texts: list[str]) -> Any:
        from scipy.sparse import csr_matrix

        data: list[float] = []
        cols: list[int] = []
        ptr = [0]
        for t in texts:
            row: dict[int, float] = {}
            for f in self._features:
                f.add(key(t), row)
            cols.extend(row)
            data.extend(row.values())
            ptr.append(len(cols))
        return csr_matrix((data, cols, ptr), shape=(len(texts), self.width))

    def parse(self, text: str) -> Parse:
        clean = check_text(text)
        parts = pieces(clean)
        if not parts:
            return Parse(text=text, commands=(), engine=self.name)
        x = self._vectors(parts)
        z = np.asarray(x @ self.intent_w) + self.intent_b
        probs = np.exp(z - z.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        value_probs = 1.0 / (1.0 + np.exp(-(np.asarray(x @ self.value_w) + self.value_b)))
        commands = []
        for r, piece in enumerate(parts):
            j = int(probs[r].argmax())
            intent = self.classes[j]
            if intent == NONE:
                continue
            slots = self._slots(intent, piece)
            specs = SLOT_SPECS.get(intent, {})
            for k in np.argsort(-value_probs[r]):
                name, value = self.value_labels[k]
                if name not in specs or name in slots or not specs[name].accepts(value):
                    continue
                p = float(value_probs[r, k])
                if p >= 0.5 or (specs[name].required and p >= 0.15):
                    slots[name] = value
            commands.append(Command(intent, slots, float(probs[r, j])))
        return Parse(text=text, commands=keep_valid(commands), engine=self.name)

    def _slots(self, intent: str, piece: str) -> dict[str, SlotValue]:
        specs = SLOT_SPECS.get(intent, {})
        words = key(piece).split()
        # candidates: (span length, read by the normaliser, position) -> best first
        found: list[tuple[int, int, int, str, SlotValue]] = []
        for n in range(min(MAX_SPAN_WORDS, len(words)), 0, -1):
            for i in range(len(words) - n + 1):
                span = " ".join(words[i : i + n])
                for name, spec in specs.items():
                    known = self.gazetteer.get(f"{intent}.{name}", {})
                    if span not in known and span not in self.gazetteer.get(name, {}):
                        continue
                    value = normalize_slot(intent, name, span)
                    by_normaliser = value is not None and spec.accepts(value)
                    if not by_normaliser:
                        value = known.get(span)
                    if value is not None and spec.accepts(value):
                        found.append((n, int(by_normaliser), -i, name, value))
        used = [False] * len(words)
        slots: dict[str, SlotValue] = {}
        for n, _, neg_i, name, value in sorted(found, key=lambda c: c[:3], reverse=True):
            i = -neg_i
            if name not in slots and not any(used[i : i + n]):
                slots[name] = value
                used[i : i + n] = [True] * n
        for name, spec in specs.items():
            if name in slots or spec.kind != "enum":
                continue
            vocab = self.slot_words.get(name, set())
            for n in range(min(MAX_FALLBACK_WORDS, len(words)), 0, -1):
                for i in range(len(words) - n + 1):
                    if name in slots or any(used[i : i + n]) or not all(w in vocab for w in words[i : i + n]):
                        continue
                    value = normalize_slot(intent, name, " ".join(words[i : i + n]))
                    if value is not None and spec.accepts(value):
                        slots[name] = value
                        used[i : i + n] = [True] * n
        numeric = [n for n, s in specs.items() if s.kind != "enum" and n not in slots]
        if numeric:
            free = " ".join(w if not u else "|" for w, u in zip(words, used, strict=False))
            for m in _NUMBER_RUN.finditer(free):
                number = parse_number(m.group(0))
                for name in numeric:
                    if number is not None and name not in slots and specs[name].accepts(number):
                        slots[name] = number
                        break
        return slots


def _typed(raw: str) -> SlotValue:
    for kind in (int, float):
        try:
            return kind(raw)  # type: ignore[no-any-return]
        except ValueError:
            pass
    return raw


def _value(r: str) -> SlotValue:
    """The value behind ``repr(value)`` of a str, int or float."""
    return r[1:-1] if r[:1] in ("'", '"') else _typed(r)
