"""Dependencies flow workbench -> assistant -> firmware_bridge, never back (issue 11, item 1).

The runtime (``assistant``, ``firmware_bridge``) is what runs in the car; the workbench
(training, benchmarks, evaluation) imports it and is never imported by it, not even
lazily inside a function. ``importlib.import_module("workbench...")`` with a literal name
counts as an import too. The one way in is the ``car_assistant.commands`` entry point, which
package metadata names: building the CLI loads ``workbench.cli`` (names and help) and nothing
else of the workbench until one of its commands runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import assistant
import firmware_bridge
import workbench

FORBIDDEN = {
    "firmware_bridge": {"assistant", "workbench"},
    "assistant": {"workbench"},
    "workbench": set(),
}


def imported_modules(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.append(node.module or "")
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.append(node.args[0].value)
    return names


@pytest.mark.parametrize("package", [firmware_bridge, assistant, workbench], ids=lambda p: p.__name__)
def test_no_upward_import(package: object) -> None:
    root = Path(package.__file__).parent  # type: ignore[attr-defined]
    forbidden = FORBIDDEN[root.name]
    found = [
        f"{path.relative_to(root.parent)} imports {name}"
        for path in sorted(root.rglob("*.py"))
        for name in imported_modules(path)
        if name.split(".")[0] in forbidden
    ]
    assert not found, found


def test_the_checker_sees_lazy_and_dynamic_imports(tmp_path: Path) -> None:
    # the check above could pass by seeing nothing: it must catch each form a runtime module might use
    source = tmp_path / "m.py"
    source.write_text(
        "import importlib\n"
        "def f():\n    from workbench.bench import x\n"
        "def g():\n    return importlib.import_module('workbench.voice_bench')\n"
        "import workbench.training as t\n"
    )
    assert sorted(n for n in imported_modules(source) if n.startswith("workbench")) == [
        "workbench.bench", "workbench.training", "workbench.voice_bench"
    ]


def test_building_the_cli_loads_no_workbench_code_beyond_its_entry_point() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from assistant.cli import build_argparser; build_argparser(); "
        "print(sorted(m for m in sys.modules if m.startswith('workbench')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() in ("['workbench', 'workbench.cli']", "[]"), out
