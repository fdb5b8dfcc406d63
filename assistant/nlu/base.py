"""The language-understanding stage: text in, catalog commands out.

Every engine subclasses ``Parser`` and is registered by name in ``ENGINES``;
engines are imported lazily so a missing optional package gives an install
hint rather than a deep ImportError.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from assistant.catalog import SlotValue, problems
from assistant.errors import InputError
from assistant.registry import Registry

MAX_TEXT_CHARS = 500


@dataclass(frozen=True)
class Command:
    """One catalog command: an intent, its normalised slots, a confidence in [0, 1]."""

    intent: str
    slots: Mapping[str, SlotValue] = field(default_factory=dict)
    confidence: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return {"intent": self.intent, "slots": dict(self.slots), "confidence": round(self.confidence, 3)}


@dataclass(frozen=True)
class Refusal:
    """A command understood but not passed on: a number said outside what its slot can mean
    ("open the window -50 percent"). ``reason`` is ``SlotSpec.why_not``'s: below, above, whole,
    decimals."""

    intent: str
    slot: str
    value: int | float
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"intent": self.intent, "slot": self.slot, "value": self.value, "reason": self.reason}

    def reply(self, say: Callable[..., str]) -> str:
        """The spoken reason, from ``refused.number_<reason>`` in replies.yaml."""
        what = say(f"number_slot.{self.intent}.{self.slot}")
        value = str(int(self.value) if float(self.value).is_integer() else self.value)
        return say(f"refused.number_{self.reason}", what=what[:1].lower() + what[1:], value=value)


@dataclass(frozen=True)
class Parse:
    """What a parser made of one utterance: its commands in spoken order, and those it refused."""

    text: str
    commands: tuple[Command, ...] = ()
    engine: str = ""
    refused: tuple[Refusal, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text, "commands": [c.to_json() for c in self.commands]}
        if self.refused:
            out["refused"] = [r.to_json() for r in self.refused]
        return out


class Parser(ABC):
    """A language-understanding engine."""

    name: str = ""

    @abstractmethod
    def parse(self, text: str) -> Parse:
        """Commands in ``text``, each valid in the catalog; ``()`` when there are none."""


def check_text(text: str) -> str:
    """The text a parser should read, or InputError for text it must refuse."""
    if len(text) > MAX_TEXT_CHARS:
        raise InputError(
            f"the request is {len(text)} characters long; say it in under {MAX_TEXT_CHARS} characters"
        )
    return " ".join(text.split())


def keep_valid(commands: list[Command]) -> tuple[Command, ...]:
    """Drop anything outside the catalog: engines may guess, the vehicle must not see it."""
    return tuple(c for c in commands if not problems(c.intent, c.slots))


# name -> "module:Class"; imported on first use
REGISTRY = Registry(
    "NLU",
    {
        "slm": "assistant.nlu.slm:SlmParser",
        "templates": "assistant.nlu.templates:TemplateParser",
    },
)
ENGINES = REGISTRY.engines


def load_parser(name: str, **options: Any) -> Parser:
    """Build the engine registered as ``name``."""
    engine: Parser = REGISTRY.load(name, **options)
    return engine
