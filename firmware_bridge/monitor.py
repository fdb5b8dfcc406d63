"""One readable line per decoded frame, for a bus monitor or the ecu-sim console."""

from __future__ import annotations

import time

from firmware_bridge.bus import Frame


def format_frame(frame: Frame) -> str:
    """``12:03:04.123 tx 0x300 WINDOW_CMD WinSelect=driver WinTargetPos=50``; raw bytes when undecoded."""
    seconds, millis = divmod(round(frame.timestamp * 1000), 1000)
    clock = time.strftime("%H:%M:%S", time.localtime(seconds))
    head = f"{clock}.{millis:03d} {frame.direction} 0x{frame.id:03X} {frame.message or '?'}"
    if not frame.signals:
        return f"{head} [{len(frame.data)}] {frame.data.hex(' ')}"
    body = " ".join(f"{name}={_show(value)}" for name, value in frame.signals.items())
    return f"{head} {body}"


def _show(value: int | float | str) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
