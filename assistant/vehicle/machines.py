"""One state machine per vehicle function, built with ``transitions``.

Three shapes cover the car: things that travel (windows, sunroof, trunk,
mirrors), switches (locks, lights, climate switches, mute) and settings
(temperatures, fan, seat heating, wipers, volume, media, radio). Each machine
follows an actuation: ``request`` (guarded) -> ``arrive`` when the status frame
reports the target, or ``fail`` when it never does. The settled state always
comes from the car's reported value, never from what was asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, cast

from transitions import EventData, Machine

from assistant.vehicle.guards import Guard, GuardLimits
from assistant.vehicle.signals import Value


class Travel(Enum):
    CLOSED = "closed"
    OPEN = "open"
    MOVING = "moving"
    FAULT = "fault"


class Switch(Enum):
    OFF = "off"
    ON = "on"
    SWITCHING = "switching"
    FAULT = "fault"


class Setting(Enum):
    SET = "set"
    ADJUSTING = "adjusting"
    FAULT = "fault"


def _closed(event: EventData) -> bool:
    return event.kwargs.get("value") == 0


def _on(event: EventData) -> bool:
    return event.kwargs.get("value") not in (0, None)


def _guards_allow(event: EventData) -> bool:
    fn = cast(FunctionMachine, event.model)
    return fn.refusal(event.kwargs["state"], event.kwargs["target"], event.kwargs["limits"]) is None


_T, _S, _G = Travel, Switch, Setting
TABLES: dict[type[Enum], list[dict[str, Any]]] = {
    Travel: [
        {"trigger": "request", "source": "*", "dest": _T.MOVING, "conditions": _guards_allow},
        {"trigger": "arrive", "source": "*", "dest": _T.CLOSED, "conditions": _closed},
        {"trigger": "arrive", "source": "*", "dest": _T.OPEN},
        {"trigger": "fail", "source": _T.MOVING, "dest": _T.FAULT},
    ],
    Switch: [
        {"trigger": "request", "source": "*", "dest": _S.SWITCHING, "conditions": _guards_allow},
        {"trigger": "arrive", "source": "*", "dest": _S.ON, "conditions": _on},
        {"trigger": "arrive", "source": "*", "dest": _S.OFF},
        {"trigger": "fail", "source": _S.SWITCHING, "dest": _S.FAULT},
    ],
    Setting: [
        {"trigger": "request", "source": "*", "dest": _G.ADJUSTING, "conditions": _guards_allow},
        {"trigger": "arrive", "source": "*", "dest": _G.SET},
        {"trigger": "fail", "source": _G.ADJUSTING, "dest": _G.FAULT},
    ],
}
INITIAL = {Travel: Travel.CLOSED, Switch: Switch.OFF, Setting: Setting.SET}


@dataclass(frozen=True)
class Function:
    """A vehicle function: one writable signal, its machine shape and guards."""

    name: str
    label: str
    signal: str
    shape: type[Enum]
    guards: tuple[Guard, ...] = ()


class FunctionMachine:
    """The live state machine of one function."""

    state: Enum

    def __init__(self, function: Function) -> None:
        self.function = function
        self.machine = Machine(
            model=self,
            states=function.shape,
            transitions=TABLES[function.shape],
            initial=INITIAL[function.shape],
            queued=True,
            auto_transitions=False,
            send_event=True,
        )

    def refusal(self, state: Mapping[str, Value], target: Value, limits: GuardLimits) -> str | None:
        """The replies.yaml key of the first guard that forbids ``target`` now; None when all allow it."""
        for guard in self.function.guards:
            if guard.applies_to(target) and not guard.allows(state, limits):
                return guard.refusal
        return None

    if TYPE_CHECKING:  # bound by transitions at run time; defined here they would not be bound

        def request(self, **kwargs: Any) -> bool: ...
        def arrive(self, **kwargs: Any) -> bool: ...
        def fail(self, **kwargs: Any) -> bool: ...

    @property
    def busy(self) -> bool:
        return self.state in (Travel.MOVING, Switch.SWITCHING, Setting.ADJUSTING)

    @property
    def faulted(self) -> bool:
        return self.state in (Travel.FAULT, Switch.FAULT, Setting.FAULT)
