"""Engines chosen by name, imported lazily: the one registry type every stage uses.

A registry maps a name to "module:Class"; the module is imported on first use,
so a missing optional package gives an install hint, not a deep ImportError.
The registry is also the one list of names: the CLI's ``choices`` and the
config's validation read ``Registry.choices`` (as python-can's backend table
feeds its interface list), so a new engine is registered in one place.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from assistant.errors import ConfigError


@dataclass(frozen=True)
class Registry:
    """``stage``'s engines by name; ``also``: names resolved before loading ("auto");
    ``hidden``: engines for tests (the scripted fakes), loadable but not offered to a user."""

    stage: str
    engines: Mapping[str, str]
    also: tuple[str, ...] = ()
    hidden: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        object.__setattr__(self, "engines", MappingProxyType(dict(self.engines)))

    @property
    def choices(self) -> tuple[str, ...]:
        """What a user may name, in the registry's order: ``also`` first, then the real engines."""
        return (*self.also, *(n for n in self.engines if n not in self.hidden))

    def load(self, name: str, **options: Any) -> Any:
        """Build the engine registered as ``name`` with ``options``."""
        stage, target = self.stage, self.engines.get(name)
        if target is None:
            raise ConfigError(f"unknown {stage} engine {name!r}; choose one of: {', '.join(self.choices)}")
        module_name, _, class_name = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise ConfigError(
                f"{stage} engine {name!r} needs {err.name}, which is not installed; run: pip install -e ."
            ) from err
        return getattr(module, class_name)(**options)
