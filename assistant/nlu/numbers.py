"""Numbers as a driver says them: the one reader and the one speller every stage uses.

``parse_number`` reads a number as a driver or a recogniser says it ("twenty
one", "ninety eight point seven", "one oh five point one", "a hundred and
five", "72", "ten percent"). hassil's range lists only know the one spelling
unicode-rbnf produces per number ("one hundred five"), so spoken variants ("a
hundred and five", "and a half", digit by digit "one oh five") are read here;
``numbers_to_digits`` rewrites them inside a sentence so the templates' range
lists see digits.

``spell_number`` goes the other way (22 -> "twenty two", 95.3 -> "ninety five
point three") for the recogniser's language model and the training text; it
uses unicode-rbnf (a hassil dependency), the speller hassil's range lists use,
so both sides spell a number the same way.
"""

from __future__ import annotations

import re
from functools import cache

from unicode_rbnf import RbnfEngine

Number = int | float

_UNITS = {
    "zero": 0,
    "oh": 0,
    "o": 0,
    "nought": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
_TEENS = {
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1000}
_NUMBER_WORDS = set(_UNITS) | set(_TEENS) | set(_TENS) | set(_SCALES)
NUMBER_WORDS = frozenset(_NUMBER_WORDS | {"point", "and", "a", "minus", "negative"})
"""Words a spoken number may use."""
# said after a number; dropped by parse_number ("ten percent" is 10)
_UNIT_WORDS = {
    "percent",
    "per",
    "cent",
    "%",
    "degree",
    "degrees",
    "celsius",
    "centigrade",
    "fahrenheit",
    "mhz",
    "megahertz",
    "khz",
    "kilohertz",
    "hz",
}
_DIGITS = re.compile(r"[-+]?\d+(?:[.,]\d+)?")


def _ascii_digits(word: str) -> bool:
    """'42' yes; '²' or '٤' no: str.isdigit() accepts them but int() refuses superscripts."""
    return word.isascii() and word.isdigit()


def as_number(value: float) -> Number:
    """int where whole: JSON 22, not 22.0."""
    return int(value) if float(value).is_integer() else round(value, 6)


_SIGN = re.compile(r"(?<![\w.])[-\u2212](?=\d)")  # "-40", "−40": a minus, not a hyphen


def _tokens(text: str) -> list[str]:
    text = _SIGN.sub(" minus ", text.lower()).replace("%", " percent ").replace("-", " ")
    return [t for t in re.split(r"[\s,]+", text) if t]


def _chunk_value(words: list[str]) -> tuple[int, int] | None:
    """The number under 100 at the start of ``words``: (value, words used)."""
    if not words:
        return None
    w = words[0]
    if w in _TENS:
        if len(words) > 1 and words[1] in _UNITS and _UNITS[words[1]] > 0 and words[1] not in ("oh", "o"):
            return _TENS[w] + _UNITS[words[1]], 2
        return _TENS[w], 1
    if w in _TEENS:
        return _TEENS[w], 1
    if w in _UNITS:
        return _UNITS[w], 1
    if _ascii_digits(w):
        return int(w), 1
    return None


def _integer(words: list[str]) -> int | None:
    """Whole number from number words, or None if they do not form one."""
    if not words:
        return None
    if len(words) == 1 and _ascii_digits(words[0]):
        return int(words[0])
    if any(w in _SCALES for w in words):
        total, current, i = 0, 0, 0
        while i < len(words):
            w = words[i]
            if w == "and":
                i += 1
                continue
            if w == "a" and i + 1 < len(words) and words[i + 1] in _SCALES:
                current = 1
                i += 1
                continue
            if w in _SCALES:
                scale = _SCALES[w]
                if scale == 100:
                    current = (current or 1) * 100
                else:
                    total += (current or 1) * scale
                    current = 0
                i += 1
                continue
            chunk = _chunk_value(words[i:])
            if chunk is None:
                return None
            # "one hundred five", "fifteen hundred"
            current += chunk[0]
            i += chunk[1]
        return total + current
    # no scale words: one chunk ("twenty one"), or chunks said digit by digit /
    # in pairs ("one oh five" = 105, "ten ten" = 1010)
    chunks: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        chunk = _chunk_value(words[i:])
        if chunk is None:
            return None
        chunks.append(chunk)
        i += chunk[1]
    if len(chunks) == 1:
        return chunks[0][0]
    if words[0] in ("oh", "o", "zero", "nought"):
        return None
    return int("".join(str(value) for value, _ in chunks))


def parse_number(text: str) -> Number | None:
    """The number ``text`` says, as int where whole; None if it is not (only) a number.

    >>> parse_number("ninety eight point seven"), parse_number("a hundred"), parse_number("21")
    (98.7, 100, 21)
    """
    if not isinstance(text, str):
        return None
    grouped = _GROUPED.fullmatch(text.strip())
    if grouped:
        return (-1 if grouped.group(1) else 1) * int(grouped.group(2).replace(",", ""))
    words = _tokens(text)
    while words and words[-1] in _UNIT_WORDS:
        words.pop()
    if not words:
        return None
    sign = 1
    if words[0] in ("minus", "negative"):
        sign, words = -1, words[1:]
    if len(words) == 1 and _DIGITS.fullmatch(words[0]):
        return as_number(sign * float(words[0].replace(",", ".")))
    half = 0.0
    if words[-3:] == ["and", "a", "half"]:
        half, words = 0.5, words[:-3]
    elif words[-2:] in (["and", "half"], ["a", "half"]):
        half, words = 0.5, words[:-2]
    if "point" in words:
        at = words.index("point")
        whole = _integer(words[:at]) if at else 0
        fraction = words[at + 1 :]
        if whole is None or not fraction:
            return None
        digits = []
        for w in fraction:
            if _ascii_digits(w):
                digits.append(w)
            elif w in _UNITS:
                digits.append(str(_UNITS[w]))
            else:
                return None
        return as_number(sign * float(f"{whole}.{''.join(digits)}"))
    if any(not (w in _NUMBER_WORDS or _ascii_digits(w) or w in ("a", "and")) for w in words):
        return None
    whole = _integer(words)
    if whole is None:
        return None
    return as_number(sign * (whole + half))


_RUN_WORD = re.compile(r"^(?:[-\u2212]?\d+(?:\.\d+)?|[-\u2212]?\d{1,3}(?:,\d{3})+)$")
_GROUPED = re.compile(r"([-\u2212]?)(\d{1,3}(?:,\d{3})+)")
"""Digits grouped by thousands, as Whisper writes them ("1,000"): one whole number, not 1 or 10."""
_SIGN_WORDS = ("minus", "negative")


def numbers_to_digits(text: str) -> str:
    """``text`` with every spoken number written as digits ("set it to twenty one" -> "set it to 21")."""
    words = text.split()
    out: list[str] = []
    i = 0
    while i < len(words):
        j = _number_run_end(words, i)
        if j > i:
            value = parse_number(" ".join(words[i:j]))
            if value is not None:
                out.append(str(value))
                i = j
                continue
        out.append(words[i])
        i += 1
    return " ".join(out)


def _is_number_word(word: str) -> bool:
    return word in _NUMBER_WORDS or bool(_RUN_WORD.match(word))


def _number_run_end(words: list[str], start: int) -> int:
    """End of the longest run of number words from ``start`` (``start`` when there is none)."""
    w = [x.lower() for x in words]
    if w[start] in _SIGN_WORDS:
        # "minus 40", "minus forty": the sign belongs to the number after it
        end = _number_run_end(words, start + 1) if start + 1 < len(w) else start + 1
        return end if end > start + 1 else start
    if _RUN_WORD.match(w[start]):
        return start + 1  # digits stand alone: "fan 3 volume 10" is not 310
    i = start
    if w[i] == "a" and i + 1 < len(w) and w[i + 1] in _SCALES:
        i += 1
    elif w[i] not in _NUMBER_WORDS or w[i] in ("oh", "o") or w[i] in _SCALES:
        return start
    end = start
    while i < len(w):
        word = w[i]
        nxt = w[i + 1] if i + 1 < len(w) else ""
        if word in _NUMBER_WORDS:
            i += 1
            end = i
        elif word == "and" and w[i - 1] in _SCALES and nxt in _NUMBER_WORDS:
            i += 1
        elif word == "and" and w[i + 1 : i + 3] == ["a", "half"]:
            i += 3
            end = i
        elif word == "point" and (nxt in _UNITS or _ascii_digits(nxt)):
            i += 1
        else:
            break
    return end


def number_spans(text: str) -> list[tuple[int, int, Number]]:
    """Every number said in ``text``, with its sign and decimals: (char start, char end, value).

    >>> number_spans("set it to minus forty and the fan to 3")
    [(10, 21, -40), (37, 38, 3)]
    """
    found: list[tuple[int, str]] = []  # char start, word without what follows it ("40," "50%")
    for m in re.finditer(r"\S+", text):
        word = re.sub(r"[,.!?;:%]+$", "", m.group())
        if re.fullmatch(r"[A-Za-z]+(?:-[A-Za-z]+)+", word):  # "twenty-one"
            found += [(m.start() + p.start(), p.group()) for p in re.finditer(r"[A-Za-z]+", word)]
        elif word:
            found.append((m.start(), word))
    words = [w.lower() for _, w in found]
    spans: list[tuple[int, int, Number]] = []
    i = 0
    while i < len(words):
        j = _number_run_end(words, i)
        if j > i:
            value = parse_number(" ".join(words[i:j]))
            if value is not None:
                spans.append((found[i][0], found[j - 1][0] + len(found[j - 1][1]), value))
                i = j
                continue
        i += 1
    return spans


def number_in(text: str, start: int, end: int) -> Number | None:
    """The whole number said where ``text[start:end]`` is (a tagger's span may hold part of it:
    "40" of "-40", "99." of "99.99"), or None when no number overlaps it."""
    for a, b, value in number_spans(text):
        if a < end and start < b:
            return value
    return None


@cache
def _rbnf() -> RbnfEngine:
    return RbnfEngine.for_language("en")


def _spell_integer(n: int) -> str:
    # rbnf writes "twenty-two"; recognisers and the templates write words apart
    return str(_rbnf().format_number(n).text).replace("-", " ")


def spell_number(value: int | float | str) -> str:
    """A number as a driver says it: 22 -> 'twenty two', '95.3' -> 'ninety five point three'.

    Decimals are said digit by digit after "point", as written ('95.30' keeps its zero).
    """
    if isinstance(value, str):
        token = value
    else:
        token = str(int(value)) if float(value).is_integer() else f"{value}"
    whole, dot, frac = token.partition(".")
    said = _spell_integer(int(whole or "0"))
    if dot:
        said += " point " + " ".join(_spell_integer(int(d)) for d in frac if d.isdigit())
    return said


def is_spelled_number(text: str) -> bool:
    """True when ``text`` is a number in words only ("twenty two", "ninety five point three")."""
    words = text.lower().split()
    return bool(words) and all(w in _NUMBER_WORDS or w == "point" for w in words)
