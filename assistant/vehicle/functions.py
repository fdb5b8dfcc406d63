"""The reference car's functions and the catalog words that name them."""

from __future__ import annotations

from assistant.vehicle.guards import MIRRORS_WHILE_DRIVING, TRUNK_WHILE_DRIVING, UNLOCK_WHILE_MOVING
from assistant.vehicle.machines import Function, Setting, Switch, Travel

_CABIN = "Vehicle.Cabin"
_SIDES = {
    "driver": "Row1.DriverSide",
    "passenger": "Row1.PassengerSide",
    "rear_left": "Row2.DriverSide",
    "rear_right": "Row2.PassengerSide",
}
_SIDE_LABEL = {
    "driver": "driver",
    "passenger": "passenger",
    "rear_left": "rear left",
    "rear_right": "rear right",
}


def _all() -> list[Function]:
    out: list[Function] = []
    for key, path in _SIDES.items():
        label = _SIDE_LABEL[key]
        out.append(
            Function(f"window.{key}", f"the {label} window", f"{_CABIN}.Door.{path}.Window.Position", Travel)
        )
        out.append(
            Function(
                f"lock.{key}",
                f"the {label} door",
                f"{_CABIN}.Door.{path}.IsLocked",
                Switch,
                (UNLOCK_WHILE_MOVING,),
            )
        )
        out.append(
            Function(f"seat_heat.{key}", f"the {label} seat", f"{_CABIN}.Seat.{path}.HeatingLevel", Setting)
        )
    out += [
        Function("sunroof", "the sunroof", f"{_CABIN}.Sunroof.Position", Travel),
        Function("trunk", "the trunk", "Vehicle.Body.Trunk.Rear.IsOpen", Travel, (TRUNK_WHILE_DRIVING,)),
        Function(
            "mirror.driver",
            "the driver mirror",
            "Vehicle.Body.Mirrors.DriverSide.IsFolded",
            Travel,
            (MIRRORS_WHILE_DRIVING,),
        ),
        Function(
            "mirror.passenger",
            "the passenger mirror",
            "Vehicle.Body.Mirrors.PassengerSide.IsFolded",
            Travel,
            (MIRRORS_WHILE_DRIVING,),
        ),
        Function("light.headlights", "the headlights", "Vehicle.Body.Lights.Beam.Low.IsOn", Switch),
        Function("light.high_beams", "the high beams", "Vehicle.Body.Lights.Beam.High.IsOn", Switch),
        Function("light.fog_lights", "the fog lights", "Vehicle.Body.Lights.Fog.Front.IsOn", Switch),
        Function("light.hazards", "the hazard lights", "Vehicle.Body.Lights.Hazard.IsSignaling", Switch),
        Function("light.interior", "the interior light", f"{_CABIN}.Light.IsDomeOn", Switch),
        Function("wipers", "the wipers", "Vehicle.Body.Windshield.Front.Wiping.Mode", Setting),
        Function("temp.driver", "the driver side", f"{_CABIN}.HVAC.Station.Row1.Driver.Temperature", Setting),
        Function(
            "temp.passenger",
            "the passenger side",
            f"{_CABIN}.HVAC.Station.Row1.Passenger.Temperature",
            Setting,
        ),
        Function("fan", "the fan", f"{_CABIN}.HVAC.FanLevel", Setting),
        Function("ac", "the air conditioning", f"{_CABIN}.HVAC.IsAirConditioningActive", Switch),
        Function("defrost.front", "the front defrost", f"{_CABIN}.HVAC.IsFrontDefrosterActive", Switch),
        Function("defrost.rear", "the rear defrost", f"{_CABIN}.HVAC.IsRearDefrosterActive", Switch),
        Function("recirculation", "recirculation", f"{_CABIN}.HVAC.IsRecirculationActive", Switch),
        Function("volume", "the volume", f"{_CABIN}.Infotainment.Media.Volume", Setting),
        Function("mute", "mute", f"{_CABIN}.Infotainment.Media.IsMuted", Switch),
        Function("playback", "playback", f"{_CABIN}.Infotainment.Media.PlaybackState", Setting),
        Function("track", "the track", f"{_CABIN}.Infotainment.Media.TrackNumber", Setting),
        Function("source", "the audio source", f"{_CABIN}.Infotainment.Media.Source", Setting),
        Function("band", "the radio band", f"{_CABIN}.Infotainment.Media.Radio.Band", Setting),
        Function("frequency", "the radio", f"{_CABIN}.Infotainment.Media.Radio.Frequency", Setting),
    ]
    return out


FUNCTIONS: dict[str, Function] = {f.name: f for f in _all()}
BY_SIGNAL: dict[str, Function] = {f.signal: f for f in FUNCTIONS.values()}

SIDES = tuple(_SIDES)
SIDE_LABEL = _SIDE_LABEL
WINDOW_GROUPS = {
    **{side: (side,) for side in SIDES},
    "front": ("driver", "passenger"),
    "rear": ("rear_left", "rear_right"),
    "all": SIDES,
}
WINDOW_GROUP_LABEL = {
    **{side: f"the {label} window" for side, label in SIDE_LABEL.items()},
    "front": "the front windows",
    "rear": "the rear windows",
    "all": "all windows",
}
DOOR_GROUP_LABEL = {
    **{side: f"the {label} door" for side, label in SIDE_LABEL.items()},
    "all": "all doors",
}
