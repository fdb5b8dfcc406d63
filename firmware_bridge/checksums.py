"""Counters and checksums of real command frames, chosen by name from one registry.

cantools encodes a frame's signals but computes neither its rolling counter nor
its checksum; real body controllers ignore a frame whose checksum is wrong or
whose counter did not move.  ``FrameProtection`` seals a frame (counter, then
checksum over the bytes) and verifies one on receive.

The algorithms, by the name a mapping gives in ``checksum: {algorithm: ...}``:

``crc8_sae_j1850``
    AUTOSAR ``Crc_CalculateCRC8`` (poly 0x1D, init 0xFF, xor-out 0xFF; check 0x4B over
    "123456789") over every byte but the checksum's, after the optional data ID byte.
``crc8h2f``
    AUTOSAR ``Crc_CalculateCRC8H2F`` (poly 0x2F, init 0xFF, xor-out 0xFF; check 0xDF)
    over every byte but the checksum's.
``autosar_e2e_p2``
    E2E profile 2: CRC-8H2F over every byte but the checksum's, then one byte of the
    data ID list chosen by the 4-bit counter.  VW MQB is this with its per-message
    "magic" list (opendbc ``VOLKSWAGEN_MQB_MEB_CONSTANTS``); needs ``data_id``.
``honda``
    opendbc ``honda_checksum``: 4-bit, 8 minus the nibble sum of address and data
    (checksum nibble left out), plus 3 for a 29-bit ID.  The checksum is the low
    nibble of the last byte.
``toyota``
    opendbc ``toyota_checksum``: 8-bit, length + address bytes + every data byte but
    the last, which is the checksum.
``xor``
    opendbc ``xor_checksum`` (VW PQ): every byte but the checksum's, XORed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cantools.database
from crccheck.crc import Crc8Autosar, Crc8SaeJ1850

from firmware_bridge.errors import MappingError

Signal = cantools.database.can.Signal
Message = cantools.database.can.Message


def crc8_sae_j1850(data: bytes) -> int:
    """CRC-8 SAE J1850 as AUTOSAR's CRC library defines it."""
    return int(Crc8SaeJ1850.calc(data))


def crc8h2f(data: bytes) -> int:
    """CRC-8H2F (AUTOSAR's ``Crc_CalculateCRC8H2F``)."""
    return int(Crc8Autosar.calc(data))


@dataclass(frozen=True)
class ChecksumInput:
    """What an algorithm may look at: the frame and where its checksum sits."""

    frame_id: int
    data: bytes
    checksum_byte: int
    """Index of the byte holding the checksum (its low nibble for 4-bit checksums)."""
    counter: int
    data_id: tuple[int, ...]
    """The data ID byte(s): one for all frames, or one per counter value (E2E profile 2)."""


def _without(inp: ChecksumInput) -> bytes:
    return inp.data[: inp.checksum_byte] + inp.data[inp.checksum_byte + 1 :]


def _j1850(inp: ChecksumInput) -> int:
    return crc8_sae_j1850(bytes(inp.data_id[:1]) + _without(inp))


def _h2f(inp: ChecksumInput) -> int:
    return crc8h2f(_without(inp))


def _e2e_p2(inp: ChecksumInput) -> int:
    data_id = inp.data_id[inp.counter % len(inp.data_id)]
    return crc8h2f(_without(inp) + bytes([data_id]))


def _honda(inp: ChecksumInput) -> int:
    s = 0
    address = inp.frame_id
    while address:
        s += address & 0xF
        address >>= 4
    for i, byte in enumerate(inp.data):
        x = byte >> 4 if i == len(inp.data) - 1 else byte
        s += (x & 0xF) + (x >> 4)
    s = 8 - s + (3 if inp.frame_id > 0x7FF else 0)
    return s & 0xF


def _toyota(inp: ChecksumInput) -> int:
    s = len(inp.data)
    address = inp.frame_id
    while address:
        s += address & 0xFF
        address >>= 8
    return (s + sum(inp.data[:-1])) & 0xFF


def _xor(inp: ChecksumInput) -> int:
    out = 0
    for byte in _without(inp):
        out ^= byte
    return out


@dataclass(frozen=True)
class ChecksumAlgorithm:
    name: str
    compute: Callable[[ChecksumInput], int]
    bits: int
    """Width of the checksum signal."""
    where: str
    """Where the checksum must sit: "last" (last byte), "any" (any whole byte)."""
    data_id: str
    """"none", "optional" (one byte) or "required" (one byte, or 16 by counter)."""


CHECKSUMS: Mapping[str, ChecksumAlgorithm] = {
    a.name: a
    for a in (
        ChecksumAlgorithm("crc8_sae_j1850", _j1850, 8, "any", "optional"),
        ChecksumAlgorithm("crc8h2f", _h2f, 8, "any", "none"),
        ChecksumAlgorithm("autosar_e2e_p2", _e2e_p2, 8, "any", "required"),
        ChecksumAlgorithm("honda", _honda, 4, "last", "none"),
        ChecksumAlgorithm("toyota", _toyota, 8, "last", "none"),
        ChecksumAlgorithm("xor", _xor, 8, "any", "none"),
    )
}


def _byte_of(sig: Signal, bits: int) -> int | None:
    """The byte a checksum signal of ``bits`` fills (its low nibble for 4 bits), or None if misaligned."""
    if sig.length != bits:
        return None
    # cantools' start is the LSB for little endian, the MSB (DBC numbering) for big endian.
    low = 0 if sig.byte_order == "little_endian" else bits - 1
    return sig.start // 8 if sig.start % 8 == low else None


def raw_values(message: Message, data: bytes) -> dict[str, int]:
    """The frame's raw (unscaled) signal values; raises cantools' DecodeError on a short frame."""
    decoded = message.decode(bytes(data), decode_choices=False, scaling=False)
    assert isinstance(decoded, dict)
    return {name: int(value) for name, value in decoded.items()}  # type: ignore[arg-type]


@dataclass(frozen=True)
class FrameProtection:
    """How one command message is sealed: its counter signal and its checksum."""

    message: Message
    algorithm: ChecksumAlgorithm | None
    checksum: Signal | None
    counter: Signal | None
    data_id: tuple[int, ...] = ()

    @property
    def counter_modulo(self) -> int:
        assert self.counter is not None
        top = self.counter.maximum
        return int(top) + 1 if top is not None else 1 << self.counter.length

    def seal(self, values: Mapping[str, Any], counter: int) -> bytes:
        """Encode ``values`` with the counter at ``counter`` and the checksum computed over the bytes."""
        full = dict(values)
        if self.message.is_multiplexed():
            # Only the signals of the chosen multiplexer values: strict encode refuses the rest.
            full = dict(self.message.gather_signals(full))
        if self.counter is not None:
            full[self.counter.name] = counter % self.counter_modulo
        if self.checksum is not None:
            full[self.checksum.name] = 0
        data = self.message.encode(full, strict=True)
        if self.checksum is None or self.algorithm is None:
            return bytes(data)
        full[self.checksum.name] = self._compute(data, counter)
        # Every value was range-checked above; the checksum fills its bits whatever range the DBC
        # declares (opendbc gives Honda's 4-bit GEARBOX_AUTO.CHECKSUM [0|3]).
        return bytes(self.message.encode(full, strict=False))

    def _compute(self, data: bytes, counter: int) -> int:
        assert self.checksum is not None and self.algorithm is not None
        at = _byte_of(self.checksum, self.algorithm.bits)
        assert at is not None, "checked by protection_for"
        modulo = self.counter_modulo if self.counter is not None else 1
        return self.algorithm.compute(
            ChecksumInput(self.message.frame_id, bytes(data), at, counter % modulo, self.data_id)
        )

    def verify(self, data: bytes) -> int | None:
        """The frame's counter when its checksum is right (0 without a counter), else None.

        Every algorithm leaves the checksum's own bits out, so it runs on the frame as received.
        """
        decoded = raw_values(self.message, data)
        counter = decoded[self.counter.name] if self.counter is not None else 0
        if self.checksum is None or self.algorithm is None:
            return counter
        if self._compute(bytes(data), counter) != decoded[self.checksum.name]:
            return None
        return counter


def protection_for(
    message: Message,
    *,
    algorithm: str | None,
    checksum_signal: str | None,
    counter_signal: str | None,
    data_id: int | Sequence[int] | None,
    where: str,
) -> FrameProtection:
    """Check a mapping's counter/checksum entry against the DBC; raise ``MappingError`` naming ``where``."""

    def signal(name: str, role: str) -> Signal:
        try:
            return message.get_signal_by_name(name)
        except KeyError as err:
            raise MappingError(
                f"{where}: {role} signal {name!r} is not in message {message.name}; "
                f"it has {', '.join(s.name for s in message.signals)}"
            ) from err

    counter = signal(counter_signal, "counter") if counter_signal is not None else None
    if algorithm is None:
        if checksum_signal is not None or data_id is not None:
            raise MappingError(f"{where}: a checksum signal or data_id needs an algorithm")
        return FrameProtection(message, None, None, counter)
    algo = CHECKSUMS.get(algorithm)
    if algo is None:
        raise MappingError(
            f"{where}: unknown checksum algorithm {algorithm!r}; known: {', '.join(sorted(CHECKSUMS))}"
        )
    if checksum_signal is None:
        raise MappingError(f"{where}: checksum algorithm {algorithm} needs the checksum signal's name")
    checksum = signal(checksum_signal, "checksum")
    at = _byte_of(checksum, algo.bits)
    if at is None or (algo.where == "last" and at != message.length - 1):
        place = "the last byte" if algo.where == "last" else "one whole byte"
        if algo.bits == 4:
            place = "the low nibble of the last byte"
        raise MappingError(
            f"{where}: {algorithm} wants a {algo.bits}-bit checksum in {place}; "
            f"{message.name}.{checksum.name} is {checksum.length} bits at bit {checksum.start}"
        )
    ids: tuple[int, ...] = ()
    if data_id is not None:
        ids = (data_id,) if isinstance(data_id, int) else tuple(data_id)
        bad = [i for i in ids if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i <= 0xFF]
        if algo.data_id == "none" or bad or not ids:
            raise MappingError(
                f"{where}: data_id must be a byte (0..255) or a list of 16, and only for "
                f"crc8_sae_j1850 / autosar_e2e_p2; got {data_id!r} for {algorithm}"
            )
    if algo.data_id == "required":
        if len(ids) not in (1, 16):
            raise MappingError(
                f"{where}: {algorithm} needs data_id: one byte or a list of 16 (one per counter)"
            )
        if counter is None:
            raise MappingError(f"{where}: {algorithm} needs a counter signal")
    elif algo.data_id == "optional" and len(ids) > 1:
        raise MappingError(f"{where}: {algorithm} takes one data_id byte, got {len(ids)}")
    return FrameProtection(message, algo, checksum, counter, ids)
