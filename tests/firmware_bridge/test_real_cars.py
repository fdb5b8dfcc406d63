"""The three real cars (Tesla Model 3, Ford, Honda CR-V), each end to end on its simulated controller.

Each runs as ``--car NAME`` with ``can.dbc`` set to its fixture DBC (``can.dbc_unverified``: the
fixture restates only the messages the mapping uses, sources cited inside), so the real settings,
bridge, simulator (DBC + mapping + physics file), dialogue and replies run.  For each: one function
it actuates, one it only reports ("This car can't do that", no frame), and a simulated drive
recorded as ``monitor --log`` records it (a ``Recorder`` on the bridge) that replays to the state
the bridge ended with.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import can
import pytest

from assistant.cli.replay import replay_file
from assistant.config import CanSettings, Settings
from assistant.dialogue import Dialogue
from assistant.nlu.templates import TemplateParser
from assistant.runtime import open_car
from assistant.vehicle.replies import load_replies
from firmware_bridge.bus import load_dbc
from firmware_bridge.cars import find_car
from firmware_bridge.checksums import protection_for
from firmware_bridge.gpio import GPIO_OUTPUTS
from firmware_bridge.mapping import check_mapping, check_value, load_allowlist, load_mapping, marks_a_number
from firmware_bridge.recording import Recorder

DATA = Path(__file__).resolve().parents[1] / "data"
SPEED = "Vehicle.Speed"
GEAR = "Vehicle.Powertrain.Transmission.SelectedGear"


@dataclass(frozen=True)
class RealCar:
    name: str
    fixture: str
    ask: str
    """A request this car actuates ..."""
    reply: str
    moved: tuple[str, str]
    """... and the simulated controller's status signal with its DBC value afterwards."""
    sent: tuple[str, object]
    """The command signal and the value its first frame carries."""
    cannot: str
    """A request this car can only report on."""
    untouched: tuple[str, str]


CARS = [
    RealCar(
        "tesla", "tesla_model3_fixture.dbc",
        "open the trunk", "The trunk is open.", ("VCRIGHT_trunkLatchStatus", "LATCH_OPENED"),
        ("UI_trunkRequest", 1),
        "fold the mirrors", ("VCLEFT_mirrorFoldState", "MIRROR_FOLD_STATE_UNFOLDED"),
    ),
    RealCar(
        "ford", "ford_lincoln_base_pt_fixture.dbc",
        "open the trunk", "The trunk is open.", ("DrStatTgate_B_Actl", "Ajar"),
        ("Power_Liftgate_Rqst", "Active"),
        "lock the doors", ("Veh_Lock_Status", "UNLOCK_ALL"),
    ),
    RealCar(
        "honda", "honda_crv_touring_2016_fixture.dbc",
        "turn on the low beams", "Headlights on.", ("LOW_BEAMS", "1"),
        ("LIGHTS_SETTING", "low_beam"),
        "open the trunk", ("TRUNK_OPEN", "0"),
    ),
]  # fmt: skip


def _car_settings(settings: Settings, car: RealCar) -> Settings:
    fixture = str(DATA / car.fixture)
    can = CanSettings(channel=settings.can.channel, car=car.name, dbc=fixture, dbc_unverified=True)
    return dataclasses.replace(settings, can=can)


@pytest.mark.parametrize("car", CARS, ids=[c.name for c in CARS])
def test_the_car_does_what_its_mapping_allows_and_says_what_it_cannot(
    settings: Settings, car: RealCar
) -> None:
    replies = load_replies()
    with open_car(_car_settings(settings, car)) as running:
        assert running.sim is not None
        dialogue = Dialogue(TemplateParser(), running.vehicle)
        done = dialogue.handle(car.ask).settled()
        assert done.reply == car.reply
        signal, value = car.moved
        assert str(running.sim.value(signal)) == value
        tx = [f for f in done.frames if f.direction == "tx"]
        assert tx and tx[0].signals[car.sent[0]] == car.sent[1]
        assert running.sim.rejected == 0
        refused = dialogue.handle(car.cannot)
        assert refused.reply == replies.say("failure.car_cannot")
        assert [f for f in refused.frames if f.direction == "tx"] == []
        signal, value = car.untouched
        time.sleep(0.2)
        assert str(running.sim.value(signal)) == value, "a function the car cannot do moved nothing"


@pytest.mark.parametrize("car", CARS, ids=[c.name for c in CARS])
def test_a_recorded_drive_replays_to_the_state_the_bridge_ended_with(
    settings: Settings, car: RealCar, tmp_path: Path
) -> None:
    path = tmp_path / f"{car.name}_drive.asc"  # .asc keeps each frame's direction
    recorder = Recorder(path)
    with open_car(_car_settings(settings, car)) as running:
        assert running.sim is not None
        unsubscribe = running.bridge.subscribe(recorder)  # what monitor --log does
        heard: set[str] = set()
        stop_hearing = running.bridge.subscribe(lambda frame: heard.add(frame.message))
        statuses = {m.status.message for m in running.bridge.mapping.signals.values() if m.status}
        try:
            dialogue = Dialogue(TemplateParser(), running.vehicle)
            assert dialogue.handle(car.ask).settled().reply == car.reply
            running.sim.set_drive(42.0, "drive")
            deadline = time.monotonic() + 2.0
            while running.bridge.state().get(SPEED) != 42 and time.monotonic() < deadline:
                time.sleep(0.02)
            # every status message at least once in the recording (a slow one may not have come again
            # since the recorder started), so the recording holds all that the bridge believes
            deadline = time.monotonic() + 5.0
            while not statuses <= heard and time.monotonic() < deadline:
                time.sleep(0.02)
            running.sim.stop()  # the car goes quiet: what the bridge believes now is the end state
            time.sleep(0.1)
            final = running.bridge.state()
        finally:
            stop_hearing()
            unsubscribe()
            recorder.close()
    assert final[SPEED] == 42 and final[GEAR] == "drive"
    known = find_car(car.name)
    dbc = DATA / car.fixture
    db = load_dbc(dbc)
    mapping = load_mapping(known.mapping_path)
    protections = check_mapping(mapping, load_allowlist(known.allowlist_path), db, dbc, GPIO_OUTPUTS)
    result = replay_file(path, db, mapping, protections)
    assert result.state == final
    recorded = list(can.LogReader(str(path)))
    sent = {db.get_message_by_frame_id(m.arbitration_id).name for m in recorded if not m.is_rx}
    asked = {m.name for m in db.messages if car.sent[0] in [sig.name for sig in m.signals]}
    assert sent == asked, "the bridge's own command frames are in the recording, marked Tx"
    assert result.counts["bad_checksum"] == result.counts["undecodable"] == result.counts["unknown_id"] == 0


def test_a_number_whose_choices_only_mark_values_outside_its_range_is_still_a_number() -> None:
    """Model3CAN.dbc: DI_uiSpeed [0|510] names raw 511 "DI_UI_SPEED_SNA"; the trunk latch is an enum."""
    db = load_dbc(DATA / "tesla_model3_fixture.dbc")
    speed = db.get_message_by_name("ID257DIspeed").get_signal_by_name("DI_uiSpeed")
    latch = db.get_message_by_name("ID103VCRIGHT_doorStatus").get_signal_by_name("VCRIGHT_trunkLatchStatus")
    assert marks_a_number(speed) and not marks_a_number(latch)
    assert check_value(speed, 42) is None and check_value(speed, "DI_UI_SPEED_SNA") is None
    assert check_value(speed, 600) == "expected a number in 0..510"
    assert check_value(latch, 1) is not None and check_value(latch, "LATCH_OPENED") is None


def test_a_checksum_is_sealed_whatever_range_its_dbc_declares() -> None:
    """opendbc gives Honda's 4-bit GEARBOX_AUTO.CHECKSUM [0|3]; the sum can be anything in 0..15."""
    db = load_dbc(DATA / "honda_crv_touring_2016_fixture.dbc")
    gearbox = db.get_message_by_name("GEARBOX_AUTO")
    protection = protection_for(
        gearbox, algorithm="honda", checksum_signal="CHECKSUM", counter_signal="COUNTER", data_id=None,
        where="GEARBOX_AUTO",
    )
    values = {s.name: 0 for s in gearbox.signals} | {"GEAR_SHIFTER": "R"}
    sums = []
    for counter in range(4):
        data = protection.seal(values, counter)
        assert protection.verify(data) == counter
        sums.append(data[-1] & 0xF)
    assert max(sums) > 3, "a checksum above the DBC's declared 3 was sealed"


@pytest.mark.parametrize("name", ["tesla", "ford", "honda"])
def test_no_shipped_car_commands_a_signal_that_reports_status(name: str) -> None:
    """Writing a status signal fakes another ECU's report (KUKSA's Tesla mapping wrote the trunk latch)."""
    mapping = load_mapping(find_car(name).mapping_path)
    entries = mapping.signals.values()
    reported = {(m.status.message, m.status.signal) for m in entries if m.status is not None}
    commanded = {(m.command.message, m.command.signal) for m in entries if m.command is not None}
    assert commanded and not commanded & reported
