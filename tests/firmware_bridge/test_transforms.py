"""Value transforms: enum maps, linear, and the safe math language (parsed, never eval-ed)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.errors import MappingError
from firmware_bridge.transforms import TransformError, parse_math, parse_transform


def test_kuksa_tesla_mirror_transforms_round_trip_the_pan_value() -> None:
    # kuksa-can-provider's Model 3 mapping: dbc2vss floor((x*40)-100), vss2dbc (x+100)/40.
    read = parse_transform({"math": "floor((x*40)-100)"})
    write = parse_transform({"math": "(x+100)/40"})
    assert write.apply(-100) == 0
    assert write.apply(60) == 4
    assert read.apply(4) == 60
    assert read.apply(write.apply(-37)) == -37
    assert isinstance(read.apply(4), int)


def test_every_allowed_function_and_operator_evaluates() -> None:
    cases = {
        "floor(x/3)": 2,
        "ceil(x/3)": 3,
        "round(x/4)": 2,
        "min(x, 3, 9)": 3,
        "max(x, 3)": 7,
        "abs(-x)": 7,
        "-x + 2*3 - 1": -2,
        "+x": 7,
        "floor(abs(x/5))": 1,
        "x*0.5": 3.5,
    }
    for text, expected in cases.items():
        assert parse_transform({"math": text}).apply(7) == expected, text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('true')", "only floor, ceil, round, min, max, abs may be called"),
        ("__import__('os')", "only floor, ceil, round, min, max, abs may be called"),
        ("x ** 2", "operator Pow is not allowed"),
        ("x % 3", "operator Mod is not allowed"),
        ("y + 1", "unknown name 'y'"),
        ("open('f')", "only floor, ceil, round, min, max, abs may be called"),
        ("x.real", "Attribute is not allowed"),
        ("'a'", "only numbers may appear as constants"),
        ("True", "only numbers may appear as constants"),
        ("round(x, ndigits=2)", "without keywords"),
        ("floor(x, 2)", "floor takes 1 argument(s)"),
        ("min(x)", "min takes 2..8 argument(s)"),
        ("x if x else 1", "IfExp is not allowed"),
        ("[x]", "List is not allowed"),
        ("lambda: 1", "Lambda is not allowed"),
        ("x +", "is not an expression"),
        ("x; 1", "is not an expression"),
        ("", "must be an expression in x"),
        ("x" + "+1" * 150, "at most 200"),
    ],
)
def test_unsafe_or_broken_math_is_refused_at_parse(text: str, message: str) -> None:
    with pytest.raises(TransformError) as err:
        parse_math(text)
    assert message in str(err.value)
    assert isinstance(err.value, MappingError)


def test_math_errors_at_apply_are_transform_errors() -> None:
    with pytest.raises(TransformError, match="cannot take x = 0"):
        parse_transform({"math": "1/x"}).apply(0)
    with pytest.raises(TransformError, match="gives inf"):
        parse_transform({"math": "x*1e308*10"}).apply(10)
    with pytest.raises(TransformError, match="needs a number"):
        parse_transform({"math": "x"}).apply("open")


def test_maps_take_our_form_and_kuksas_list_and_booleans_become_0_1() -> None:
    ours = parse_transform({"map": {"LATCH_OPENED": True, "LATCH_AJAR": True, "LATCH_CLOSED": False}})
    kuksa = parse_transform(
        {"map": [{"from": "LATCH_OPENED", "to": True}, {"from": "LATCH_AJAR", "to": True},
                 {"from": "LATCH_CLOSED", "to": False}]}
    )  # fmt: skip
    for t in (ours, kuksa):
        assert t.apply("LATCH_AJAR") == 1
        assert t.apply("LATCH_CLOSED") == 0
        assert t.outputs() == (1, 0)
        with pytest.raises(TransformError, match="'LATCH_FAULT' is not in the map"):
            t.apply("LATCH_FAULT")
    write = parse_transform({"map": {True: "LATCH_OPENED", False: "LATCH_CLOSED"}})
    assert write.apply(1) == "LATCH_OPENED"
    assert write.apply(True) == "LATCH_OPENED"


def test_linear_and_bad_transform_shapes() -> None:
    assert parse_transform({"linear": {"scale": 2.5, "offset": -10}}).apply(4) == 0
    bad = [
        ({"linear": {"scale": 0}}, "scale 0"),
        ({"linear": {"offset": 1}}, "linear takes"),
        ({"linear": {"scale": "2"}}, "finite number"),
        ({"map": {}}, "non-empty"),
        ({"map": [{"from": 1}]}, "from: ..., to: ..."),
        ({"map": [{"from": 1, "to": 2}, {"from": 1, "to": 3}]}, "sends 1 to both 2 and 3"),
        ({"map": {"a": [1]}}, "numbers, booleans or names"),
        ({"scale": 2}, "unknown transform 'scale'"),
        ({"math": "x", "map": {}}, "one of map / linear / math"),
    ]
    for raw, message in bad:
        with pytest.raises(TransformError) as err:
            parse_transform(raw)
        assert message in str(err.value), raw


_EXPR = st.recursive(
    st.sampled_from(["x", "1", "2.5", "0"]),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from("+-*/"), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["floor", "ceil", "abs", "round"]), inner).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(["min", "max"]), inner, inner).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
    ),
    max_leaves=8,
)


@given(_EXPR, st.floats(-1e6, 1e6))
def test_any_expression_of_the_language_gives_a_finite_number_or_a_transform_error(
    text: str, x: float
) -> None:
    if len(text) > 200:
        return
    t = parse_transform({"math": text})
    try:
        out = t.apply(x)
    except TransformError:
        return
    assert isinstance(out, int | float) and math.isfinite(out)


@given(st.text(max_size=40))
def test_random_text_is_parsed_or_refused_never_run(text: str) -> None:
    try:
        parse_math(text)
    except TransformError:
        pass
