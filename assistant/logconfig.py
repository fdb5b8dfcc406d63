"""Where log lines go and how they look: ``--log-level`` > ``logging.level`` in the config > warning.

Under systemd (``$JOURNAL_STREAM`` set) each line starts with its syslog
priority (``<3>`` error ... ``<7>`` debug), which journald reads as the level
(``journalctl -p err`` then works), and carries no timestamp of its own: the
journal stamps every line.  On a terminal or a pipe, lines carry a timestamp.
No colour either way, so redirected logs stay plain text.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

LEVELS = ("debug", "info", "warning", "error")

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


class JournalFormatter(logging.Formatter):
    """``<6>assistant.service: ready ...``: the priority prefix journald understands."""

    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITY.get(record.levelno, 6)
        text = super().format(record)
        # one journal entry per line: a traceback's continuation lines keep the prefix
        return "\n".join(f"<{priority}>{line}" for line in text.splitlines())


def configure_logging(level: str, environ: Mapping[str, str] | None = None) -> logging.Handler:
    """Send the root logger's records at ``level`` and above to stderr; returns the handler."""
    env = os.environ if environ is None else environ
    if level not in LEVELS:
        raise ValueError(f"log level {level!r}; use one of {', '.join(LEVELS)}")
    handler = logging.StreamHandler(sys.stderr)
    if env.get("JOURNAL_STREAM"):
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_car_assistant", False)]:
        root.removeHandler(old)
    handler._car_assistant = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # transitions logs every state callback at info: noise below debug
    logging.getLogger("transitions").setLevel("DEBUG" if level == "debug" else "WARNING")
    return handler
