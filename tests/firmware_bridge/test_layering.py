"""Dependencies flow assistant -> firmware_bridge, never back."""

from __future__ import annotations

import ast
from pathlib import Path

import firmware_bridge


def test_firmware_bridge_never_imports_assistant() -> None:
    package = Path(firmware_bridge.__file__).parent
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] != "assistant", f"{path.name} imports {name}"
