"""Latency bookkeeping for one spoken request, kept in ``VoiceTurn.timings_ms`` (ms).

Latencies after the end of speech add the stream time from the end of speech to the endpoint
decision (``endpoint_delay``) and the wall time from the decision (``wall0``) to the CAN frame or
the reply audio: what a live listener experiences when the pipeline keeps up with real time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal


def ms_since(wall0: float, wall: float | None = None) -> float:
    """Wall time (ms) from ``wall0`` to ``wall`` (default: now), both ``time.perf_counter()``."""
    return ((time.perf_counter() if wall is None else wall) - wall0) * 1e3


@dataclass
class RequestClock:
    """One request's latencies; ``wall0`` is when its endpoint was decided."""

    timings_ms: dict[str, float]
    wall0: float

    def since(self, wall: float | None = None) -> float:
        """Wall time (ms) from the endpoint decision to ``wall`` (default: now)."""
        return ms_since(self.wall0, wall)

    def first(self, output: Literal["frame", "audio"], wall: float | None = None) -> float:
        """The first CAN frame or reply audio came out at ``wall``: ``first_*`` and ``eos_to_*``."""
        first = self.since(wall)
        self.timings_ms[f"first_{output}"] = first
        self.timings_ms[f"eos_to_{output}"] = self.timings_ms["endpoint_delay"] + first
        return first

    def dialogue_done(self) -> None:
        """``dialogue_total``: from the endpoint decision to now, less the final ASR pass."""
        self.timings_ms["dialogue_total"] = self.since() - self.timings_ms["asr_final"]
