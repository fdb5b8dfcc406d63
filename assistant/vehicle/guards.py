"""Guards and asks: small named predicates over live vehicle signals.

A guard that fails refuses a request before any frame leaves, and its
``refusal`` (a key of intents/replies.yaml) is what the driver hears. An ask
does not refuse: it holds a change until the driver answers its question with
a clear, fresh yes (``Vehicle.apply`` checks both for every actuation,
whatever asked for it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from assistant.vehicle.signals import Value

SPEED = "Vehicle.Speed"
GEAR = "Vehicle.Powertrain.Transmission.SelectedGear"


@dataclass(frozen=True)
class GuardLimits:
    """Speed limits the guards apply."""

    walking_speed_kmh: float = 6.0
    """Above this (km/h) the trunk does not open and the mirrors do not fold."""
    unlock_max_speed_kmh: float = 10.0
    """Above this (km/h) the doors do not unlock."""
    question_timeout_s: float = 8.0
    """A yes/no question is answerable for this long (s) after it was asked; then it lapses."""


@dataclass(frozen=True)
class Guard:
    name: str
    refusal: str
    """The replies.yaml key said when the guard refuses."""
    allows: Callable[[Mapping[str, Value], GuardLimits], bool]
    applies_to: Callable[[Value], bool] = lambda target: True
    """Which targets the guard checks (for example only unlocking, not locking)."""


def _speed(state: Mapping[str, Value]) -> float:
    v = state.get(SPEED)
    # No speed frame yet: assume moving, so a guarded request fails safe.
    return float(v) if isinstance(v, (int, float)) else float("inf")


def at_walking_speed(state: Mapping[str, Value], limits: GuardLimits) -> bool:
    return _speed(state) <= limits.walking_speed_kmh


def below_unlock_speed(state: Mapping[str, Value], limits: GuardLimits) -> bool:
    return _speed(state) <= limits.unlock_max_speed_kmh


def is_driving(state: Mapping[str, Value], limits: GuardLimits) -> bool:
    return _speed(state) > limits.walking_speed_kmh


TRUNK_WHILE_DRIVING = Guard(
    "trunk_at_walking_speed",
    "refused.trunk_at_walking_speed",
    at_walking_speed,
    applies_to=lambda target: target == 1,
)
MIRRORS_WHILE_DRIVING = Guard(
    "mirrors_at_walking_speed", "refused.mirrors_at_walking_speed", at_walking_speed
)
UNLOCK_WHILE_MOVING = Guard(
    "unlock_below_speed",
    "refused.unlock_below_speed",
    below_unlock_speed,
    applies_to=lambda target: target == 0,
)


@dataclass(frozen=True)
class Ask:
    """A change that goes out only after the driver has said yes to ``prompt`` (a replies.yaml key)."""

    name: str
    prompt: str
    needed: Callable[[Mapping[str, Value], GuardLimits], bool]
    applies_to: Callable[[Value], bool] = lambda target: True


HEADLIGHTS_OFF_WHILE_DRIVING = Ask(
    "headlights_off_while_driving",
    "dialogue.confirm_headlights_off",
    is_driving,
    applies_to=lambda target: target == 0,
)

ASKS: dict[str, tuple[Ask, ...]] = {"light.headlights": (HEADLIGHTS_OFF_WHILE_DRIVING,)}
"""Function name (assistant.vehicle.functions) -> the asks its changes pass."""
