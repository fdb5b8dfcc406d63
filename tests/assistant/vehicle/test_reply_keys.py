"""Every reply the code says exists in intents/replies.yaml, checked in the code and at load."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from assistant.errors import IntentsError
from assistant.vehicle.replies import REPLIES_FILE, REPLY_KEYS, load_replies

PACKAGE = Path(__file__).resolve().parents[3] / "assistant"
SECTIONS = tuple(yaml.safe_load(REPLIES_FILE.read_text(encoding="utf-8")))


def keys_in_code() -> dict[str, str]:
    """Every string constant in assistant/ shaped like a reply key ("dialogue.cancel"): key -> where."""
    shape = re.compile(rf"^(?:{'|'.join(map(re.escape, SECTIONS))})\.[a-z0-9_]+(?:\.[a-z0-9_]+)*$")
    found: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        # a key built at run time (f"refused.number_{reason}") is checked where it is built
        parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
        for node in ast.walk(tree):
            if id(node) in parts:
                continue
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and shape.match(node.value):
                found.setdefault(node.value, f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    return found


def test_the_scan_finds_the_keys_said_by_name() -> None:
    found = keys_in_code()
    assert {"dialogue.cancel", "failure.timeout", "clamped.above"} <= set(found)
    assert found["dialogue.cancel"].startswith("assistant/dialogue.py:")


def test_every_key_in_the_code_is_registered_and_in_the_file() -> None:
    replies = load_replies()
    for key, where in keys_in_code().items():
        assert replies.has(key), f"{where}: reply {key!r} is not in intents/replies.yaml; add it"
        assert key in REPLY_KEYS, f"{where}: add {key!r} to REPLY_KEYS in assistant/vehicle/replies.py"


def test_every_registered_key_is_still_used() -> None:
    unused = REPLY_KEYS - set(keys_in_code())
    assert not unused, f"no code says {sorted(unused)}; drop them from REPLY_KEYS"


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    text = REPLIES_FILE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "replies.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('  cancel: "Okay, cancelled."\n', "", r"replies\.yaml: no reply for dialogue\.cancel, which"),
        ("  doors.lock:", "  doors.locked:", r"no reply for done\.doors\.lock, which the assistant says"),
        ('{what}{to_percent}."', '{what{to_percent}."', r"reply 'done\.window\.open' has a broken \{field\}"),
        ('  undo_done: "Undone."', "  undo_done: [Undone]", r"reply 'dialogue\.undo_done' is not a string"),
        ('  wipers.auto: "on automatic"\n', "", r"no reply for words\.wipers\.auto, which"),
        ('  unlock_below_speed: "I', '  unlock_moving: "I', r"no reply for refused\.unlock_below_speed"),
    ],
)
def test_a_missing_or_broken_reply_stops_the_load(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(IntentsError, match=message):
        load_replies(_edited(tmp_path, old, new))


CLI_OUTPUT = {"assistant/cli/main.py", "assistant/cli/log.py"}
"""The command line's own help, errors and `explain` report: printed for a developer, not said to the
driver, so not replies."""


def sentences_in(root: Path) -> list[str]:
    """Every string in ``root``'s modules outside docstrings that reads as an English sentence ("All
    windows are closed.", f"The volume is {n}."): path:line: text."""
    shape = re.compile(r"^[A-Z][a-z']*( \S+){2,}[.?!]$")
    found = []
    for path in sorted(root.rglob("*.py")):
        where = str(path.relative_to(root.parent))
        if where in CLI_OUTPUT:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        docs = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
        parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
        for node in ast.walk(tree):
            if id(node) in docs or id(node) in parts:
                continue
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
            elif isinstance(node, ast.JoinedStr):
                text = "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)
            else:
                continue
            if shape.match(text):
                found.append(f"{where}:{node.lineno}: {text}")
    return found


def test_no_reply_is_written_in_the_code() -> None:
    assert sentences_in(PACKAGE) == [], "move these sentences to intents/replies.yaml"


def test_the_sentence_scan_finds_what_the_old_code_said(tmp_path: Path) -> None:
    # the shapes vehicle.py and guards.py had before their sentences moved to replies.yaml
    (tmp_path / "assistant").mkdir()
    (tmp_path / "assistant" / "old.py").write_text(
        '"""A docstring is not a reply."""\n'
        'REFUSAL = "I can\'t open the trunk while driving."\n'
        "def volume(n: int) -> str:\n"
        '    return f"The volume is {n}."\n'
        'KEY = "refused.trunk_at_walking_speed"\n',
        encoding="utf-8",
    )
    assert sentences_in(tmp_path / "assistant") == [
        "assistant/old.py:2: I can't open the trunk while driving.",
        "assistant/old.py:4: The volume is {}.",
    ]
