"""Reply templates from intents/replies.yaml."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from assistant.errors import IntentsError

REPLIES_FILE = Path(__file__).resolve().parents[2] / "intents" / "replies.yaml"


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


class Replies:
    def __init__(self, table: dict[str, Any]) -> None:
        self.table = table

    def say(self, key: str, **fields: Any) -> str:
        """The reply at ``key`` ("section.name") with ``fields`` filled, first letter capitalised."""
        # "done.window.open": a section, then a name that may itself hold dots
        section, _, name = key.partition(".")
        node: Any = self.table.get(section)
        if name:
            node = node.get(name) if isinstance(node, dict) else None
        if not isinstance(node, str):
            raise KeyError(f"no reply {key!r} in {REPLIES_FILE.name}")
        text = str(node).format_map(_Blank(fields))
        return text[:1].upper() + text[1:]

    def has(self, key: str) -> bool:
        try:
            self.say(key)
        except KeyError:
            return False
        return True


@cache
def load_replies(path: Path = REPLIES_FILE) -> Replies:
    try:
        table = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise IntentsError(
            f"{path} is missing; restore it with: git checkout -- intents/replies.yaml"
        ) from err
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        line = mark.line + 1 if mark is not None else "?"
        raise IntentsError(f"{path}:{line}: {err.problem}; fix the YAML there") from err
    if not isinstance(table, dict):
        raise IntentsError(f"{path}: expected a mapping of reply templates")
    return Replies(table)
