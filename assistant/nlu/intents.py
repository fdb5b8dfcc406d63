"""Load the sentence templates of ``intents/`` as one hassil ``Intents``.

Every ``*.yaml`` file in ``intents/`` except ``replies.yaml`` holds hassil
template data (``intents``, ``lists``, ``expansion_rules``, ``skip_words``).
Loading checks them against the catalog: every intent name, every fixed slot
and every list ``out`` value that a template puts into a slot must be a value
``assistant.catalog`` accepts for that intent's slot. A mistake raises
``IntentsError`` naming the file, the line where YAML gives one, and what to fix.

``intents_hash`` fingerprints the templates' parsed content; a trained model records
it so that a model trained on other templates is refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from hassil import Intents
from hassil.expression import Expression, Group, ListReference, RuleReference, Sentence
from hassil.intents import RangeSlotList, SlotList, TextSlotList
from hassil.parse_expression import parse_sentence

from assistant.catalog import INTENTS as CATALOG_INTENTS
from assistant.catalog import SLOT_SPECS
from assistant.errors import IntentsError
from assistant.package_data import data_path
from firmware_bridge.yamlfile import parse_yaml

INTENTS_DIR = data_path("intents")
"""The shipped template folder: ``intents/`` of the repository, packaged into the wheel."""

REPLIES_FILE = "replies.yaml"
_TOP_KEYS = {"language", "intents", "lists", "expansion_rules", "skip_words", "settings"}


def template_files(dir: Path | str = INTENTS_DIR) -> list[Path]:
    """The template files of ``dir`` in sorted order (``replies.yaml`` is not one)."""
    return sorted(p for p in Path(dir).glob("*.yaml") if p.name != REPLIES_FILE)


def intents_hash(dir: Path | str = INTENTS_DIR) -> str:
    """sha256 hex over the sorted template files' parsed content (cached).

    Per file: its name, NUL, its YAML data as canonical JSON (keys sorted, compact,
    UTF-8), NUL. Comments, quoting and layout do not count, so a comment-only edit
    keeps a trained model usable; a file that is not valid YAML raises
    ``IntentsError`` naming file:line.
    """
    return _hash_cached(*_cache_key(dir))


@lru_cache(maxsize=8)
def _hash_cached(dir: str, _stats: str) -> str:
    digest = hashlib.sha256()
    for path in template_files(dir):
        digest.update(path.name.encode("utf-8"))
        digest.update(b"\0")
        digest.update(canonical_json(_read_yaml(path)).encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def canonical_json(data: Any) -> str:
    """``data`` as JSON that depends on its content only: keys as strings, sorted, no spaces."""

    def plain(node: Any) -> Any:
        if isinstance(node, dict):
            return {str(k): plain(v) for k, v in node.items()}
        if isinstance(node, list | tuple):
            return [plain(v) for v in node]
        return node

    return json.dumps(plain(data), sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class IntentSources:
    """Which file defined each intent, list and expansion rule (for error messages)."""

    intents: dict[str, str]
    lists: dict[str, str]
    rules: dict[str, str]


def load_intents(dir: Path | str = INTENTS_DIR) -> Intents:
    """All template files of ``dir`` merged into one checked hassil ``Intents`` (cached)."""
    return _load_cached(*_cache_key(dir))[0]


def load_sources(dir: Path | str = INTENTS_DIR) -> IntentSources:
    """Where each intent, list and rule of ``load_intents(dir)`` was defined."""
    return _load_cached(*_cache_key(dir))[1]


def _cache_key(dir: Path | str) -> tuple[str, str]:
    # file stats stand in for the content hash so a cached load costs a few stat calls;
    # an edited file changes its size or mtime and is reloaded
    files = template_files(dir)
    stats = []
    for path in files:
        st = path.stat()
        stats.append(f"{path.name}:{st.st_size}:{st.st_mtime_ns}")
    return str(Path(dir).resolve()), "|".join(stats)


@lru_cache(maxsize=8)
def _load_cached(dir: str, _stats: str) -> tuple[Intents, IntentSources]:
    return _load(Path(dir))


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        # the plain safe loader: a key given twice in the templates is not refused here
        data = parse_yaml(path.read_text(encoding="utf-8"), path.name, IntentsError, loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise IntentsError(f"{path.name}: cannot read ({err}); it must be UTF-8 YAML") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise IntentsError(
            f"{path.name}: the top level must be a mapping with keys such as 'intents' and 'lists'"
        )
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise IntentsError(
            f"{path.name}: unknown top-level key(s) {', '.join(sorted(map(str, unknown)))}; "
            f"use {', '.join(sorted(_TOP_KEYS))}"
        )
    return data


def _load(dir: Path) -> tuple[Intents, IntentSources]:
    files = template_files(dir)
    if not files:
        raise IntentsError(f"{dir}: no template files (*.yaml) found; point nlu.intents_dir at a folder "
                           "of hassil templates such as the repository's intents/")
    merged: dict[str, Any] = {
        "language": "en",
        "intents": {},
        "lists": {},
        "expansion_rules": {},
        "skip_words": [],
    }
    sources = IntentSources({}, {}, {})
    for path in files:
        data = _read_yaml(path)
        name = path.name
        if "language" in data:
            merged["language"] = data["language"]
        for key, seen in (("lists", sources.lists), ("expansion_rules", sources.rules)):
            section = data.get(key) or {}
            if not isinstance(section, dict):
                raise IntentsError(f"{name}: '{key}' must be a mapping of names")
            for item in section:
                if item in seen:
                    raise IntentsError(
                        f"{name}: {key[:-1]} {item!r} is already defined in {seen[item]}; rename one"
                    )
                seen[item] = name
            merged[key].update(section)
        skip = data.get("skip_words") or []
        if not isinstance(skip, list) or not all(isinstance(w, str) for w in skip):
            raise IntentsError(f"{name}: 'skip_words' must be a list of strings")
        merged["skip_words"].extend(skip)
        section = data.get("intents") or {}
        if not isinstance(section, dict):
            raise IntentsError(f"{name}: 'intents' must be a mapping of intent names")
        for intent, body in section.items():
            if intent not in CATALOG_INTENTS:
                raise IntentsError(
                    f"{name}: intent {intent!r} is not in the catalog (shared/spec/commands.md); "
                    "use one of its intent names"
                )
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise IntentsError(
                    f"{name}: intent {intent!r} needs 'data:' with a list of 'sentences:' blocks"
                )
            for block in body["data"]:
                if not isinstance(block, dict) or not isinstance(block.get("sentences"), list):
                    raise IntentsError(f"{name}: every data block of {intent!r} needs a 'sentences:' list")
            sources.intents.setdefault(intent, name)
            merged["intents"].setdefault(intent, {"data": []})["data"].extend(body["data"])

    try:
        intents = Intents.from_dict(merged)
    except Exception as err:  # hassil raises bare errors for bad list/rule syntax
        raise IntentsError(
            f"{dir.name}/: cannot build templates ({err}); check lists and expansion_rules"
        ) from err
    _check(intents, sources, dir)
    return intents, sources


def _list_refs(
    expr: Expression, rules: dict[str, Sentence], seen_rules: set[str], where: str
) -> list[ListReference]:
    """Every {list} reference in ``expr``, following <rules>; unknown rules are an error."""
    if isinstance(expr, ListReference):
        return [expr]
    if isinstance(expr, RuleReference):
        if expr.rule_name not in rules:
            raise IntentsError(
                f"{where}: expansion rule <{expr.rule_name}> is not defined; add it to expansion_rules"
            )
        if expr.rule_name in seen_rules:
            return []
        return _list_refs(rules[expr.rule_name].expression, rules, seen_rules | {expr.rule_name}, where)
    if isinstance(expr, Group):
        return [ref for item in expr.items for ref in _list_refs(item, rules, seen_rules, where)]
    return []


def _check_value(intent: str, slot: str, value: Any, where: str) -> None:
    spec = SLOT_SPECS[intent].get(slot)
    if spec is None:
        raise IntentsError(f"{where}: intent {intent!r} has no slot {slot!r} in the catalog; rename the slot")
    if not spec.accepts(value):
        raise IntentsError(
            f"{where}: value {value!r} for {intent} slot {slot!r} is not in the catalog; "
            f"use one of {list(spec.values) if spec.values else f'{spec.minimum}..{spec.maximum}'}"
        )


def _check_list(intent: str, slot: str, slot_list: SlotList, where: str) -> None:
    if isinstance(slot_list, TextSlotList):
        for value in slot_list.values:
            _check_value(intent, slot, value.value_out, where)
    elif isinstance(slot_list, RangeSlotList):
        for bound in (slot_list.start, slot_list.stop):
            _check_value(intent, slot, bound * (slot_list.multiplier or 1), where)


def _check(intents: Intents, sources: IntentSources, dir: Path) -> None:
    for intent in intents.intents.values():
        file = sources.intents[intent.name]
        for data in intent.data:
            rules = {**intents.expansion_rules, **data.expansion_rules}
            lists = {**intents.slot_lists, **data.slot_lists}
            for slot, value in data.slots.items():
                _check_value(intent.name, slot, value, f"{file}: fixed slot of {intent.name}")
            for text in data.sentence_texts:
                where = f"{file}: {intent.name} sentence {text!r}"
                try:
                    sentence = parse_sentence(text, keep_text=True)
                except Exception as err:
                    raise IntentsError(
                        f"{where}: bad template syntax ({err}); check brackets and braces"
                    ) from err
                for ref in _list_refs(sentence.expression, rules, set(), where):
                    if ref.is_inline_range:
                        continue
                    slot_list = lists.get(ref.list_name)
                    if slot_list is None:
                        raise IntentsError(
                            f"{where}: list {{{ref.list_name}}} is not defined; add it under lists"
                        )
                    if ref.slot_name.startswith("_") or _ignored(slot_list):
                        continue
                    list_file = sources.lists.get(ref.list_name, file)
                    _check_list(intent.name, ref.slot_name, slot_list, f"{list_file}: list {ref.list_name!r}")


def _ignored(slot_list: SlotList) -> bool:
    """A text list whose every out value is "" only soaks up words; its slot is dropped."""
    return isinstance(slot_list, TextSlotList) and all(v.value_out == "" for v in slot_list.values)


_BOUND: dict[int, tuple[Intents, dict[tuple[str, str], list[SlotList]]]] = {}


def bound_lists(intents: Intents, intent: str, slot: str) -> list[SlotList]:
    """The lists that templates of ``intent`` read into ``slot``, in template order (cached)."""
    entry = _BOUND.get(id(intents))
    if entry is None or entry[0] is not intents:
        if len(_BOUND) > 16:
            _BOUND.clear()
        entry = _BOUND[id(intents)] = (intents, {})
    key = (intent, slot)
    if key not in entry[1]:
        entry[1][key] = _bound_lists(intents, intent, slot)
    return entry[1][key]


def _bound_lists(intents: Intents, intent: str, slot: str) -> list[SlotList]:
    found: list[SlotList] = []
    names: set[str] = set()
    for data in intents.intents[intent].data if intent in intents.intents else ():
        rules = {**intents.expansion_rules, **data.expansion_rules}
        lists = {**intents.slot_lists, **data.slot_lists}
        for sentence in data.sentences:
            for ref in _list_refs(sentence.expression, rules, set(), intent):
                if ref.slot_name == slot and ref.list_name not in names and ref.list_name in lists:
                    if not _ignored(lists[ref.list_name]):
                        names.add(ref.list_name)
                        found.append(lists[ref.list_name])
    return found
