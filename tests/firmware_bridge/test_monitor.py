"""One line per frame for the bus monitor."""

from __future__ import annotations

import re

from firmware_bridge import Frame, format_frame


def test_decoded_frame_line() -> None:
    frame = Frame(
        1795690454.349, "tx", 0x310, b"\x00\x2d", "HVAC_TEMP_CMD", {"Zone": "driver", "TempTarget": 22.5}
    )
    line = format_frame(frame)
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.349 tx 0x310 HVAC_TEMP_CMD Zone=driver TempTarget=22\.5", line), (
        line
    )


def test_unknown_frame_shows_its_bytes() -> None:
    line = format_frame(Frame(0.0, "rx", 0x7DF, b"\x02\x01\x0d", ""))
    assert line.endswith("rx 0x7DF ? [3] 02 01 0d")
