"""The reference DBC against itself and against the vehicle signal model."""

from __future__ import annotations

from typing import Any

import cantools.database
import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.bus import load_dbc, plain
from firmware_bridge.config import DEFAULT_ALLOWLIST, DEFAULT_DBC
from firmware_bridge.mapping import load_allowlist

DB = load_dbc(DEFAULT_DBC)
ALLOWLIST = load_allowlist(DEFAULT_ALLOWLIST)


def physical_values(sig: Any) -> st.SearchStrategy[Any]:
    """Every value ``sig`` can carry: its choice names, or each raw step between minimum and maximum."""
    if sig.choices:
        return st.sampled_from([str(c) for c in sig.choices.values()])
    low = round((sig.minimum - sig.offset) / sig.scale)
    high = round((sig.maximum - sig.offset) / sig.scale)
    return st.integers(low, high).map(lambda raw: sig.offset + raw * sig.scale)


@st.composite
def allowlisted_command(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(sorted(ALLOWLIST.can)))
    message = DB.get_message_by_name(name)
    return name, {sig.name: draw(physical_values(sig)) for sig in message.signals}


@given(allowlisted_command())
def test_every_allowlisted_command_survives_strict_encode_then_decode(
    command: tuple[str, dict[str, Any]],
) -> None:
    name, values = command
    message = DB.get_message_by_name(name)
    data = message.encode(values, strict=True)
    decoded_raw: Any = message.decode(data, decode_choices=True)
    decoded = {k: plain(v) for k, v in decoded_raw.items()}
    assert decoded == pytest.approx(values)


def test_strict_encode_refuses_one_step_outside_every_numeric_range() -> None:
    for name in ALLOWLIST.can:
        message = DB.get_message_by_name(name)
        base: dict[str, Any] = {
            s.name: (str(next(iter(s.choices.values()))) if s.choices else s.minimum) for s in message.signals
        }
        for sig in message.signals:
            if sig.choices or sig.minimum is None or sig.maximum is None:
                continue
            for bad in (sig.minimum - sig.scale, sig.maximum + sig.scale):
                with pytest.raises(cantools.database.EncodeError):
                    message.encode({**base, sig.name: bad}, strict=True)


def test_allowlist_holds_only_command_frames_in_the_0x300_range() -> None:
    assert ALLOWLIST.can, "the allowlist is empty"
    for name, signals in ALLOWLIST.can.items():
        message = DB.get_message_by_name(name)
        assert 0x300 <= message.frame_id <= 0x3FF, name
        assert message.senders == ["ASSISTANT"], name
        assert signals == {s.name for s in message.signals}, name


def test_every_signal_has_a_range() -> None:
    for message in DB.messages:
        for sig in message.signals:
            assert sig.minimum is not None and sig.maximum is not None, f"{message.name}.{sig.name}"


def test_status_messages_are_cyclic_and_in_the_0x500_range() -> None:
    for message in DB.messages:
        if "BCM" in message.senders:
            assert 0x500 <= message.frame_id <= 0x5FF, message.name
            assert message.cycle_time == 100, message.name
