"""`car-assistant log` and `car-assistant explain` over a log that `car-assistant say` wrote."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assistant.audit import default_path
from assistant.cli import main
from assistant.cli.log import parse_since


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.setenv("CAR_ASSISTANT_NLU_ENGINE", "templates")
    monkeypatch.setenv("CAR_ASSISTANT_CAN_CHANNEL", f"logcli-{os.getpid()}-{tmp_path.name}")
    return default_path()


def _say(text: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["say", text]) == 0
    return capsys.readouterr().out


def test_log_lists_turns_newest_last_and_explain_tells_one(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _say("turn on the air conditioning", capsys)
    _say("what's the weather in paris", capsys)
    out = _say("why did you do that", capsys)
    assert "I heard 'what's the weather in paris' but found no request I can carry out" in out

    assert main(["log"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("   3 ") and "'turn on the air conditioning' -> climate.ac acted" in lines[0]
    assert "(no_catalog_command: engine=templates)" in lines[1]
    assert lines[2].startswith("   1 ") and "assistant.why answered" in lines[2]

    assert main(["log", "--last", "1", "--json"]) == 0
    [entry] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert entry["text"] == "why did you do that"

    assert main(["explain", "3"]) == 0
    story = capsys.readouterr().out
    assert "You typed 'turn on the air conditioning'." in story
    assert 'climate.ac {"state": "on"} (confidence 1.0)' in story
    assert "Decision: climate.ac acted (confirmed_by_status)." in story
    assert "Frames sent: HVAC_FUNC_CMD" in story
    assert "In short: You said 'turn on the air conditioning'; air conditioning on." in story


def test_since_filters_by_time(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _say("turn on the air conditioning", capsys)
    old = json.loads(log.read_text().splitlines()[0])
    old["time"] = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    old["text"] = "an old turn"
    log.write_text(json.dumps(old) + "\n" + log.read_text())
    assert main(["log", "--since", "1h"]) == 0
    out = capsys.readouterr().out
    assert "turn on the air conditioning" in out and "an old turn" not in out
    assert main(["log", "--since", "4h"]) == 0
    assert "an old turn" in capsys.readouterr().out


def test_a_torn_line_is_a_note_not_a_crash(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _say("turn on the air conditioning", capsys)
    with open(log, "a") as f:
        f.write('{"v": 1, "text": "cut sh')
    assert main(["log"]) == 0
    captured = capsys.readouterr()
    assert "turn on the air conditioning" in captured.out
    assert "note: " in captured.err and "audit.jsonl:2: torn last line skipped" in captured.err



def test_a_json_line_of_the_wrong_shape_is_a_note_not_a_crash(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Valid JSON with wrong field types (a bit flip, a hand edit): log and explain gave a TypeError."""
    _say("turn on the air conditioning", capsys)
    with open(log, "a") as f:
        f.write('{"v": 1, "time": 5, "text": 7, "commands": "x", "decisions": 3}\n')
        f.write('{"v": 1}\n')
    for args in (["log"], ["explain", "1"]):
        assert main(args) == 0, args
        captured = capsys.readouterr()
        assert "air conditioning" in captured.out
        assert "audit.jsonl:2: not an audit entry; skipped" in captured.err
        assert "audit.jsonl:3: not an audit entry; skipped" in captured.err


def test_clear_and_off(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _say("turn on the air conditioning", capsys)
    assert log.exists()
    assert main(["log", "--clear"]) == 0
    assert not log.exists()
    assert main(["log", "--off"]) == 0
    _say("turn off the air conditioning", capsys)
    assert not log.exists()
    assert main(["log", "--on"]) == 0
    _say("turn on the air conditioning", capsys)
    assert len(log.read_text().splitlines()) == 1


def test_bad_arguments_give_one_error_line(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "5"]) == 1
    assert "error: no turn 5 in" in capsys.readouterr().err
    assert main(["log", "--since", "yesterday-ish"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --since 'yesterday-ish': give a duration such as 30m")


def test_parse_since() -> None:
    now = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
    assert parse_since("30m", now) == now - timedelta(minutes=30)
    assert parse_since("2h", now) == now - timedelta(hours=2)
    assert parse_since("2026-11-30T19:00+00:00", now) == datetime(2026, 11, 30, 19, 0, tzinfo=UTC)
