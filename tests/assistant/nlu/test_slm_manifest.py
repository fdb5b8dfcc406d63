"""The language model's manifest and the intents hash it records (issue 9, item 16)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from assistant.errors import IntentsError, ModelNotFoundError
from assistant.nlu.intents import INTENTS_DIR, canonical_json, intents_hash, template_files
from assistant.nlu.slm import MODEL_DIR, SlmParser


def _model_with(tmp_path: Path, edit: Any) -> Path:
    model = tmp_path / "slm"
    shutil.copytree(MODEL_DIR, model)
    manifest = json.loads((model / "manifest.json").read_text(encoding="utf-8"))
    edit(manifest)
    (model / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return model


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda m: m.pop("files"), "no 'files' object"),
        (lambda m: m["files"].pop("model.onnx"), "no entry for model.onnx under 'files'"),
        (lambda m: m["files"]["labels.json"].pop("sha256"), "no 'sha256' for labels.json"),
        (lambda m: m["files"]["tokenizer.json"].pop("size"), "no 'size' for tokenizer.json"),
        (lambda m: m["files"]["tokenizer.json"].update(size="86185"), "no 'size' for tokenizer.json"),
        (lambda m: m.pop("intents_hash"), "no 'intents_hash'"),
    ],
)
def test_a_manifest_missing_a_key_is_a_clear_error(tmp_path: Path, edit: Any, problem: str) -> None:
    model = _model_with(tmp_path, edit)
    with pytest.raises(ModelNotFoundError) as err:
        SlmParser(model)
    path = model / "manifest.json"
    assert str(err.value).startswith(f"the SLM manifest {path} is incomplete ({problem}); ")
    assert "git checkout models/slm" in str(err.value)


def test_a_manifest_that_is_not_an_object_is_a_clear_error(tmp_path: Path) -> None:
    model = tmp_path / "slm"
    shutil.copytree(MODEL_DIR, model)
    (model / "manifest.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ModelNotFoundError, match=r"is incomplete \(not a JSON object\)"):
        SlmParser(model)


def test_the_committed_manifest_records_the_hash_of_todays_intents() -> None:
    manifest = json.loads((MODEL_DIR / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["intents_hash"] == intents_hash()
    assert f"`{intents_hash()}`" in (MODEL_DIR.parent / "README.md").read_text(encoding="utf-8")


def test_training_records_the_same_hash() -> None:
    from workbench.training.run import _intents_hash

    assert _intents_hash() == intents_hash()


def test_the_hash_is_over_parsed_content(tmp_path: Path) -> None:
    intents = tmp_path / "intents"
    shutil.copytree(INTENTS_DIR, intents)
    before = intents_hash(intents)
    manifest = json.loads((MODEL_DIR / "manifest.json").read_text(encoding="utf-8"))
    assert before == manifest["intents_hash"]
    for path in template_files(intents):  # a comment on every file and a reflowed one
        path.write_text("# reviewed\n" + path.read_text(encoding="utf-8") + "\n# end\n", encoding="utf-8")
    first = template_files(intents)[0]
    first.write_text(yaml.safe_dump(yaml.safe_load(first.read_text()), default_flow_style=True))
    assert intents_hash(intents) == before  # so the language model still loads
    data = yaml.safe_load(first.read_text())
    data.setdefault("skip_words", []).append("kindly")
    first.write_text(yaml.safe_dump(data))
    assert intents_hash(intents) != before


def test_hash_definition(tmp_path: Path) -> None:
    import hashlib

    (tmp_path / "b.yaml").write_text("lists: {}\n", encoding="utf-8")
    (tmp_path / "a.yaml").write_text("skip_words: [please, 'kindly']\n", encoding="utf-8")
    (tmp_path / "replies.yaml").write_text("anything", encoding="utf-8")
    want = hashlib.sha256(b'a.yaml\0{"skip_words":["please","kindly"]}\0b.yaml\0{"lists":{}}\0').hexdigest()
    assert intents_hash(tmp_path) == want
    assert canonical_json({2: "x", "a": [1, {"b": None}]}) == '{"2":"x","a":[1,{"b":null}]}'


def test_broken_yaml_in_intents_names_file_and_line_not_retrain(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text("skip_words: [please]\n", encoding="utf-8")
    (tmp_path / "broken.yaml").write_text(
        'intents:\n  window.close:\n    data:\n      - sentences: ["close {window}"\n  oops: [\n',
        encoding="utf-8",
    )
    with pytest.raises(IntentsError, match=r"^broken\.yaml:[4-6]: .*; fix the YAML there$") as err:
        intents_hash(tmp_path)
    assert "retrain" not in str(err.value)
