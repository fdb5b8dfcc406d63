"""`car-assistant log` and `car-assistant explain`: the audit log read back, and one turn told in words.

``log [--last N] [--json] [--since TIME]`` lists turns (number 1 is the newest); ``--clear``
deletes the log, ``--off`` / ``--on`` switch it off and on again (a marker file beside it, which the
running assistant checks before each write). ``explain [N]`` tells turn N's story.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from assistant.audit import OFF_NAME, AuditLog, log_path, story, switched_off, tail
from assistant.config import load_settings
from assistant.errors import ConfigError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d)")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """'30m', '2h', '1d' (that long ago) or an ISO time ('2026-11-30T20:15', local when no zone)."""
    now = now or datetime.now(UTC)
    m = _DURATION.fullmatch(value.strip())
    if m:
        return now - timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError as err:
        raise ConfigError(
            f"--since {value!r}: give a duration such as 30m, 2h or 1d, or a time such as 2026-11-30T20:15"
        ) from err
    return at.astimezone(UTC) if at.tzinfo is None else at


def _open(args: argparse.Namespace) -> AuditLog:
    settings, _ = load_settings(args.config)
    return AuditLog(log_path(settings.audit.path), int(settings.audit.rotate_mb * 1e6))


def _notes(notes: list[str]) -> None:
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def _decision_text(d: Mapping[str, Any]) -> str:
    detail = d.get("detail", {})
    extra = ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in detail.items() if k != "guards"
    )
    head = f"{d.get('intent', '-')} {d.get('decision')}" if d.get("intent") else str(d.get("decision"))
    return f"{head} ({d.get('rule')}{': ' + extra if extra else ''})"


def line_of(number: int, entry: Mapping[str, Any]) -> str:
    at = str(entry.get("time", ""))[:19].replace("T", " ")
    decisions = "; ".join(_decision_text(d) for d in entry.get("decisions", []))
    follow = f" (follow-up: {entry['follow_up']})" if entry.get("follow_up") else ""
    said = f"{entry.get('source', '?'):<6} {entry.get('text', '')!r}{follow}"
    reply = f"  | {entry['reply']}" if entry.get("reply") else ""
    return f"{number:>4}  {at}  {said} -> {decisions}{reply}"


def cmd_log(args: argparse.Namespace) -> int:
    audit = _open(args)
    marker = audit.path.with_name(OFF_NAME)
    if args.clear:
        n = audit.clear()
        print(f"cleared the audit log: {n} file(s) under {audit.path.parent}")
        return 0
    if args.off:
        marker.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        marker.touch()
        print(f"audit log switched off ({marker}); `car-assistant log --on` switches it back on")
        return 0
    if args.on:
        marker.unlink(missing_ok=True)
        print(f"audit log switched on: {audit.path}")
        return 0
    since = parse_since(args.since) if args.since else None
    if args.last is not None and args.last < 0:
        raise ConfigError(f"--last {args.last}: give a count of 0 or more")
    read = audit.read()
    _notes(read.notes)
    shown = list(tail(read.entries, args.last, since))
    for number, entry in shown:
        print(json.dumps(entry, ensure_ascii=False) if args.json else line_of(number, entry))
    if not args.json and not shown:
        state = " (switched off)" if switched_off(audit.path) else ""
        print(f"no turns in {audit.path}{state}", file=sys.stderr)
    return 0


def explain_text(number: int, entry: Mapping[str, Any], replies: Any) -> str:
    """The story of one turn: when, what was heard, read, decided (and by which rule), sent, said."""
    lines = [f"Turn {number}, {str(entry.get('time', '?')).replace('T', ' ')}, {entry.get('source', '?')}."]
    heard = entry.get("heard")
    if heard:
        conf = f" (confidence {heard['confidence']})" if "confidence" in heard else ""
        lines.append(f"I heard {heard.get('text', '')!r}{conf}.")
        if heard.get("alternatives"):
            lines.append("Other hearings: " + ", ".join(repr(a) for a in heard["alternatives"][:5]) + ".")
        if heard.get("chosen"):
            lines.append(f"I acted on {heard['chosen']!r}, which the templates match exactly.")
    else:
        lines.append(f"You typed {entry.get('text', '')!r}.")
    commands = entry.get("commands", [])
    if commands:
        read = ", ".join(
            f"{c['intent']} {json.dumps(c.get('slots', {}))} (confidence {c.get('confidence')})"
            for c in commands
        )
        lines.append(f"I read it as: {read}.")
    if entry.get("follow_up"):
        lines.append(f"It was a follow-up ({entry['follow_up']}) to the turn before, rewritten from it.")
    for d in entry.get("decisions", []):
        lines.append(f"Decision: {_decision_text(d)}.")
        if d.get("confirmed"):
            lines.append(f"  The car's status frames confirmed {json.dumps(d['confirmed'])}.")
        if d.get("timed_out"):
            lines.append(f"  No confirming status for {', '.join(d['timed_out'])}.")
    frames = entry.get("frames", [])
    sent = [f for f in frames if f.get("direction") == "tx"]
    if sent:
        lines.append(
            "Frames sent: "
            + "; ".join(f"{f.get('message')} {f.get('id')} {json.dumps(f.get('signals', {}))}" for f in sent)
            + "."
        )
    else:
        lines.append("No frames were sent.")
    if entry.get("reply"):
        lines.append(f"I said: {entry['reply']!r}")
    timings = entry.get("timings_ms", {})
    if timings:
        lines.append("Timings: " + ", ".join(f"{k} {v} ms" for k, v in timings.items()) + ".")
    lines.append("In short: " + story(entry, replies))
    return "\n".join(lines)


def cmd_explain(args: argparse.Namespace) -> int:
    from assistant.vehicle.replies import load_replies

    audit = _open(args)
    read = audit.read()
    _notes(read.notes)
    total = len(read.entries)
    if args.n < 1 or args.n > total:
        raise ConfigError(
            f"no turn {args.n} in {audit.path}: it holds {total} turn(s); `car-assistant log` lists them"
        )
    entry = read.entries[total - args.n]
    print(explain_text(args.n, entry, load_replies()))
    return 0


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add("log", cmd_log, "the audit log: what was heard, decided, sent and said, one line per turn")
    p.add_argument("--last", type=int, metavar="N", help="only the newest N turns")
    p.add_argument("--json", action="store_true", help="one JSON object per turn, as stored")
    p.add_argument("--since", metavar="TIME", help="turns since TIME: 30m, 2h, 1d or 2026-11-30T20:15")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--clear", action="store_true", help="delete the log and its rotated files")
    g.add_argument("--off", action="store_true", help="stop keeping the log (the running assistant too)")
    g.add_argument("--on", action="store_true", help="keep the log again")
    p = add("explain", cmd_explain, "one turn of the audit log told in plain words")
    p.add_argument("n", nargs="?", type=int, default=1, help="turn number, 1 = the newest (default)")
