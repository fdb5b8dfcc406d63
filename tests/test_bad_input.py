"""Bytes that are not UTF-8 on stdin: every line gets an answer, the session carries on."""

from __future__ import annotations

import json
import os
import subprocess
import sys

LINES = b"open the trunk\n\xff\xfe\nlock the doors\n"  # the reproduction (issue 9, item 12)


def run(*args: str | bytes, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args], input=stdin, capture_output=True, timeout=120
    )


def test_parse_answers_every_line_and_an_undecodable_one_with_an_error() -> None:
    p = run("parse", "--json", "-", stdin=LINES)  # the default engine, the language model
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    outs = [json.loads(line) for line in p.stdout.decode("utf-8").splitlines()]
    assert [o["text"] for o in outs] == ["open the trunk", "\ufffd\ufffd", "lock the doors"]
    assert outs[0]["commands"][0]["intent"] == "trunk.open"
    assert outs[1]["commands"] == []
    assert outs[1]["error"] == "the text is not valid UTF-8 (bytes ff fe at character 1); send UTF-8 text"
    assert outs[2]["commands"][0]["intent"] == "doors.lock"


def test_parse_of_an_undecodable_argument_is_one_error_line() -> None:
    p = run("parse", "--json", "--nlu", "templates", os.fsencode("lock \udcff"))
    assert p.returncode == 1
    assert p.stderr.decode() == (
        "error: the text is not valid UTF-8 (bytes ff at character 6); send UTF-8 text\n"
    )


def test_say_of_an_undecodable_argument_is_one_error_line_and_no_frame() -> None:
    p = run("say", "--json", os.fsencode("unlock \udcff"))
    assert p.returncode == 1
    assert p.stdout == b""
    assert p.stderr.decode() == (
        "error: the text is not valid UTF-8 (bytes ff at character 8); send UTF-8 text\n"
    )


def test_console_survives_an_undecodable_line_and_keeps_its_state() -> None:
    p = run("console", stdin=LINES + b"undo\n")
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    out = p.stdout.decode("utf-8")
    assert "error: the text is not valid UTF-8 (bytes ff fe at character 1)" in out
    # the line after it is answered, and the session still knows what it did before
    assert "Cabin.Door.Row1.DriverSide.IsLocked: 0 -> 1" in out
    assert "Cabin.Door.Row1.DriverSide.IsLocked: 1 -> 0" in out
