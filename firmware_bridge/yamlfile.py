"""YAML read so that every mistake names its file and line: the one loader of the project.

It lives in the bridge because the bridge imports nothing of the assistant; the assistant's
config, intents and vehicle tables read their YAML through it too. ``LineLoader`` keeps the line
of every mapping and key (``line_of``) for the errors a file's checks raise later, and refuses a
key given twice in one mapping (plain YAML keeps the last silently: a ``max_rate`` of 100 then
100000).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

# libyaml's loader when built in: bridge start time is mostly YAML parsing otherwise
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Lines(dict[Any, Any]):
    """A YAML mapping that remembers its line and each key's line (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


class DuplicateKeyError(yaml.constructor.ConstructorError):  # type: ignore[misc]
    """A key given twice in one mapping."""


def _construct_map(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Any:
    data = Lines()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    yield data
    data.update(loader.construct_mapping(node, deep=True))
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            key = loader.construct_object(key_node)
            if key in data.key_lines:
                problem = f"{key!r} is given twice (first on line {data.key_lines[key]})"
                raise DuplicateKeyError(None, None, problem, key_node.start_mark)
            data.key_lines[key] = key_node.start_mark.line + 1


class LineLoader(SAFE_LOADER):  # type: ignore[misc]
    """The safe loader whose mappings are ``Lines`` and which refuses a key given twice."""


LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def line_of(data: Any, key: Any = None) -> int:
    """The line of ``data`` (a mapping ``LineLoader`` made), or of its ``key``; 0 when unknown."""
    if isinstance(data, Lines):
        return data.key_lines.get(key, data.line) if key is not None else data.line
    return 0


def parse_yaml(
    text: str,
    where: Path | str,
    error: Callable[[str], Exception],
    loader: type[yaml.SafeLoader] = LineLoader,
) -> Any:
    """``text`` parsed; a mistake raises ``error("WHERE:LINE: problem; what to do")``.

    Only mistakes with a place are turned into ``error``; other ``yaml.YAMLError`` (a control
    character, say) pass through for the caller's own message.
    """
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506  (loader is a SafeLoader)
    except DuplicateKeyError as err:
        raise error(f"{where}:{_line(err)}: {err.problem}; keep one") from err
    except yaml.MarkedYAMLError as err:
        raise error(f"{where}:{_line(err)}: {err.problem or err.context}; fix the YAML there") from err


def _line(err: yaml.MarkedYAMLError) -> int | str:
    mark = err.problem_mark or err.context_mark
    return mark.line + 1 if mark is not None else "?"


def refuse_unknown_keys(
    data: Any,
    allowed: Sequence[str],
    path: Path | str,
    error: Callable[[str], Exception],
    what: str = "key(s)",
) -> None:
    """Raise ``error("PATH:LINE: unknown key(s) K; use A, B")`` when ``data`` has a key not in ``allowed``.

    A misspelt key must not be silently ignored (a ``max_rate`` typed ``max_rte`` then never limits).
    """
    unknown = set(data) - set(allowed)
    if unknown:
        first = min(unknown, key=str)
        raise error(
            f"{path}:{line_of(data, first)}: unknown {what} {', '.join(sorted(map(str, unknown)))}; "
            f"use {', '.join(allowed)}"
        )
