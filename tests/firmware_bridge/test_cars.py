"""``can.car`` / ``--car NAME``: a shipped car chosen by name, end to end on its simulated controller.

The Ford's DBC is opendbc's and does not ship; these tests supply the fixture that restates the
facts the Ford mapping needs (tests/data/ford_lincoln_base_pt_fixture.dbc, its source cited inside).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.config import CanSettings, Settings
from assistant.dialogue import Dialogue
from assistant.errors import ConfigError
from assistant.nlu.templates import TemplateParser
from assistant.runtime import bridge_config, open_car
from assistant.vehicle.replies import load_replies
from firmware_bridge.errors import MappingError

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "ford_lincoln_base_pt_fixture.dbc"


@pytest.fixture
def ford(settings: Settings) -> Settings:
    can = CanSettings(channel=settings.can.channel, car="ford", dbc=str(FIXTURE), dbc_unverified=True)
    return dataclasses.replace(settings, can=can)


def test_the_ford_opens_its_liftgate_and_says_what_it_cannot_do(ford: Settings) -> None:
    replies = load_replies()
    with open_car(ford) as car:
        assert car.sim is not None
        dialogue = Dialogue(TemplateParser(), car.vehicle)
        opened = dialogue.handle("open the trunk").settled()
        assert opened.reply == "The trunk is open."
        assert car.sim.value("DrStatTgate_B_Actl") == "Ajar"
        pulses = [f.signals["Power_Liftgate_Rqst"] for f in opened.frames if f.direction == "tx"]
        assert pulses[0] == "Active" and pulses[-1] == "Null"
        # the Ford reports its locks but has no lock request: said so, and nothing sent
        locked = dialogue.handle("lock the doors")
        assert locked.reply == replies.say("failure.car_cannot")
        assert [f for f in locked.frames if f.direction == "tx"] == []
        # no window at all in its mapping
        window = dialogue.handle("open the driver window")
        assert window.reply == replies.say("failure.car_lacks")
        assert [f for f in window.frames if f.direction == "tx"] == []
        assert car.sim.value("Veh_Lock_Status") == "UNLOCK_ALL"


def test_car_flag_picks_the_car_on_the_command_line(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAR_ASSISTANT_CAN_DBC", str(FIXTURE))
    monkeypatch.setenv("CAR_ASSISTANT_CAN_DBC_UNVERIFIED", "1")
    monkeypatch.setenv("CAR_ASSISTANT_CAN_CHANNEL", settings.can.channel)
    assert main(["--car", "ford", "say", "--nlu", "templates", "--json", "lock the doors"]) == 0
    out = capsys.readouterr().out
    assert load_replies().say("failure.car_cannot") in out
    assert main(["--car", "ford", "config"]) == 0
    assert "ford.yaml" in capsys.readouterr().out


def test_a_car_whose_dbc_does_not_ship_asks_for_it(settings: Settings) -> None:
    with pytest.raises(ConfigError, match=r"needs its DBC.*ford_lincoln_base_pt\.dbc.*can\.dbc"):
        bridge_config(dataclasses.replace(settings, can=CanSettings(car="ford")))
    # the fixture is not the file the mapping was written for: refused unless asked for
    with pytest.raises(MappingError, match="sha256"):
        bridge_config(dataclasses.replace(settings, can=CanSettings(car="ford", dbc=str(FIXTURE))))
    with pytest.raises(MappingError, match="no car named 'trabant'; known: reference_car"):
        bridge_config(dataclasses.replace(settings, can=CanSettings(car="trabant")))
    reference = bridge_config(dataclasses.replace(settings, can=CanSettings(car="reference_car")))
    assert reference.dbc_path.name == "reference_car.dbc"
    assert reference.allowlist_path.name == "allowlist.yaml"
