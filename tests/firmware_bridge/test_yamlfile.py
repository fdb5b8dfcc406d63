"""The one YAML loader: every mistake is one line naming the file and the line, with what to do."""

from __future__ import annotations

import pytest
import yaml

from firmware_bridge.errors import MappingError
from firmware_bridge.yamlfile import line_of, parse_yaml, refuse_unknown_keys


def test_a_mapping_keeps_its_lines() -> None:
    data = parse_yaml("a: 1\nb:\n  c: 2\n", "f.yaml", MappingError)
    assert data == {"a": 1, "b": {"c": 2}}
    lines = (line_of(data, "a"), line_of(data, "b"), line_of(data["b"]), line_of(data["b"], "c"))
    assert lines == (1, 2, 3, 3)
    assert line_of({"a": 1}, "a") == 0  # not ours: no line known


def test_a_key_given_twice_is_refused_with_both_lines() -> None:
    with pytest.raises(MappingError, match=r"^f\.yaml:3: 'a' is given twice \(first on line 1\); keep one$"):
        parse_yaml("a: 1\nb: 2\na: 3\n", "f.yaml", MappingError)


def test_broken_yaml_names_the_line_and_the_caller_chooses_the_error() -> None:
    with pytest.raises(ValueError, match=r"^f\.yaml:3: .*; fix the YAML there$") as caught:
        parse_yaml("a:\n  b: [1, 2\n", "f.yaml", ValueError)
    assert type(caught.value) is ValueError
    assert isinstance(caught.value.__cause__, yaml.MarkedYAMLError)


def test_the_plain_loader_keeps_the_last_of_a_key_given_twice() -> None:
    assert parse_yaml("a: 1\na: 2\n", "f.yaml", ValueError, loader=yaml.SafeLoader) == {"a": 2}


def test_an_unknown_key_is_refused_by_name_and_line() -> None:
    data = parse_yaml("travel: 1\nspeed: 4\nzoom: 5\n", "p.yaml", ValueError)
    with pytest.raises(ValueError, match=r"^p\.yaml:2: unknown key\(s\) speed, zoom; use travel, moves$"):
        refuse_unknown_keys(data, ("travel", "moves"), "p.yaml", ValueError)
    refuse_unknown_keys({"travel": 1}, ("travel", "moves"), "p.yaml", ValueError)  # known keys pass
