"""The ``car-assistant`` command line: one tree of subcommands (``main``, ``build_argparser``).

``main.py`` holds the tree and the text commands (parse, say, console, monitor...); the other
modules add their subcommands with ``register(add)``: ``car`` (the cars that ship), ``log``
(the audit log, explain), ``replay`` (recordings as vehicle-state changes) and ``voice`` (run,
listen, simulate). The workbench adds train, bench and voice-bench through an entry point.
"""

from assistant.cli.main import build_argparser, main

__all__ = ["build_argparser", "main"]
