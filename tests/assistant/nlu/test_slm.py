"""The shipped SLM: it loads from models/slm, parses, refuses a wrong or broken model, never crashes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.catalog import problems
from assistant.errors import ModelMismatchError, ModelNotFoundError
from assistant.nlu.slm import MODEL_DIR, SlmParser

# The floor the shipped model must keep on its own held-out split (it measured higher; see models/README.md).
HELDOUT_FRAME_FLOOR = 0.85
HELDOUT_INTENT_FLOOR = 0.90


@pytest.fixture(scope="module")
def slm() -> SlmParser:
    return SlmParser()


def _copy_model(tmp_path: Path) -> Path:
    dst = tmp_path / "slm"
    shutil.copytree(MODEL_DIR, dst)
    return dst


def _expected(column: str) -> list[tuple[str, dict[str, object]]]:
    if column.strip() == "-":
        return []
    out = []
    for part in column.split(";"):
        intent, _, rest = part.strip().partition("{")
        slots: dict[str, object] = {}
        for kv in filter(None, rest.rstrip("}").split(",")):
            k, v = kv.split("=")
            try:
                slots[k] = float(v) if "." in v else int(v)
            except ValueError:
                slots[k] = v
        if intent in ("doors.lock", "doors.unlock") and slots.get("door") == "all":
            slots.pop("door")
        out.append((intent, slots))
    return out


def _got(parse) -> list[tuple[str, dict[str, object]]]:  # type: ignore[no-untyped-def]
    out = []
    for c in parse.commands:
        slots = dict(c.slots)
        if c.intent in ("doors.lock", "doors.unlock") and slots.get("door") == "all":
            slots.pop("door")
        out.append((c.intent, slots))
    return out


def test_parses_two_commands_in_spoken_order(slm: SlmParser) -> None:
    got = slm.parse("open the driver window and turn on the ac")
    assert [c.intent for c in got.commands] == ["window.open", "climate.ac"]
    assert got.commands[1].slots == {"state": "on"}
    assert all(0.0 <= c.confidence <= 1.0 for c in got.commands)


@pytest.mark.parametrize(
    "text, action",
    [("next song", "next"), ("next please", "next"), ("previous", "previous"), ("play", "play")],
)
def test_a_bare_media_word_is_a_media_command(slm: SlmParser, text: str, action: str) -> None:
    # issue 10: "next" alone is still read out-of-scope by the shipped model (the retrain that fixed it
    # asked back "turn on the foglights", the default drive's request, and was not shipped)
    got = slm.parse(text)
    assert [(c.intent, dict(c.slots)) for c in got.commands] == [("media.control", {"action": action})]


def test_small_talk_gives_no_command(slm: SlmParser) -> None:
    assert slm.parse("what's the capital of australia").commands == ()


def test_accuracy_floor_on_heldout_split(slm: SlmParser) -> None:
    rows = []
    for line in (MODEL_DIR / "heldout.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            text, column = line.split("\t")
            rows.append((text, _expected(column)))
    assert len(rows) > 200
    frame = intent = 0
    for text, want in rows:
        got = _got(slm.parse(text))
        intent += [i for i, _ in got] == [i for i, _ in want]
        frame += got == want
    assert frame / len(rows) >= HELDOUT_FRAME_FLOOR
    assert intent / len(rows) >= HELDOUT_INTENT_FLOOR


def test_manifest_records_what_reproduces_the_model() -> None:
    manifest = json.loads((MODEL_DIR / "manifest.json").read_text())
    assert manifest["training"]["command"].startswith("car-assistant train")
    assert isinstance(manifest["training"]["seed"], int)
    assert set(manifest["files"]) == {"model.onnx", "tokenizer.json", "labels.json"}
    total = sum(p.stat().st_size for p in MODEL_DIR.iterdir())
    assert total <= 10_000_000


def test_model_trained_on_other_intents_is_refused(tmp_path: Path) -> None:
    model = _copy_model(tmp_path)
    manifest = json.loads((model / "manifest.json").read_text())
    manifest["intents_hash"] = "0" * 64
    (model / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelMismatchError, match="car-assistant train.*--nlu templates"):
        SlmParser(model)


def test_missing_model_names_the_restoring_command(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="git checkout models/slm.*car-assistant train"):
        SlmParser(tmp_path / "nowhere")
    model = _copy_model(tmp_path)
    (model / "model.onnx").unlink()
    with pytest.raises(ModelNotFoundError, match="model.onnx is missing"):
        SlmParser(model)


def test_corrupt_model_file_is_detected(tmp_path: Path) -> None:
    model = _copy_model(tmp_path)
    data = bytearray((model / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (model / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelNotFoundError, match="corrupt"):
        SlmParser(model)


def test_corrupt_manifest_is_a_missing_model(tmp_path: Path) -> None:
    model = _copy_model(tmp_path)
    (model / "manifest.json").write_text("{not json")
    with pytest.raises(ModelNotFoundError):
        SlmParser(model)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "1234567",
        "3.14",
        "🚗🔥",
        "ñandú über straße",
        "的 車",
        "\u200b\u200b",
        "!!!",
        "and and and",
        "open the window " * 25,
        "x" * 400,
        "open " + "supercalifragilistic" * 20 + " window",
    ],
)
def test_odd_input_never_crashes_nor_leaves_the_catalog(slm: SlmParser, text: str) -> None:
    for c in slm.parse(text).commands:
        assert not problems(c.intent, c.slots)


def test_text_beyond_the_model_length_is_read_in_chunks(slm: SlmParser) -> None:
    text = " and ".join(["open the trunk"] + ["please um okay so well"] * 12 + ["lock the doors"])
    got = [c.intent for c in slm.parse(text).commands]
    assert got[0] == "trunk.open" and got[-1] == "doors.lock"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_random_text_yields_only_catalog_commands(slm: SlmParser, text: str) -> None:
    for c in slm.parse(text).commands:
        assert not problems(c.intent, c.slots)
        assert 0.0 <= c.confidence <= 1.0


def test_runtime_needs_no_torch() -> None:
    code = (
        "import sys; from assistant.nlu.slm import SlmParser; p = SlmParser(); p.parse('volume up'); "
        "bad = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]; "
        "sys.exit(', '.join(bad) or None)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[3])
