"""The SLM training pipeline (needs the [train] extra: torch). Entry point: ``main(argv)``."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """`car-assistant train ...`: see ``workbench.training.run``."""
    from workbench.training.run import main as run_main

    return run_main(argv)
