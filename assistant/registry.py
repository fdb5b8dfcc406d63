"""Engines chosen by name, imported lazily: the one loader every stage's registry uses.

A registry maps a name to "module:Class"; the module is imported on first use,
so a missing optional package gives an install hint, not a deep ImportError.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from assistant.errors import ConfigError


def load_engine(stage: str, engines: Mapping[str, str], name: str, also: str = "", **options: Any) -> Any:
    """Build the ``stage`` engine registered as ``name`` (``also``: extra names to list in the error)."""
    target = engines.get(name)
    if target is None:
        choices = ", ".join(([also] if also else []) + sorted(engines))
        raise ConfigError(f"unknown {stage} engine {name!r}; choose one of: {choices}")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(
            f"{stage} engine {name!r} needs {err.name}, which is not installed; run: pip install -e ."
        ) from err
    return getattr(module, class_name)(**options)
