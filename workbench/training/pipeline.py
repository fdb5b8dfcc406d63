"""Fine-tune the teacher, compress and heal the student, quantise, ship: one seeded run.

Steps (each measured on the held-out split and the dev set for the model card):
teacher (MiniLM-L6 fine-tuned) -> student initialised from it (pruned
vocabulary, fewer layers, low-rank embedding) -> student healed by distillation
-> ONNX fp32 -> ONNX int8 (dynamic quantisation), calibrated and shipped.
"""

from __future__ import annotations

import copy
import json
import math
import random
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer
from torch import nn

from assistant.catalog import SLOT_SPECS
from assistant.nlu.slm import SlmParser, lexicon_key
from workbench.training.data import Example, word_labels, words_of
from workbench.training.model import Tagger

REPO = Path(__file__).resolve().parents[2]
SLOT_NAMES = sorted({name for specs in SLOT_SPECS.values() for name in specs})


@dataclass
class Config:
    seed: int = 13
    per_intent: int = 160
    hassil_per_intent: int = 150
    joins: int = 3000
    teacher_epochs: float = 2.0
    teacher_lr: float = 2e-4
    student_layers: tuple[int, ...] = (0, 5)
    embedding_rank: int = 128
    frequent_tokens: int = 4000
    student_epochs: float = 3.0
    student_lr: float = 5e-4
    incremental_epochs: float = 1.0
    kd_alpha: float = 0.7
    kd_temperature: float = 2.0
    batch: int = 32
    max_tokens: int = 64
    threads: int = 1  # on a shared CPU one thread beats two: OpenMP spin-waits under contention
    teacher_layers: int = 6  # the tiny smoke config cuts the teacher too
    use_templates: bool = True
    use_asr: bool = True  # recogniser-in-the-loop transcripts (data/asr_transcripts.tsv)
    use_clinc: bool = True  # CLINC150 out-of-scope text from --data-dir (not in the repo)
    clinc_per_intent: int = 100
    clinc_wiki: int = 1500
    noise_strings: int = 4000  # letter strings that are no words, labelled out-of-scope
    big_numbers: int = 800  # requests with an out-of-range number, still the request (refused by value)
    tiny: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


TINY = dict(
    per_intent=12,
    hassil_per_intent=10,
    joins=150,
    teacher_epochs=0.5,
    student_epochs=1.0,
    student_layers=(0,),
    teacher_layers=2,
    frequent_tokens=500,
    embedding_rank=32,
    use_clinc=False,  # CI has no shared data folder
    noise_strings=60,
    tiny=True,
)


# ---- tensors ----------------------------------------------------------------------------

Soft = tuple[np.ndarray, np.ndarray, np.ndarray]  # a teacher's word logits per head


@dataclass
class Encoded:
    ids: list[int]
    firsts: list[int]  # token index of each word's first piece
    itags: list[int]
    stags: list[int]
    vtags: list[list[int]]

    def cut(self, n: int) -> Encoded:
        return Encoded(self.ids, self.firsts[:n], self.itags[:n], self.stags[:n], self.vtags[:n])


def encode(
    tok: Tokenizer, examples: Sequence[Example], intents: list[str], values: list[str], max_tokens: int
) -> list[Encoded]:
    out = []
    for ex in examples:
        enc = tok.encode(ex.text)
        words = words_of(enc)
        words = [w for w in words if w[0] < max_tokens - 1]
        itags, stags, vtags = word_labels(ex, words, intents, SLOT_NAMES, values)
        ids = enc.ids[: max_tokens - 1] + ([enc.ids[-1]] if len(enc.ids) >= max_tokens else [])
        out.append(Encoded(ids, [w[0] for w in words], itags, stags, vtags))
    return out


def collate(
    items: Sequence[Encoded], n_i: int, n_s: int, n_v: int, soft: Sequence[Soft] | None = None
) -> dict[str, torch.Tensor]:
    t = max(len(e.ids) for e in items)
    b = len(items)
    ids = torch.zeros(b, t, dtype=torch.long)
    mask = torch.zeros(b, t, dtype=torch.long)
    il = torch.full((b, t), -100, dtype=torch.long)
    sl = torch.full((b, t), -100, dtype=torch.long)
    vl = torch.zeros(b, t, n_v)
    out = {
        "input_ids": ids,
        "attention_mask": mask,
        "intent_labels": il,
        "slot_labels": sl,
        "value_labels": vl,
    }
    if soft is not None:
        ti, ts, tv = torch.zeros(b, t, n_i), torch.zeros(b, t, n_s), torch.zeros(b, t, n_v)
        out["teacher_intent"], out["teacher_slot"], out["teacher_value"] = ti, ts, tv
    for r, e in enumerate(items):
        ids[r, : len(e.ids)] = torch.tensor(e.ids)
        mask[r, : len(e.ids)] = 1
        if e.firsts:
            pos = torch.tensor(e.firsts)
            il[r, pos] = torch.tensor(e.itags)
            sl[r, pos] = torch.tensor(e.stags)
            for p, vt in zip(e.firsts, e.vtags, strict=False):
                if vt:
                    vl[r, p, vt] = 1.0
            if soft is not None:
                ti[r, pos] = torch.from_numpy(soft[r][0])
                ts[r, pos] = torch.from_numpy(soft[r][1])
                tv[r, pos] = torch.from_numpy(soft[r][2])
    return out


def batches(n: int, size: int, rng: random.Random, lengths: Sequence[int]) -> list[list[int]]:
    """Length-bucketed shuffled batches: little padding, random order."""
    order = list(range(n))
    rng.shuffle(order)
    chunks = [sorted(order[i : i + size * 20], key=lambda j: lengths[j]) for i in range(0, n, size * 20)]
    out = [c[i : i + size] for c in chunks for i in range(0, len(c), size)]
    rng.shuffle(out)
    return out


def train(
    model: Tagger,
    data: list[Encoded],
    epochs: float,
    lr: float,
    batch: int,
    seed: int,
    log: Any,
    soft: list[Soft] | None = None,
    alpha: float = 0.0,
    kd_t: float = 2.0,
    label: str = "",
) -> float:
    """AdamW with warm-up and linear decay; hard labels, plus KL to the teacher when ``soft`` is given."""
    rng = random.Random(seed)
    n_i, n_s, n_v = model.cfg.n_intent_tags, model.cfg.n_slot_tags, model.cfg.n_values
    lengths = [len(e.ids) for e in data]
    plan: list[list[int]] = []
    while len(plan) < epochs * math.ceil(len(data) / batch):
        plan.extend(batches(len(data), batch, rng, lengths))
    plan = plan[: max(1, int(epochs * math.ceil(len(data) / batch)))]
    heads = [p for n, p in model.named_parameters() if p.requires_grad and "_head." in n]
    body = [p for n, p in model.named_parameters() if p.requires_grad and "_head." not in n]
    opt = torch.optim.AdamW([{"params": body, "lr": lr}, {"params": heads, "lr": lr * 5}], weight_decay=0.01)
    warm = max(1, len(plan) // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (len(plan) - s) / max(1, len(plan) - warm)))
    )
    ce = nn.CrossEntropyLoss(ignore_index=-100)
    bce = nn.BCEWithLogitsLoss(reduction="sum")
    model.train()
    t0 = time.time()
    running = 0.0
    for step, idx in enumerate(plan):
        b = collate(
            [data[i] for i in idx], n_i, n_s, n_v, [soft[i] for i in idx] if soft is not None else None
        )
        il, sl, vl = model(b["input_ids"], b["attention_mask"])
        m = b["intent_labels"] >= 0
        words = max(int(m.sum()), 1)
        loss = (
            ce(il.reshape(-1, n_i), b["intent_labels"].reshape(-1))
            + ce(sl.reshape(-1, n_s), b["slot_labels"].reshape(-1))
            + bce(vl[m], b["value_labels"][m]) / words
        )
        if soft is not None and alpha > 0:
            kd: Any = 0.0
            for logits, teacher in ((il, b["teacher_intent"]), (sl, b["teacher_slot"])):
                p_t = (teacher[m] / kd_t).softmax(-1)
                kd = kd + nn.functional.kl_div((logits[m] / kd_t).log_softmax(-1), p_t, reduction="batchmean")
            kd = kd * kd_t * kd_t + bce(vl[m], b["teacher_value"][m].sigmoid()) / words
            loss = (1 - alpha) * loss + alpha * kd
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        running = 0.95 * running + 0.05 * loss.item() if step else loss.item()
        if step % 25 == 0 or step == len(plan) - 1:
            log(f"  {label} step {step + 1}/{len(plan)} loss {running:.3f} {time.time() - t0:.0f}s")
    model.eval()
    return time.time() - t0


@torch.no_grad()
def word_logits(model: Tagger, data: list[Encoded], batch: int = 64) -> list[Soft]:
    """The model's logits at each word's first token, per example (the distillation targets)."""
    model.eval()
    out: list[Soft | None] = [None] * len(data)
    n_i, n_s, n_v = model.cfg.n_intent_tags, model.cfg.n_slot_tags, model.cfg.n_values
    order = sorted(range(len(data)), key=lambda j: len(data[j].ids))  # little padding
    for i in range(0, len(order), batch):
        idx = order[i : i + batch]
        items = [data[j] for j in idx]
        b = collate(items, n_i, n_s, n_v)
        il, sl, vl = model(b["input_ids"], b["attention_mask"])
        for r, (j, e) in enumerate(zip(idx, items, strict=False)):
            out[j] = (
                il[r, e.firsts].numpy().copy(),
                sl[r, e.firsts].numpy().copy(),
                vl[r, e.firsts].numpy().copy(),
            )
    return out  # type: ignore[return-value]


# ---- evaluation through the runtime decoder --------------------------------------------------


class TorchSession:
    """Quacks like an onnxruntime session so a torch model is scored by the runtime's own decoder."""

    def __init__(self, model: Tagger) -> None:
        self.model = model.eval()

    def run(self, _outputs: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        with torch.no_grad():
            out = self.model(torch.from_numpy(feeds["input_ids"]), torch.from_numpy(feeds["attention_mask"]))
        return [o.numpy() for o in out]


def runtime_parser(session: Any, tokenizer: Tokenizer, labels: dict[str, Any]) -> SlmParser:
    parser = SlmParser.__new__(SlmParser)
    parser.model_dir = REPO / "models" / "slm"
    parser.manifest = {}
    parser.session = session
    parser.tokenizer = tokenizer
    parser.configure(labels)
    return parser


def _norm(intent: str, slots: dict[str, Any]) -> dict[str, Any]:
    slots = dict(slots)
    if intent in ("doors.lock", "doors.unlock") and slots.get("door") == "all":
        slots.pop("door")
    return {
        k: (round(float(v), 6) if isinstance(v, (int, float)) else str(v).lower()) for k, v in slots.items()
    }


def score(
    parser: SlmParser, rows: list[tuple[str, list[dict[str, Any]]]], misses: list[str] | None = None
) -> dict[str, float]:
    """The same scoring as eval/score_text.py: frame and intent accuracy, out-of-scope rejection."""
    frame = intent = oos = oos_ok = 0
    for text, exp in rows:
        got = [c.to_json() for c in parser.parse(text).commands]
        i_ok = [c["intent"] for c in exp] == [c["intent"] for c in got]
        f_ok = i_ok and all(
            _norm(e["intent"], e["slots"]) == _norm(e["intent"], g["slots"])
            for e, g in zip(exp, got, strict=False)
        )
        intent += i_ok
        frame += f_ok
        if not exp:
            oos += 1
            oos_ok += i_ok
        if not f_ok and misses is not None:
            misses.append(
                f"{text} | want {[(c['intent'], c['slots']) for c in exp]} | "
                f"got {[(c['intent'], c['slots']) for c in got]}"
            )
    n = max(len(rows), 1)
    return {
        "frame_acc": frame / n,
        "intent_acc": intent / n,
        "oos_rejected": oos_ok,
        "oos_total": oos,
        "n": len(rows),
    }


def latency_ms(parser: SlmParser, texts: Sequence[str], repeat: int = 1) -> float:
    times = []
    for _ in range(repeat):
        for t in texts:
            t0 = time.perf_counter()
            parser.parse(t)
            times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


# ---- calibration -------------------------------------------------------------------------


def fit_temperature(parser: SlmParser, examples: Sequence[Example], intents: list[str]) -> float:
    """The intent-head temperature that minimises word-level NLL on the held-out split."""
    logits, gold = [], []
    saved = parser.temperature
    parser.temperature = 1.0
    for ex in examples:
        text = " ".join(ex.text.split())
        if not text:
            continue
        tags = parser.tag(text)
        enc = parser.tokenizer.encode(text, add_special_tokens=False)
        words = words_of(enc)
        if len(words) != len(tags.spans):
            continue
        shifted = Example(text, ex.frames)
        itags, _, _ = word_labels(shifted, words, intents, SLOT_NAMES)
        logits.append(np.log(np.clip(tags.intent_probs, 1e-12, 1)))
        gold.extend(itags)
    parser.temperature = saved
    if not logits:
        return 1.0
    lg = np.concatenate(logits)
    y = np.array(gold)
    best = (math.inf, 1.0)
    for t in np.arange(0.5, 4.01, 0.1):
        z = lg / t
        z = z - z.max(-1, keepdims=True)
        nll = -(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(-1))).mean()
        best = min(best, (float(nll), float(round(t, 2))))
    return best[1]


def build_lexicon(examples: Sequence[Example]) -> dict[str, dict[str, Any]]:
    """Span text -> value where the training data always agrees ('freezing' -> direction up)."""
    seen: dict[str, dict[str, Counter[Any]]] = defaultdict(lambda: defaultdict(Counter))
    for ex in examples:
        for f in ex.frames:
            for s in f.slots:
                key = lexicon_key(ex.text[s.start : s.end])
                if key:
                    seen[f"{f.intent}.{s.name}"][key][json.dumps(s.value)] += 1
                    seen[s.name][key][json.dumps(s.value)] += 1
    out: dict[str, dict[str, Any]] = {}
    for scope, spans in sorted(seen.items()):
        for key, values in sorted(spans.items()):
            value, n = values.most_common(1)[0]
            if n >= 0.9 * sum(values.values()):
                out.setdefault(scope, {})[key] = json.loads(value)
    return out


# ---- vocabulary pruning ----------------------------------------------------------------------


def keep_vocabulary(full: Tokenizer, texts: Sequence[str], frequent: int) -> list[int]:
    """Teacher ids the student keeps: specials, single characters, the most frequent English
    word pieces (BERT's vocabulary is in frequency order from 'the' on) and every piece the
    training text uses; sorted, so new id = position."""
    vocab = full.get_vocab()
    keep = {vocab[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")}
    first_word = vocab["the"]
    for tok, i in vocab.items():
        bare = tok[2:] if tok.startswith("##") else tok
        if len(bare) == 1 and i < first_word + 200000:
            keep.add(i)
        if first_word <= i < first_word + frequent:
            keep.add(i)
    for enc in full.encode_batch(list(texts)):
        keep.update(enc.ids)
    return sorted(keep)


def pruned_tokenizer(full_json: dict[str, Any], full: Tokenizer, keep_ids: list[int]) -> Tokenizer:
    j = copy.deepcopy(full_json)
    inv = {i: t for t, i in full.get_vocab().items()}
    vocab = {inv[old]: new for new, old in enumerate(keep_ids)}
    j["model"]["vocab"] = vocab
    j["truncation"] = None
    j["padding"] = None
    j["added_tokens"] = [dict(a, id=vocab[a["content"]]) for a in j["added_tokens"] if a["content"] in vocab]
    for st in j["post_processor"]["special_tokens"].values():
        st["ids"] = [vocab[t] for t in st["tokens"]]
    return Tokenizer.from_str(json.dumps(j))
