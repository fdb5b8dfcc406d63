"""ONNX export (opset 17), int8 dynamic quantisation, and the way back for incremental training.

Initializers are renamed to the torch parameter names they hold ("layers.0.query.weight",
with a ".T" suffix where the exporter stored the transpose), so the shipped int8
model can be turned back into a float student to retrain from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from workbench.training.model import Tagger, TaggerConfig

OPSET = 17


def export_onnx(model: Tagger, path: Path) -> None:
    model.eval()
    ids = torch.ones(2, 9, dtype=torch.long)
    mask = torch.ones(2, 9, dtype=torch.long)
    torch.onnx.export(
        model,
        (ids, mask),
        str(path),
        dynamo=False,
        opset_version=OPSET,
        input_names=["input_ids", "attention_mask"],
        output_names=["intent_logits", "slot_logits", "value_logits"],
        dynamic_axes={
            "input_ids": {0: "batch", 1: "tokens"},
            "attention_mask": {0: "batch", 1: "tokens"},
            "intent_logits": {0: "batch", 1: "tokens"},
            "slot_logits": {0: "batch", 1: "tokens"},
            "value_logits": {0: "batch", 1: "tokens"},
        },
    )
    _name_initializers(model, path)


def _name_initializers(model: Tagger, path: Path) -> None:
    """Give each weight initializer the name of the parameter it came from."""
    m = onnx.load(str(path))
    params = {n: p.detach().numpy() for n, p in model.named_parameters()}
    renames: dict[str, str] = {}
    taken = {i.name for i in m.graph.initializer}
    for init in m.graph.initializer:
        if init.name in params:
            continue
        arr = numpy_helper.to_array(init)
        for name, p in params.items():
            for cand, suffix in ((p, ""), (p.T, ".T")):
                if cand.shape == arr.shape and np.array_equal(cand, arr) and name + suffix not in taken:
                    renames[init.name] = name + suffix
                    taken.add(name + suffix)
                    break
            if init.name in renames:
                break
    for init in m.graph.initializer:
        if init.name in renames:
            init.name = renames[init.name]
    for node in m.graph.node:
        for i, x in enumerate(node.input):
            if x in renames:
                node.input[i] = renames[x]
    onnx.save(m, str(path))


def quantize_int8(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(src), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gather"]
    )


def tagger_from_onnx(path: Path, cfg: TaggerConfig) -> Tagger:
    """A float Tagger from an (int8) export: weights dequantised, names as written by export_onnx."""
    m = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    model = Tagger(cfg)
    state = model.state_dict()
    for name in state:
        for stored, transpose in ((name, False), (name + ".T", True)):
            if stored in inits:
                arr = inits[stored].astype(np.float32)
            elif stored + "_quantized" in inits:
                q = inits[stored + "_quantized"].astype(np.float32)
                arr = (q - inits[stored + "_zero_point"].astype(np.float32)) * inits[stored + "_scale"]
            else:
                continue
            state[name] = torch.from_numpy(np.ascontiguousarray(arr.T if transpose else arr))
            break
        else:
            raise ValueError(f"{path} has no weights for {name}; retrain with `car-assistant train`")
    model.load_state_dict(state)
    return model
