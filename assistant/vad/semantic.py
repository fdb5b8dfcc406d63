"""Semantic endpointing: a request ends early once what was said is complete.

The acoustic ``Endpointer`` ends a request on trailing silence or its maximum length. This one
ends it sooner, when the partial transcript already parses into complete, confident commands
that stay the same while the speaker pauses for ``stable_ms`` ("close the windows" needs no
second of silence after it). ``cut_off`` says whether a request stopped mid-sentence (it ends on
a dangling "and"/"the", the wake word cut in, or it hit the maximum length mid-speech): such a
request must not half-execute.
"""

from __future__ import annotations

from assistant.errors import AssistantError
from assistant.nlu.base import Parser
from assistant.vad.base import Endpoint, Endpointer

# a request that ends on one of these was cut off mid-sentence ("close the windows and", "open the");
# prepositions are not here: "what temperature is it set to" is complete
DANGLING = frozenset("and then also plus but or the a an my your".split())


def cut_off(text: str, endpoint: Endpoint) -> bool:
    """True for a request that stopped mid-sentence: it must not half-execute."""
    if endpoint.reason == "wake":
        return True  # the driver started again: the words before run into the wake phrase
    words = text.lower().split()
    if words and words[-1] in DANGLING:
        return True
    # still speaking when the maximum length cut in
    return endpoint.reason == "max_length" and endpoint.speech_end_ms == endpoint.at_ms


class SemanticEndpointer:
    """Tracks when the partial transcript's commands last changed; ``ready`` ends the request.

    ``min_confidence``: every command of the partial must be at least this sure; ``stable_ms``: how
    long both the commands and the silence after speech must last.
    """

    def __init__(self, min_confidence: float, stable_ms: float) -> None:
        self.min_confidence = min_confidence
        self.stable_ms = stable_ms
        self._key: str | None = None
        self._since = 0.0

    def begin(self, t_ms: float) -> None:
        """A new request (or none) from ``t_ms``: nothing parsed yet."""
        self._key = None
        self._since = t_ms

    def update(self, text: str, t_ms: float, parser: Parser) -> None:
        """Remember when the partial's commands last changed; no key when they may not end a request."""
        key: str | None = None
        words = text.split()
        if words and words[-1] not in DANGLING:
            try:
                parse = parser.parse(text)
            except AssistantError:
                parse = None
            if (
                parse is not None
                and parse.commands
                and all(c.confidence >= self.min_confidence for c in parse.commands)
            ):
                key = repr([c.to_json() for c in parse.commands])
        if key != self._key:
            self._key = key
            self._since = t_ms

    def ready(self, t_ms: float, probability: float, endpointer: Endpointer) -> bool:
        """True when the partial's commands and the silence after speech have both held long enough."""
        if not self._key:
            return False
        speech_end = endpointer.speech_end_ms
        return (
            probability < endpointer.threshold
            and speech_end is not None
            and t_ms - speech_end >= self.stable_ms
            and t_ms - self._since >= self.stable_ms
        )
