"""The shipped data (intents/, models/slm) is found through the package; nlu.intents_dir / nlu.model_dir
override it (issue 11, item 2). The wheel itself is tested in tests/test_install.py."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from assistant.config import NluSettings, Settings, load_settings
from assistant.errors import IntentsError, ModelMismatchError, ModelNotFoundError
from assistant.nlu.intents import INTENTS_DIR
from assistant.nlu.slm import MODEL_DIR
from assistant.package_data import data_path
from assistant.runtime import open_parser

REPO = Path(__file__).resolve().parents[2]


def _nlu(**values: str) -> Settings:
    return dataclasses.replace(Settings(), nlu=NluSettings(**values))


def _intents_with_rule(tmp_path: Path) -> Path:
    """A copy of intents/ where 'batten down the hatches' closes every window."""
    intents = tmp_path / "intents"
    shutil.copytree(INTENTS_DIR, intents)
    (intents / "hatches.yaml").write_text(
        "intents:\n  window.close:\n    data:\n      - sentences: ['batten down the hatches']\n"
        "        slots: {window: all}\n",
        encoding="utf-8",
    )
    return intents


def test_in_a_checkout_the_shipped_data_is_the_top_level_folders() -> None:
    # people edit intents/ and models/ at the top of the repo; the package reads those same files
    assert data_path("intents") == REPO / "intents" == INTENTS_DIR
    assert data_path("models", "slm") == REPO / "models" / "slm" == MODEL_DIR
    assert (MODEL_DIR / "manifest.json").is_file() and (INTENTS_DIR / "replies.yaml").is_file()


def test_intents_dir_setting_gives_the_template_engine_other_templates(tmp_path: Path) -> None:
    said = "batten down the hatches"
    assert open_parser(_nlu(engine="templates")).parse(said).commands == ()
    parse = open_parser(_nlu(engine="templates", intents_dir=str(_intents_with_rule(tmp_path)))).parse(said)
    assert [(c.intent, dict(c.slots)) for c in parse.commands] == [("window.close", {"window": "all"})]


def test_intents_dir_setting_is_what_the_slm_must_have_been_trained_on(tmp_path: Path) -> None:
    intents = _intents_with_rule(tmp_path)
    with pytest.raises(ModelMismatchError, match=f"other intents than those in {intents} "):
        open_parser(_nlu(engine="slm", intents_dir=str(intents)))


def test_model_dir_setting_loads_the_model_there(tmp_path: Path) -> None:
    model = tmp_path / "my-slm"
    shutil.copytree(MODEL_DIR, model)
    parser = open_parser(_nlu(engine="slm", model_dir=str(model)))
    assert parser.model_dir == model  # type: ignore[attr-defined]
    assert [c.intent for c in parser.parse("close the windows").commands] == ["window.close"]


def test_settings_from_the_environment_point_the_parser_elsewhere(tmp_path: Path) -> None:
    settings, _ = load_settings(
        environ={"CAR_ASSISTANT_NLU_MODEL_DIR": str(tmp_path / "none"), "CAR_ASSISTANT_NLU_INTENTS_DIR": "x"}
    )
    assert settings.nlu.model_dir == str(tmp_path / "none") and settings.nlu.intents_dir == "x"
    with pytest.raises(ModelNotFoundError, match=f"no SLM manifest at {tmp_path / 'none'}"):
        open_parser(settings)


def test_an_intents_dir_without_templates_says_what_to_point_it_at(tmp_path: Path) -> None:
    with pytest.raises(IntentsError, match=f"{tmp_path}: no template files .* point nlu.intents_dir at"):
        open_parser(_nlu(engine="templates", intents_dir=str(tmp_path)))
