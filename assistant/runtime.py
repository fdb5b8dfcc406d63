"""Builds the running assistant from settings: bus, optional simulated car, vehicle, parser, dialogue."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from assistant.config import Settings
from assistant.dialogue import Dialogue
from assistant.errors import ConfigError, VehicleError
from assistant.nlu.base import Parser, load_parser
from assistant.vehicle.guards import GuardLimits
from assistant.vehicle.vehicle import Vehicle
from firmware_bridge import BodyControllerSim, BridgeConfig, BridgeError, CanBridge, GpioLevels, GpioPins
from firmware_bridge.cars import check_dbc_file, find_car
from firmware_bridge.config import DEFAULT_ALLOWLIST, DEFAULT_DBC, DEFAULT_MAPPING

STATUS_WAIT_S = 2.0
SETTLE_S = 15.0
"""Longest wait at close for travels in progress (a sunroof's confirm timeout is 10 s)."""


def bridge_config(settings: Settings) -> BridgeConfig:
    """The bridge's settings; ``can.car`` picks a shipped car's mapping, allowlist and (if it ships) DBC."""
    can, gpio = settings.can, settings.gpio
    dbc, mapping, allowlist = DEFAULT_DBC, DEFAULT_MAPPING, DEFAULT_ALLOWLIST
    if can.car:
        car = find_car(can.car)
        mapping, allowlist = car.mapping_path, car.allowlist_path
        if can.dbc:
            if not can.dbc_unverified:
                check_dbc_file(car, Path(can.dbc))
        elif car.dbc_path is None:
            raise ConfigError(
                f"car {car.name} needs its DBC, which is third-party and does not ship: get "
                f"{car.dbc_name or 'it'} (car-assistant car list) and set can.dbc "
                "(CAR_ASSISTANT_CAN_DBC=FILE or the config file)"
            )
        else:
            dbc = car.dbc_path
    return BridgeConfig(
        interface=can.interface,
        channel=can.channel,
        dbc_path=Path(can.dbc) if can.dbc else dbc,
        mapping_path=Path(can.mapping) if can.mapping else mapping,
        allowlist_path=allowlist,
        pin_factory=settings.gpio.pin_factory,
        pins=gpio_pins(settings),
        levels=GpioLevels(gpio.relay_active_high, gpio.led_active_high, gpio.button_pull_up),
    )


def gpio_pins(settings: Settings) -> GpioPins:
    """The gpio section's pins: "17" is BCM 17, "BOARD11" a gpiozero pin name, "" no device."""
    gpio = settings.gpio

    def pin(value: str) -> int | str | None:
        value = value.strip()
        if value.lower() in ("", "none"):
            return None
        return int(value) if value.isdigit() else value

    try:
        return GpioPins(pin(gpio.interior_light_pin), pin(gpio.push_to_talk_pin), pin(gpio.status_led_pin))
    except BridgeError as err:
        raise ConfigError(f"gpio: {err}") from err


def simulator(settings: Settings, config: BridgeConfig | None = None) -> BodyControllerSim:
    """The simulated car: on the virtual bus, or on socketcan only when ``can.simulate`` asks for a bench."""
    return BodyControllerSim(
        config or bridge_config(settings),
        window_travel_s=settings.sim.window_travel_s,
        scenario=settings.sim.scenario,
        bench=settings.can.simulate,
    )


def check_scripted_bus(settings: Settings) -> None:
    """The scripted bench drive (windows, sunroof, locks) plays on a virtual bus only."""
    if settings.can.interface != "virtual":
        raise ConfigError(
            f"the scripted drive only runs on the virtual bus, not {settings.can.interface}:"
            f"{settings.can.channel}: it would move a real car's windows and locks; "
            "use --can-interface virtual (or talk to the car with 'run' and a microphone)"
        )


@dataclass
class Car:
    """The vehicle side: bridge, vehicle and, unless a real car is on the bus, the simulator."""

    bridge: CanBridge
    vehicle: Vehicle
    sim: BodyControllerSim | None
    _stack: ExitStack

    def close(self) -> None:
        # a window still travelling is followed to its end before the bus goes away
        self.vehicle.settle(SETTLE_S)
        self._stack.close()

    def __enter__(self) -> Car:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_car(settings: Settings) -> Car:
    """Start the bus (and the simulated car) and wait for the first status frames."""
    config = bridge_config(settings)
    stack = ExitStack()
    try:
        sim = None
        # A virtual bus lives in this process only, so nothing else could answer on it.
        if settings.can.simulate or settings.can.interface == "virtual":
            sim = stack.enter_context(simulator(settings, config))
        bridge = stack.enter_context(CanBridge(config))
        if not bridge.wait_ready(STATUS_WAIT_S):
            raise VehicleError(
                f"no status frames from the car on {config.interface}:{config.channel} within "
                f"{STATUS_WAIT_S:g} s; is the body controller running (car-assistant ecu-sim) "
                "and the bus up?"
            )
        limits = GuardLimits(
            settings.vehicle.walking_speed_kmh,
            settings.vehicle.unlock_max_speed_kmh,
            question_timeout_s=settings.vehicle.question_timeout_s,
        )
        vehicle = Vehicle(bridge, limits)
        if sim is not None:
            vehicle.health_checks.append(sim.health)
        vehicle.sync()
    except BaseException:
        stack.close()
        raise
    return Car(bridge, vehicle, sim, stack)


def open_parser(settings: Settings) -> Parser:
    """The ``nlu.engine`` parser on ``nlu.intents_dir`` / ``nlu.model_dir``, else on the shipped data."""
    nlu = settings.nlu
    options: dict[str, Path] = {}
    if nlu.intents_dir:
        options["intents_dir"] = Path(nlu.intents_dir)
    if nlu.model_dir and nlu.engine == "slm":
        options["model_dir"] = Path(nlu.model_dir)
    return load_parser(nlu.engine, **options)


def open_dialogue(settings: Settings, car: Car) -> Dialogue:
    from assistant.audit import open_log

    dialogue = Dialogue(open_parser(settings), car.vehicle)
    dialogue.recorder.log = open_log(settings.audit)
    return dialogue
