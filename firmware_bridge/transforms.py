"""Value transforms between a vehicle signal and a DBC signal: enum maps, linear, safe math.

A mapping names one per direction: a status's transform turns the DBC's physical
value into the vehicle value, a command's turns the vehicle value into the DBC's.

``map``
    ``{from: to}`` pairs (KUKSA's ``transform.mapping``); several DBC choices may read
    as one vehicle value (``LATCH_AJAR`` and ``LATCH_OPENED`` both "open").
``linear``
    ``{scale: a, offset: b}``: ``a * x + b``.
``math``
    An expression in ``x`` (KUKSA's ``transform.math``): numbers, ``x``, ``+ - * /``,
    parentheses and ``floor ceil round min max abs``.  It is parsed with ``ast`` and
    walked by ``_evaluate``; nothing else is accepted and nothing is ``eval``-ed.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from firmware_bridge.errors import MappingError

Value = int | float | str

_FUNCTIONS: Mapping[str, Callable[..., float]] = MappingProxyType(
    {
        "floor": math.floor,
        "ceil": math.ceil,
        "round": round,
        "min": min,
        "max": max,
        "abs": abs,
    }
)
_ARITY = {"floor": (1, 1), "ceil": (1, 1), "round": (1, 1), "abs": (1, 1), "min": (2, 8), "max": (2, 8)}
_OPERATORS: Mapping[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}
MAX_EXPRESSION = 200
"""Characters; a transform is a formula, not a program."""


class TransformError(MappingError):
    """A transform that is not one of the safe forms, or a value it cannot take."""

    code = "transform"


def _check(node: ast.AST, text: str) -> None:
    """Raise ``TransformError`` for any node outside the small language."""
    if isinstance(node, ast.Expression):
        _check(node.body, text)
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _OPERATORS:
            raise TransformError(f"operator {type(node.op).__name__} is not allowed in {text!r}; use + - * /")
        _check(node.left, text)
        _check(node.right, text)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd):
            raise TransformError(f"operator {type(node.op).__name__} is not allowed in {text!r}")
        _check(node.operand, text)
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise TransformError(f"only numbers may appear as constants in {text!r}, not {node.value!r}")
    elif isinstance(node, ast.Name):
        if node.id != "x":
            raise TransformError(f"unknown name {node.id!r} in {text!r}; the value is x")
    elif isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else ""
        if name not in _FUNCTIONS or node.keywords:
            raise TransformError(
                f"only {', '.join(_FUNCTIONS)} may be called in {text!r}, without keywords"
            )
        low, high = _ARITY[name]
        if not low <= len(node.args) <= high:
            count = str(low) if low == high else f"{low}..{high}"
            raise TransformError(f"{name} takes {count} argument(s) in {text!r}")
        for arg in node.args:
            _check(arg, text)
    else:
        raise TransformError(
            f"{type(node).__name__} is not allowed in {text!r}; use numbers, x, + - * / and calls"
        )


def _evaluate(node: ast.AST, x: float) -> float:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, x)
    if isinstance(node, ast.BinOp):
        return _OPERATORS[type(node.op)](_evaluate(node.left, x), _evaluate(node.right, x))
    if isinstance(node, ast.UnaryOp):
        value = _evaluate(node.operand, x)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, int | float), "checked by _check"
        return float(node.value)
    if isinstance(node, ast.Name):
        return x
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    return float(_FUNCTIONS[node.func.id](*(_evaluate(arg, x) for arg in node.args)))


def parse_math(text: str) -> ast.Expression:
    """The checked tree of a math transform; raises ``TransformError`` naming what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise TransformError(f"math must be an expression in x as a string, got {text!r}")
    if len(text) > MAX_EXPRESSION:
        raise TransformError(f"math expression is {len(text)} characters; at most {MAX_EXPRESSION}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError) as err:
        reason = err.msg if isinstance(err, SyntaxError) else str(err)
        raise TransformError(f"math {text!r} is not an expression: {reason}") from err
    _check(tree, text)
    return tree


def _number(value: float) -> int | float:
    """Whole results as int, so 3.0 encodes (and compares) as the integer 3."""
    return int(value) if float(value).is_integer() else value


def _normal(value: Any) -> Value:
    """YAML/JSON booleans are the bridge's 0/1."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float | str):
        return value
    raise TransformError(f"map values must be numbers, booleans or names, got {value!r}")


@dataclass(frozen=True)
class Transform:
    """One direction's conversion; ``apply`` raises ``TransformError`` for a value it cannot take."""

    kind: str
    """"map", "linear" or "math"."""
    text: str
    """The transform as written, for messages and ``car check``."""
    table: Mapping[Value, Value] | None = None
    scale: float = 1.0
    offset: float = 0.0
    tree: ast.Expression | None = None

    def apply(self, value: Value) -> Value:
        if self.kind == "map":
            assert self.table is not None
            key = _normal(value)
            if key not in self.table:
                raise TransformError(f"{value!r} is not in the map {self.text}")
            return self.table[key]
        if isinstance(value, str):
            raise TransformError(f"{self.kind} transform {self.text} needs a number, got {value!r}")
        x = float(value)
        try:
            if self.tree is not None:
                out = _evaluate(self.tree, x)
            else:
                out = x * self.scale + self.offset
        except (ZeroDivisionError, OverflowError, ValueError) as err:
            raise TransformError(f"{self.text} cannot take x = {value!r}: {err}") from err
        if not math.isfinite(out):
            raise TransformError(f"{self.text} gives {out} for x = {value!r}")
        return _number(out)

    def outputs(self) -> tuple[Value, ...]:
        """Every value a map can produce (empty for numeric transforms)."""
        return tuple(dict.fromkeys(self.table.values())) if self.table is not None else ()


def parse_transform(raw: Any) -> Transform:
    """A transform from its YAML form; raises ``TransformError`` (the caller adds file:line)."""
    if not isinstance(raw, dict) or len(raw) != 1:
        raise TransformError(f"a transform is one of map / linear / math, got {raw!r}")
    ((kind, body),) = raw.items()
    if kind == "map":
        if isinstance(body, list):  # KUKSA's [{from: a, to: b}, ...]
            pairs = []
            for item in body:
                if not isinstance(item, dict) or set(item) != {"from", "to"}:
                    raise TransformError(f"map entries must be {{from: ..., to: ...}}, got {item!r}")
                pairs.append((item["from"], item["to"]))
        elif isinstance(body, dict) and body:
            pairs = list(body.items())
        else:
            raise TransformError(f"map must be a non-empty mapping of from: to, got {body!r}")
        table: dict[Value, Value] = {}
        for key, value in pairs:
            k = _normal(key)
            if k in table and table[k] != _normal(value):
                raise TransformError(f"map sends {key!r} to both {table[k]!r} and {value!r}")
            table[k] = _normal(value)
        text = "{" + ", ".join(f"{k}: {v}" for k, v in table.items()) + "}"
        return Transform("map", text, table=MappingProxyType(table))
    if kind == "linear":
        if not isinstance(body, dict) or not set(body) <= {"scale", "offset"} or "scale" not in body:
            raise TransformError(f"linear takes {{scale: a, offset: b}}, got {body!r}")
        scale, offset = body["scale"], body.get("offset", 0)
        for name, number in (("scale", scale), ("offset", offset)):
            if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
                raise TransformError(f"linear {name} must be a finite number, got {number!r}")
        if scale == 0:
            raise TransformError("linear scale 0 would lose the value")
        return Transform("linear", f"{scale} * x + {offset}", scale=float(scale), offset=float(offset))
    if kind == "math":
        return Transform("math", str(body), tree=parse_math(body))
    raise TransformError(f"unknown transform {kind!r}; use map, linear or math")
