from __future__ import annotations

from pathlib import Path

import pytest

from assistant.catalog import INTENTS
from assistant.errors import ConfigError, IntentsError
from assistant.nlu.intents import INTENTS_DIR, load_intents, template_files
from assistant.nlu.templates import TemplateParser

GOOD = """
language: en
intents:
  window.open:
    data:
      - sentences:
          - "open {window}"
lists:
  window:
    values:
      - in: "[the] driver window"
        out: driver
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_project_templates_cover_the_catalog() -> None:
    assert set(load_intents().intents) == set(INTENTS)
    assert INTENTS_DIR.name == "intents" and (INTENTS_DIR.parent / "assistant").is_dir()


def test_inline_templates_load_and_parse(tmp_path: Path) -> None:
    write(tmp_path, "windows.yaml", GOOD)
    parser = TemplateParser(tmp_path)
    assert [(c.intent, dict(c.slots)) for c in parser.parse("open the driver window").commands] == [
        ("window.open", {"window": "driver"})
    ]


def test_replies_file_is_not_a_template_file(tmp_path: Path) -> None:
    write(tmp_path, "windows.yaml", GOOD)
    write(tmp_path, "replies.yaml", "responses: {not: [hassil}")  # malformed on purpose: never read
    assert [p.name for p in template_files(tmp_path)] == ["windows.yaml"]
    assert set(load_intents(tmp_path).intents) == {"window.open"}


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "windows.yaml", GOOD)
    write(
        tmp_path,
        "broken.yaml",
        'intents:\n  window.close:\n    data:\n      - sentences: ["close {window}"\n  oops: [\n',
    )
    with pytest.raises(IntentsError) as err:
        load_intents(tmp_path)
    assert "broken.yaml:" in str(err.value)
    line = int(str(err.value).split("broken.yaml:")[1].split(":")[0])
    assert 4 <= line <= 6
    assert isinstance(err.value, ConfigError)


def test_intent_outside_the_catalog_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "x.yaml", 'intents:\n  window.explode:\n    data:\n      - sentences: ["boom"]\n')
    with pytest.raises(IntentsError, match=r"x\.yaml.*'window\.explode'.*not in the catalog"):
        load_intents(tmp_path)


def test_list_value_outside_the_catalog_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "windows.yaml", GOOD.replace("out: driver", "out: sunroof_glass"))
    with pytest.raises(IntentsError, match=r"windows\.yaml.*'sunroof_glass'"):
        load_intents(tmp_path)


def test_fixed_slot_outside_the_catalog_is_refused(tmp_path: Path) -> None:
    bad = GOOD.replace(
        '          - "open {window}"\n',
        '          - "open {window}"\n        slots:\n          amount: 500\n',
    )
    write(tmp_path, "windows.yaml", bad)
    with pytest.raises(IntentsError, match=r"windows\.yaml.*500"):
        load_intents(tmp_path)


def test_missing_list_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "windows.yaml", GOOD.replace("open {window}", "open {pane}"))
    with pytest.raises(IntentsError, match=r"windows\.yaml.*\{pane\}"):
        load_intents(tmp_path)


def test_list_defined_twice_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", "lists:\n  window:\n    values: [driver]\n")
    with pytest.raises(IntentsError, match=r"b\.yaml.*'window'.*a\.yaml"):
        load_intents(tmp_path)


def test_edited_templates_are_reloaded(tmp_path: Path) -> None:
    write(tmp_path, "windows.yaml", GOOD)
    assert set(load_intents(tmp_path).intents) == {"window.open"}
    write(
        tmp_path, "more.yaml", 'intents:\n  sunroof.close:\n    data:\n      - sentences: ["shut the roof"]\n'
    )
    assert set(load_intents(tmp_path).intents) == {"window.open", "sunroof.close"}
