"""The workbench's ``car-assistant`` subcommands: train, bench, voice-bench.

``register(add)`` is the ``car_assistant.commands`` entry point (pyproject.toml): the
runtime's CLI finds it through package metadata and calls it with its ``add(name, func,
help, ...)`` helper, so the runtime never names this package in an import.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

from assistant.errors import ConfigError

TRAIN_HINT = "pip install torch==2.13.0 && pip install -e '.[train]'"
BENCH_HINT = "pip install -e '.[bench]'"


def cmd_train(args: argparse.Namespace) -> int:
    try:
        import torch  # noqa: F401
    except ImportError as err:
        raise ConfigError(f"training needs the train extra: {TRAIN_HINT}") from err
    from workbench.training import main as train_main

    return int(train_main(args.pass_through))


def _run(module: str, args: argparse.Namespace, cannot: str, install: str) -> int:
    """``module.main`` on the pass-through arguments, or an error saying what could not be imported
    (``cannot``) and what to install (``install``, followed by ``BENCH_HINT``)."""
    try:
        found = importlib.import_module(module)
    except ImportError as err:
        raise ConfigError(f"{cannot} ({err}); {install}: {BENCH_HINT}") from err
    return int(found.main(args.pass_through))


def cmd_voice_bench(args: argparse.Namespace) -> int:
    cannot = "voice-bench is part of the workbench, which cannot be imported here"
    return _run("workbench.voice_bench", args, cannot, "install it from a clone")


def cmd_bench(args: argparse.Namespace) -> int:
    return _run("workbench.bench", args, "bench cannot be imported here", "install its extra from a clone")


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Names and help only: nothing of the workbench is imported until one of its commands runs, so
    the car's own commands (the service among them) load no more than this small module."""
    # each command parses (and --help's) its own flags
    p = add("bench", cmd_bench, "benchmark report: accuracy, latency, memory, speech vs noise, against peers",
            add_help=False)
    p.set_defaults(pass_through=[])
    p = add("train", cmd_train, "retrain the on-device language model (the train extra)", add_help=False)
    p.set_defaults(pass_through=[])
    # likewise: voice_bench parses (and --help's) its own flags
    p = add("voice-bench", cmd_voice_bench, "the voice pipeline measured: accuracy, wake, latency, idle CPU",
            add_help=False)
    p.set_defaults(pass_through=[])
