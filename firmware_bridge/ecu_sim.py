"""``BodyControllerSim``: the reference car's body controller and gateway, simulated on the bus.

It is the car's side of the wire: it knows only the DBC, not the mapping.  It
opens its own python-can bus on the configured channel, so it works the same
on a virtual bus in tests and on socketcan (vcan0/can0) on a bench.  Command
frames set actuator targets; windows, sunroof, trunk and mirrors take travel
time, switches act at once.  Every status message goes out each
``status_period_s`` and promptly after a change; speed and gear follow a drive
scenario (YAML keyframes, speed interpolated linearly) unless ``set_drive``
overrides them.

Like a real ECU it ignores a command frame it cannot honour (a value outside
the DBC range or none of its choices) and counts it in ``rejected``; nothing a
frame carries stops its threads.  A target equal to where an actuator stands
stops its travel there (the DBC has no stop command; the assistant's cancel
sends the current position).

It sends speed 0 and every status frame, so it must never share a bus with a
real car: it runs on the ``virtual`` interface, and on any other only when
built with ``bench=True``, which logs a loud warning.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import can
import yaml

from firmware_bridge.bus import Frame, Value, decode, load_dbc, open_bus
from firmware_bridge.config import PACKAGE_DIR, BridgeConfig
from firmware_bridge.errors import BridgeConfigError, MappingError
from firmware_bridge.mapping import SAFE_LOADER, check_value
from firmware_bridge.monitor import format_frame

log = logging.getLogger(__name__)

SCENARIO_DIR = PACKAGE_DIR / "scenarios"
TICK_S = 0.01
GEARS = ("park", "reverse", "neutral", "drive")


@dataclass(frozen=True)
class _Actuator:
    """One actuator: which command frame (and selector value) drives which status signal."""

    command: str
    selector: tuple[str, str] | None
    request: str
    status: str
    signal: str
    travel: str | None = None
    """"window"/"sunroof" move continuously; "trunk"/"mirror" switch after their travel time."""


def _row(
    command: str,
    selector: str | None,
    values: dict[str, str],
    request: str,
    status: str,
    travel: str | None = None,
) -> list[_Actuator]:
    if selector is None:
        return [_Actuator(command, None, request, status, signal, travel) for signal in values.values()]
    return [
        _Actuator(command, (selector, choice), request, status, signal, travel)
        for choice, signal in values.items()
    ]


# The reference car's wiring, as data: command frame -> status signal it moves.
_ACTUATORS: tuple[_Actuator, ...] = (
    *_row(
        "WINDOW_CMD",
        "WinSelect",
        {
            "driver": "WinPosDriver",
            "passenger": "WinPosPassenger",
            "rear_left": "WinPosRearLeft",
            "rear_right": "WinPosRearRight",
        },
        "WinTargetPos",
        "WINDOW_STATUS",
        "window",
    ),
    *_row("WINDOW_CMD", "WinSelect", {"sunroof": "SunroofPos"}, "WinTargetPos", "WINDOW_STATUS", "sunroof"),
    *_row(
        "LOCK_CMD",
        "DoorSelect",
        {
            "driver": "LockedDriver",
            "passenger": "LockedPassenger",
            "rear_left": "LockedRearLeft",
            "rear_right": "LockedRearRight",
        },
        "LockReq",
        "DOOR_STATUS",
    ),
    *_row("TRUNK_CMD", None, {"": "TrunkOpen"}, "TrunkOpenReq", "DOOR_STATUS", "trunk"),
    *_row(
        "MIRROR_CMD",
        "MirrorSelect",
        {"driver": "MirrorFoldedDriver", "passenger": "MirrorFoldedPassenger"},
        "MirrorFoldReq",
        "DOOR_STATUS",
        "mirror",
    ),
    *_row(
        "LIGHT_CMD",
        "LightSelect",
        {"low_beam": "LowBeamOn", "high_beam": "HighBeamOn", "fog_front": "FogFrontOn", "hazard": "HazardOn"},
        "LightReq",
        "LIGHT_STATUS",
    ),
    *_row("WIPER_CMD", None, {"": "WiperMode"}, "WiperModeReq", "LIGHT_STATUS"),
    *_row(
        "HVAC_TEMP_CMD",
        "Zone",
        {"driver": "TempDriver", "passenger": "TempPassenger"},
        "TempTarget",
        "HVAC_STATUS",
    ),
    *_row("HVAC_FAN_CMD", None, {"": "FanLevel"}, "FanLevelReq", "HVAC_STATUS"),
    *_row(
        "HVAC_FUNC_CMD",
        "HvacFunction",
        {
            "ac": "AcActive",
            "front_defrost": "FrontDefrostActive",
            "rear_defrost": "RearDefrostActive",
            "recirculation": "RecircActive",
        },
        "FuncReq",
        "HVAC_STATUS",
    ),
    *_row(
        "SEAT_HEAT_CMD",
        "SeatSelect",
        {
            "driver": "SeatHeatDriver",
            "passenger": "SeatHeatPassenger",
            "rear_left": "SeatHeatRearLeft",
            "rear_right": "SeatHeatRearRight",
        },
        "HeatLevelReq",
        "SEAT_STATUS",
    ),
    *_row("MEDIA_VOLUME_CMD", None, {"": "Volume"}, "VolumeReq", "MEDIA_STATUS"),
    *_row("MEDIA_VOLUME_CMD", None, {"": "Muted"}, "MuteReq", "MEDIA_STATUS"),
    *_row("MEDIA_PLAYBACK_CMD", None, {"": "PlaybackState"}, "PlaybackReq", "MEDIA_STATUS"),
    *_row("MEDIA_TRACK_CMD", None, {"": "TrackNumber"}, "TrackReq", "MEDIA_STATUS"),
    *_row("MEDIA_SOURCE_CMD", None, {"": "Source"}, "SourceReq", "MEDIA_STATUS"),
    *_row("RADIO_CMD", None, {"": "Band"}, "BandReq", "MEDIA_STATUS"),
    *_row("RADIO_CMD", None, {"": "RadioFreqKHz"}, "FreqReqKHz", "MEDIA_STATUS"),
)

# A parked car on a mild day: windows shut, unlocked, radio on FM.
_INITIAL: dict[str, Value] = {
    "WinPosDriver": 0,
    "WinPosPassenger": 0,
    "WinPosRearLeft": 0,
    "WinPosRearRight": 0,
    "SunroofPos": 0,
    "LockedDriver": 0,
    "LockedPassenger": 0,
    "LockedRearLeft": 0,
    "LockedRearRight": 0,
    "TrunkOpen": 0,
    "MirrorFoldedDriver": 0,
    "MirrorFoldedPassenger": 0,
    "LowBeamOn": 0,
    "HighBeamOn": 0,
    "FogFrontOn": 0,
    "HazardOn": 0,
    "WiperMode": "off",
    "TempDriver": 21.0,
    "TempPassenger": 21.0,
    "FanLevel": 2,
    "AcActive": 0,
    "FrontDefrostActive": 0,
    "RearDefrostActive": 0,
    "RecircActive": 0,
    "SeatHeatDriver": 0,
    "SeatHeatPassenger": 0,
    "SeatHeatRearLeft": 0,
    "SeatHeatRearRight": 0,
    "Volume": 10,
    "Muted": 0,
    "PlaybackState": "paused",
    "Source": "radio",
    "TrackNumber": 1,
    "Band": "fm",
    "RadioFreqKHz": 95300,
}
_STATUS_MESSAGES = (
    "WINDOW_STATUS",
    "DOOR_STATUS",
    "LIGHT_STATUS",
    "HVAC_STATUS",
    "SEAT_STATUS",
    "MEDIA_STATUS",
)


@dataclass(frozen=True)
class Keyframe:
    t_s: float
    speed_kmh: float
    gear: str


@dataclass(frozen=True)
class DriveScenario:
    """Speed and gear over time; speed linear between keyframes, gear held from its keyframe."""

    keyframes: tuple[Keyframe, ...]
    loop: bool = False

    def at(self, t_s: float) -> tuple[float, str]:
        frames = self.keyframes
        end = frames[-1].t_s
        if self.loop and end > 0:
            t_s %= end
        if t_s >= end:
            return frames[-1].speed_kmh, frames[-1].gear
        for a, b in zip(frames, frames[1:], strict=False):
            if a.t_s <= t_s < b.t_s:
                share = (t_s - a.t_s) / (b.t_s - a.t_s)
                return a.speed_kmh + share * (b.speed_kmh - a.speed_kmh), a.gear
        return frames[0].speed_kmh, frames[0].gear


def load_scenario(scenario: str | Path) -> DriveScenario:
    """A scenario by name (``parked``, ``city_drive`` in firmware_bridge/scenarios) or by path."""
    path = Path(scenario) if Path(scenario).suffix in (".yaml", ".yml") else SCENARIO_DIR / f"{scenario}.yaml"
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except OSError as err:
        known = ", ".join(p.stem for p in sorted(SCENARIO_DIR.glob("*.yaml")))
        raise BridgeConfigError(
            f"cannot read drive scenario {path}: {err.strerror}; built in: {known}"
        ) from err
    except yaml.YAMLError as err:
        raise BridgeConfigError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(data, dict) or set(data) - {"loop", "keyframes"} or not data.get("keyframes"):
        raise BridgeConfigError(f"{path}: expected 'keyframes' (a list) and optional 'loop'")
    frames = []
    for i, raw in enumerate(data["keyframes"]):
        if not isinstance(raw, dict) or set(raw) != {"t_s", "speed_kmh", "gear"}:
            raise BridgeConfigError(f"{path}: keyframe {i} needs exactly t_s, speed_kmh, gear")
        if raw["gear"] not in GEARS:
            raise BridgeConfigError(f"{path}: keyframe {i}: gear {raw['gear']!r}; use {', '.join(GEARS)}")
        if not 0 <= float(raw["speed_kmh"]) <= 300:
            raise BridgeConfigError(f"{path}: keyframe {i}: speed_kmh {raw['speed_kmh']} outside 0..300")
        frames.append(Keyframe(float(raw["t_s"]), float(raw["speed_kmh"]), str(raw["gear"])))
    if any(b.t_s <= a.t_s for a, b in zip(frames, frames[1:], strict=False)) or frames[0].t_s != 0:
        raise BridgeConfigError(f"{path}: keyframe times must start at 0 and increase")
    return DriveScenario(tuple(frames), bool(data.get("loop", False)))


class _Receiver(can.Listener):
    def __init__(self, on_message: Callable[[can.Message], None]) -> None:
        self._on_message = on_message

    def on_message_received(self, msg: can.Message) -> None:
        self._on_message(msg)


class BodyControllerSim:
    """The simulated reference car on the bus; thread-based, ``start()``/``stop()`` or ``with``.

    Travel times are for 0 -> 100 % (windows, sunroof) or one full move (trunk, mirrors).
    """

    def __init__(
        self,
        config: BridgeConfig | None = None,
        *,
        window_travel_s: float = 3.0,
        sunroof_travel_s: float = 5.0,
        trunk_travel_s: float = 2.0,
        mirror_travel_s: float = 1.0,
        status_period_s: float = 0.1,
        scenario: str | Path = "parked",
        on_command: Callable[[Frame], None] | None = None,
        bus: can.BusABC | None = None,
        bench: bool = False,
    ) -> None:
        self.config = config or BridgeConfig()
        if self.config.interface != "virtual" and not bench:
            raise BridgeConfigError(
                f"the simulated body controller runs only on the virtual interface, not "
                f"{self.config.interface}:{self.config.channel}: it sends speed 0 and every status frame, "
                "which would spoof a real car's; for a bench without a car, ask for it explicitly "
                "(can.simulate: true, or car-assistant ecu-sim)"
            )
        self.bench = bench
        self._db = load_dbc(self.config.dbc_path)
        self._travel_s = {
            "window": window_travel_s,
            "sunroof": sunroof_travel_s,
            "trunk": trunk_travel_s,
            "mirror": mirror_travel_s,
        }
        if any(t <= 0 for t in self._travel_s.values()) or status_period_s <= 0:
            raise BridgeConfigError("travel times and status_period_s must be > 0 seconds")
        self._period_s = status_period_s
        self._scenario = load_scenario(scenario)
        self._on_command = on_command
        self._given_bus = bus
        self._bus: can.BusABC | None = None
        self._notifier: can.Notifier | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._values: dict[str, Any] = dict(_INITIAL)
        self._moves: dict[str, tuple[Value, float]] = {}  # status signal -> (target, command time)
        self._ignored: set[str] = set()
        self._jammed: set[str] = set()
        self._drive_override: tuple[float, str] | None = None
        self._t0 = time.monotonic()
        self._by_signal = {a.signal: a for a in _ACTUATORS}
        self.rejected = 0
        """Command frames ignored: a value outside the DBC range or none of its choices."""
        self.failures = 0
        """Ticks or received frames that raised; logged, counted, and the controller carries on."""
        self._logged: set[str] = set()
        self._reported_dead = False

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> BodyControllerSim:
        if self._thread is not None:
            return self
        if self.config.interface != "virtual":
            log.warning(
                "SIMULATED BODY CONTROLLER ON %s:%s: it broadcasts speed 0 and every status frame. "
                "Bench use only; never on a bus with a real car on it.",
                self.config.interface,
                self.config.channel,
            )
        self._bus = self._given_bus if self._given_bus is not None else open_bus(self.config)
        self._t0 = time.monotonic()
        self._stopping.clear()
        self._notifier = can.Notifier(self._bus, [_Receiver(self._on_rx)], timeout=0.1)
        self._thread = threading.Thread(target=self._run, name="body-controller-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        if self._notifier is not None:
            self._notifier.stop()
            self._notifier = None
        if self._bus is not None:
            self._bus.shutdown()
            self._bus = None

    def __enter__(self) -> BodyControllerSim:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- test controls ---------------------------------------------------------------------------

    def set_drive(self, speed_kmh: float, gear: str) -> None:
        """Hold speed and gear at these values from now on, instead of the scenario."""
        if gear not in GEARS or not 0 <= speed_kmh <= 300:
            raise BridgeConfigError(f"set_drive({speed_kmh}, {gear!r}): speed 0..300, gear one of {GEARS}")
        with self._lock:
            self._drive_override = (float(speed_kmh), gear)

    def ignore(self, message: str) -> None:
        """Fault: never act on command ``message`` (the controller is deaf to it)."""
        if message not in {a.command for a in _ACTUATORS}:
            raise MappingError(f"{message!r} is not a command message of the reference car")
        with self._lock:
            self._ignored.add(message)

    def jam(self, signal: str) -> None:
        """Fault: the actuator reported by status ``signal`` accepts commands but never moves."""
        if signal not in self._by_signal:
            raise MappingError(f"{signal!r} is not a status signal of the reference car")
        with self._lock:
            self._jammed.add(signal)

    def clear_faults(self) -> None:
        with self._lock:
            self._ignored.clear()
            self._jammed.clear()

    def value(self, signal: str) -> Value:
        """What status ``signal`` reports now."""
        with self._lock:
            return self._reported(signal)

    def health(self) -> tuple[str, ...]:
        """What is wrong with the simulator's threads; empty when all is well (logged once)."""
        if self._thread is None or self._stopping.is_set():
            return ()
        problems = []
        if not self._thread.is_alive():
            problems.append("the simulated body controller's status thread has stopped")
        readers = [t for t in getattr(self._notifier, "_readers", []) if isinstance(t, threading.Thread)]
        if any(not t.is_alive() for t in readers):
            problems.append("the simulated body controller no longer receives commands")
        if problems and not self._reported_dead:
            self._reported_dead = True
            log.error("%s", "; ".join(problems))
        return tuple(problems)

    def _once(self, key: str, text: str, *args: Any) -> None:
        if key not in self._logged:
            self._logged.add(key)
            log.warning(text, *args)

    # -- the controller --------------------------------------------------------------------------

    def _on_rx(self, msg: can.Message) -> None:
        try:
            self._command(msg)
        except Exception as err:  # one frame must never stop the controller
            with self._lock:
                self.failures += 1
            self._once(f"rx:{type(err).__name__}", "body controller sim: a received frame failed: %r", err)

    def _command(self, msg: can.Message) -> None:
        if msg.is_error_frame or msg.is_remote_frame:
            return
        frame = decode(self._db, msg, "rx")
        actuators = [a for a in _ACTUATORS if a.command == frame.message]
        if not actuators:
            return
        dbc = self._db.get_message_by_name(frame.message)
        problem = "undecodable payload" if not frame.signals else None
        for sig in dbc.signals if frame.signals else ():
            bad = check_value(sig, frame.signals.get(sig.name))
            if bad is None and sig.minimum is not None and sig.maximum is not None and not sig.choices:
                value = float(frame.signals[sig.name])
                bad = None if sig.minimum <= value <= sig.maximum else f"outside {sig.minimum}..{sig.maximum}"
            if bad:
                problem = f"{sig.name}={frame.signals.get(sig.name)!r}: {bad}"
                break
        if problem:
            with self._lock:
                self.rejected += 1
            self._once(
                f"reject:{frame.message}",
                "body controller sim: ignored %s (0x%03X) %s: %s (further ones are only counted)",
                frame.message,
                frame.id,
                frame.data.hex(),
                problem,
            )
            return
        now = time.monotonic()
        with self._lock:
            if frame.message in self._ignored:
                return
            for a in actuators:
                if a.selector is not None and frame.signals.get(a.selector[0]) != a.selector[1]:
                    continue
                target = frame.signals[a.request]
                if a.signal in self._jammed:
                    continue
                if a.travel is None:
                    self._values[a.signal] = target
                    self._moves.pop(a.signal, None)
                elif a.travel in ("trunk", "mirror") and target == self._values[a.signal]:
                    self._moves.pop(a.signal, None)  # sent back where it stands: the move is called off
                else:
                    self._moves[a.signal] = (target, now)
        if self._on_command is not None:
            self._on_command(frame)

    def _advance(self, now: float, dt: float) -> None:
        for signal, (target, since) in list(self._moves.items()):
            if signal in self._jammed:
                continue
            kind = self._by_signal[signal].travel
            assert kind is not None
            travel = self._travel_s[kind]
            if kind in ("window", "sunroof"):
                pos = float(self._values[signal])
                step = 100.0 / travel * dt
                pos = (
                    min(pos + step, float(target)) if float(target) > pos else max(pos - step, float(target))
                )
                self._values[signal] = pos
                if pos == float(target):
                    del self._moves[signal]
            elif now - since >= travel:
                self._values[signal] = target
                del self._moves[signal]

    def _reported(self, signal: str) -> Value:
        value = self._values[signal]
        if self._by_signal[signal].travel in ("window", "sunroof"):
            return int(round(value))
        return value  # type: ignore[no-any-return]

    def _status_payloads(self, now: float) -> dict[str, dict[str, Value]]:
        out: dict[str, dict[str, Value]] = {}
        for message in _STATUS_MESSAGES:
            dbc = self._db.get_message_by_name(message)
            out[message] = {s.name: self._reported(s.name) for s in dbc.signals}
        speed, gear = self._drive_override or self._scenario.at(now - self._t0)
        out["VEHICLE_MOTION"] = {"VehicleSpeed": round(speed, 2), "SelectedGear": gear}
        return out

    def _run(self) -> None:
        last_sent: dict[str, dict[str, Value]] = {}
        next_periodic = 0.0
        previous = time.monotonic()
        while not self._stopping.wait(TICK_S):
            now = time.monotonic()
            try:
                with self._lock:
                    self._advance(now, now - previous)
                    payloads = self._status_payloads(now)
                previous = now
                periodic = now >= next_periodic
                if periodic:
                    next_periodic = now + self._period_s
                for message, signals in payloads.items():
                    if periodic or last_sent.get(message) != signals:
                        if not self._send(message, signals):
                            return
                        last_sent[message] = signals
            except Exception as err:  # a bug in one tick must not silence the car for good
                with self._lock:
                    self.failures += 1
                self._once(f"tick:{type(err).__name__}", "body controller sim: a tick failed: %r", err)

    def _send(self, message: str, signals: dict[str, Value]) -> bool:
        dbc = self._db.get_message_by_name(message)
        msg = can.Message(
            arbitration_id=dbc.frame_id,
            is_extended_id=dbc.is_extended_frame,
            data=dbc.encode(signals, strict=True),
        )
        bus = self._bus
        if bus is None:
            return False
        try:
            bus.send(msg, timeout=0.2)
        except (can.CanError, OSError, ValueError) as err:
            if not self._stopping.is_set():
                log.error("body controller sim: sending %s failed: %s", message, err)
            return not self._stopping.is_set()
        return True


def run_ecu_sim(
    config: BridgeConfig | None = None,
    duration_s: float | None = None,
    print_fn: Callable[[str], None] = print,
    **sim_options: Any,
) -> None:
    """Run the simulator alone (``car-assistant ecu-sim`` on a bench), one line per command handled.

    Runs until Ctrl-C, or for ``duration_s`` seconds.  ``sim_options`` go to ``BodyControllerSim``.
    """
    config = config or BridgeConfig()
    # asked for by name (car-assistant ecu-sim): a bench, so any interface, with the loud warning
    sim_options.setdefault("bench", True)
    sim = BodyControllerSim(config, on_command=lambda frame: print_fn(format_frame(frame)), **sim_options)
    with sim:
        print_fn(f"body controller simulator on {config.interface}:{config.channel}; Ctrl-C to stop")
        try:
            if duration_s is None:
                while True:
                    time.sleep(1.0)
            else:
                time.sleep(duration_s)
        except KeyboardInterrupt:
            pass
