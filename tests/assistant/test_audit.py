"""The audit log on the real virtual bus with the simulated car: every field for an acted, an
asked, a refused and a dropped turn; "why" for each; torn lines; rotation; clearing and the off
switch; a process killed while writing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.audit import OFF_NAME, AuditLog, Heard, default_path, log_path, open_log
from assistant.config import AuditSettings
from assistant.dialogue import Dialogue
from assistant.nlu.templates import TemplateParser
from assistant.runtime import Car

DATA = Path(__file__).parents[1] / "data"
FIELDS = {"v", "time", "source", "text", "commands", "decisions", "frames", "reply", "timings_ms", "car"}
TRUNK = "Vehicle.Body.Trunk.Rear.IsOpen"


@pytest.fixture(scope="module")
def parser() -> TemplateParser:
    return TemplateParser()


def _flush(dialogue: Dialogue) -> bool:
    assert dialogue.recorder.log is not None
    dialogue.recorder.log.flush()
    return True


def _dialogue(car: Car, parser: TemplateParser, path: Path) -> Dialogue:
    dialogue = Dialogue(parser, car.vehicle)
    dialogue.recorder.log = AuditLog(path)
    return dialogue


def test_acted_turn_records_commands_frames_and_confirmation(
    car: Car, parser: TemplateParser, tmp_path: Path
) -> None:
    log = tmp_path / "audit.jsonl"
    dialogue = _dialogue(car, parser, log)
    dialogue.handle("turn on the air conditioning")
    [entry] = AuditLog(log).read().entries if _flush(dialogue) else []
    assert FIELDS <= set(entry)
    assert entry["source"] == "text" and entry["text"] == "turn on the air conditioning"
    assert entry["commands"] == [{"intent": "climate.ac", "slots": {"state": "on"}, "confidence": 1.0}]
    [d] = entry["decisions"]
    assert (d["decision"], d["rule"], d["status"]) == ("acted", "confirmed_by_status", "done")
    assert d["confirmed"] == {"Vehicle.Cabin.HVAC.IsAirConditioningActive": 1}
    sent = [f for f in entry["frames"] if f["direction"] == "tx"]
    assert sent and sent[0]["message"] == "HVAC_FUNC_CMD"
    assert entry["reply"] == "Air conditioning on."
    assert set(entry["timings_ms"]) == {"parse", "vehicle"}
    assert entry["car"]["speed_kmh"] == 0
    assert "audio" not in json.dumps(entry)
    answer = dialogue.handle("why did you do that?")
    assert answer.reply == (
        "You said 'turn on the air conditioning'; air conditioning on. The car confirmed it."
    )


def test_a_travelling_window_is_written_once_the_car_confirms_it(
    car: Car, parser: TemplateParser, tmp_path: Path
) -> None:
    log = tmp_path / "audit.jsonl"
    dialogue = _dialogue(car, parser, log)
    turn = dialogue.handle("open the passenger window halfway")
    assert turn.actions[0].status == "moving"
    turn.settled(5)
    deadline = time.monotonic() + 2
    while _flush(dialogue) and not AuditLog(log).read().entries and time.monotonic() < deadline:
        time.sleep(0.01)
    [entry] = AuditLog(log).read().entries
    [d] = entry["decisions"]
    assert d["status"] == "done" and d["rule"] == "confirmed_by_status"
    assert d["confirmed"] == {"Vehicle.Cabin.Door.Row1.PassengerSide.Window.Position": 50}


def test_asked_refused_and_dropped_turns_name_their_rule(
    car_at_40: Car, parser: TemplateParser, tmp_path: Path
) -> None:
    log = tmp_path / "audit.jsonl"
    dialogue = _dialogue(car_at_40, parser, log)

    dialogue.handle("turn off the headlights")
    asked = dialogue.handle("why did you ask?")
    assert asked.reply == "I asked before turning off the headlights because we were driving at 40 km/h."
    dialogue.handle("no")

    dialogue.handle("open the trunk")
    refused = dialogue.handle("why didn't you do that")
    assert refused.reply == "I didn't open the trunk because we were driving at 40 km/h."
    assert car_at_40.vehicle.state()[TRUNK] == 0

    dialogue.handle("what's the weather like in paris")
    dropped = dialogue.handle("what happened")
    assert dropped.reply == (
        "I heard 'what's the weather like in paris' but found no request I can carry out, so I did nothing."
    )

    _flush(dialogue)
    entries = AuditLog(log).read().entries
    by_text = {e["text"]: e for e in entries}
    for e in entries:
        assert FIELDS <= set(e)
    ask = by_text["turn off the headlights"]["decisions"][0]
    assert ask["decision"] == "asked" and ask["rule"] == "headlights_off_while_driving"
    assert ask["detail"] == {"speed_kmh": 40.0, "limit_kmh": 6.0}
    assert by_text["turn off the headlights"]["frames"] == []
    trunk = by_text["open the trunk"]
    assert trunk["decisions"][0]["decision"] == "refused"
    assert trunk["decisions"][0]["rule"] == "trunk_at_walking_speed"
    assert trunk["decisions"][0]["detail"] == {"speed_kmh": 40.0, "limit_kmh": 6.0}
    assert trunk["frames"] == [] and trunk["reply"] == "I can't open the trunk while driving."
    drop = by_text["what's the weather like in paris"]
    assert drop["commands"] == []
    assert drop["decisions"] == [
        {"decision": "dropped", "rule": "no_catalog_command", "detail": {"engine": "templates"}}
    ]
    assert [e["text"] for e in entries][-1] == "what happened"


def test_yes_to_a_question_is_explained_as_the_drivers_yes(
    car_at_40: Car, parser: TemplateParser, tmp_path: Path
) -> None:
    dialogue = _dialogue(car_at_40, parser, tmp_path / "audit.jsonl")
    dialogue.handle("turn off the headlights")
    dialogue.handle("yes")
    assert dialogue.handle("why did you do that").reply == (
        "You said yes to my question, so headlights off. The car confirmed it."
    )


def test_why_with_nothing_done_yet_and_why_never_acts(
    car: Car, parser: TemplateParser, tmp_path: Path
) -> None:
    dialogue = _dialogue(car, parser, tmp_path / "audit.jsonl")
    assert dialogue.handle("what did you just do").reply == "I haven't done anything yet."
    # a why beside a command only asks: nothing is sent
    turn = dialogue.handle("why did you do that and open the trunk")
    assert [c.intent for c in turn.commands] == ["assistant.why"]
    assert turn.frames == () and car.vehicle.state()[TRUNK] == 0


def test_a_new_session_answers_why_from_the_log(car: Car, parser: TemplateParser, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    first = _dialogue(car, parser, log)
    first.handle("turn on the air conditioning")
    _flush(first)
    later = _dialogue(car, parser, log)
    assert later.handle("why did you do that").reply.startswith(
        "You said 'turn on the air conditioning'"
    )


def test_speech_turn_records_what_was_heard(car: Car, parser: TemplateParser, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    dialogue = _dialogue(car, parser, log)
    dialogue.recorder.heard = Heard("turn on the air condition", 0.71, ("turn on the air conditioning",))
    dialogue.handle("turn on the air conditioning")
    dialogue.handle("turn off the air conditioning")
    _flush(dialogue)
    first, second = AuditLog(log).read().entries
    assert first["source"] == "speech"
    assert first["heard"] == {
        "text": "turn on the air condition",
        "alternatives": ["turn on the air conditioning"],
        "confidence": 0.71,
    }
    assert second["source"] == "text" and "heard" not in second


def _entry(i: int) -> dict[str, object]:
    return {"v": 1, "time": f"2026-11-30T20:00:{i % 60:02d}+00:00", "text": f"turn {i}", "decisions": []}


def test_a_torn_last_line_is_skipped_with_a_note_and_the_next_write_starts_fresh(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", background=False)
    for i in range(3):
        log.write(_entry(i))
    with open(log.path, "ab") as f:
        f.write(b'{"v": 1, "text": "turn 3", "deci')  # the power went here
    read = log.read()
    assert [e["text"] for e in read.entries] == ["turn 0", "turn 1", "turn 2"]
    assert len(read.notes) == 1 and "audit.jsonl:4: torn last line skipped" in read.notes[0]
    log.write(_entry(4))
    read = log.read()
    assert [e["text"] for e in read.entries] == ["turn 0", "turn 1", "turn 2", "turn 4"]
    assert len(read.notes) == 1 and ":4: torn line skipped" in read.notes[0]


def test_rotation_by_size_keeps_three_older_files(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", rotate_bytes=1000, background=False)
    size = len(json.dumps(_entry(10), separators=(",", ":"))) + 1
    for i in range(100):
        log.write(_entry(i))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2", "audit.jsonl.3"]
    assert all(p.stat().st_size <= 1000 for p in tmp_path.iterdir())
    texts = [e["text"] for e in log.read().entries]
    per_file = 1000 // size
    assert texts[-1] == "turn 99" and len(texts) > 3 * per_file
    assert texts == [f"turn {i}" for i in range(100 - len(texts), 100)]  # oldest first, none between lost


def test_clear_and_the_off_switch(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, rotate_bytes=200, background=False)
    for i in range(5):
        log.write(_entry(i))
    assert log.clear() >= 2 and not any(tmp_path.iterdir())
    path.with_name(OFF_NAME).touch()
    log.write(_entry(0))
    assert not path.exists()
    assert open_log(AuditSettings(path=str(path))) is None
    path.with_name(OFF_NAME).unlink()
    assert isinstance(open_log(AuditSettings(path=str(path))), AuditLog)
    assert open_log(AuditSettings(enabled=False, path=str(path))) is None


def test_default_path_follows_xdg_state_home(tmp_path: Path) -> None:
    assert default_path({"XDG_STATE_HOME": "/x"}) == Path("/x/car-assistant/audit.jsonl")
    assert default_path({}) == Path.home() / ".local/state/car-assistant/audit.jsonl"
    assert log_path("", {"XDG_STATE_HOME": "/x"}) == Path("/x/car-assistant/audit.jsonl")
    assert log_path(str(tmp_path / "a.jsonl")) == tmp_path / "a.jsonl"


WRITER = """
import sys, time
from assistant.audit import AuditLog
log = AuditLog(sys.argv[1], rotate_bytes=10**9)
i = 0
while True:
    log.write({"v": 1, "text": f"turn {i}", "decisions": [], "pad": "x" * 300})
    i += 1
"""


def test_a_process_killed_while_writing_loses_at_most_the_last_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], env=env)
    try:
        deadline = time.monotonic() + 60
        while (not path.exists() or path.read_bytes().count(b"\n") < 500) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    read = AuditLog(path).read()
    assert len(read.entries) >= 500
    assert len(read.notes) <= 1
    assert [e["text"] for e in read.entries] == [f"turn {i}" for i in range(len(read.entries))]
