"""The audit log: what the assistant heard, decided and sent, one JSON object per turn.

Where: the ``audit.path`` setting; empty means ``$XDG_STATE_HOME/car-assistant/audit.jsonl``
(``~/.local/state/car-assistant/audit.jsonl`` when XDG_STATE_HOME is unset; a service sets
``/var/lib/car-assistant/audit.jsonl``). The file is local only: nothing here opens a socket.

Each line is written whole, flushed and fsync'd before the turn is over, so a power cut loses at
most the line being written; a torn last line is skipped with a note when read, and the next
write starts on a fresh line. Past ``audit.rotate_mb`` the file moves to ``audit.jsonl.1`` (the
older ones to ``.2`` .. ``.KEEP``). No audio is stored: only text, commands, decisions, frames.

Every decision names the rule that made it: a guard and the speed it saw (``refused``), the
question the car asks first (``asked``), the parser's threshold (``dropped``), the status frames
that confirmed it or their timeout (``acted``). ``story`` tells one entry in plain words; the
``why`` answer and ``car-assistant explain`` both use it.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.vehicle.functions import FUNCTIONS
from assistant.vehicle.guards import GEAR, SPEED

if TYPE_CHECKING:
    from assistant.config import AuditSettings
    from assistant.context import Context
    from assistant.dialogue import Turn
    from assistant.nlu.base import Parser
    from assistant.vehicle.replies import Replies
    from assistant.vehicle.vehicle import Action, Vehicle

log = logging.getLogger(__name__)

SCHEMA = 1
KEEP = 3
"""Rotated files kept beside the live one (audit.jsonl.1 .. .3)."""
FILE_NAME = "audit.jsonl"
OFF_NAME = "audit.off"
"""Beside the log: present while the driver has switched it off (``car-assistant log --off``)."""
DIALOGUE_ONLY = ("assistant.why", "assistant.repeat")
"""Turns that ask about earlier turns: logged, but never what "why" explains."""

# guard name -> the GuardLimits field that is its threshold
GUARD_LIMITS = {
    "trunk_at_walking_speed": "walking_speed_kmh",
    "mirrors_at_walking_speed": "walking_speed_kmh",
    "unlock_below_speed": "unlock_max_speed_kmh",
}
ACTED = {"done": "acted", "moving": "acted", "timeout": "acted", "replaced": "acted"}
DECISIONS = {**ACTED, "confirm": "asked", "refused": "refused", "answered": "answered", "failed": "failed"}


def default_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/car-assistant/audit.jsonl``, else under ``~/.local/state``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "car-assistant" / FILE_NAME


def log_path(setting: str, environ: Mapping[str, str] | None = None) -> Path:
    """The file the ``audit.path`` setting names (empty: ``default_path``)."""
    return Path(setting).expanduser() if setting else default_path(environ)


def switched_off(path: Path) -> bool:
    return path.with_name(OFF_NAME).exists()


def open_log(settings: AuditSettings, environ: Mapping[str, str] | None = None) -> AuditLog | None:
    """The log the settings ask for, or None when it is disabled or switched off."""
    path = log_path(settings.path, environ)
    if not settings.enabled or switched_off(path):
        return None
    return AuditLog(path, int(settings.rotate_mb * 1e6))


@dataclass(frozen=True)
class Heard:
    """What the recognizer heard for a spoken turn (a typed turn has none)."""

    text: str
    confidence: float | None = None
    alternatives: tuple[str, ...] = ()
    chosen: str | None = None
    """The alternative acted on when it was not the best text (the pipeline's rescoring)."""
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    """The voice stages' timings before the dialogue (endpoint_delay, asr_final), in ms."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text, "alternatives": list(self.alternatives)}
        if self.confidence is not None:
            out["confidence"] = round(self.confidence, 3)
        if self.chosen is not None:
            out["chosen"] = self.chosen
        return out


# ---- one turn -> one entry ---------------------------------------------------------------


def _guard_of(action: Action) -> str | None:
    for fn in FUNCTIONS.values():
        for guard in fn.guards:
            if guard.refusal == action.reply:
                return guard.name
    return None


def _speed(state: Mapping[str, Any]) -> float | None:
    v = state.get(SPEED)
    return float(v) if isinstance(v, (int, float)) else None


def decide(
    turn: Turn, state: Mapping[str, Any], vehicle: Vehicle | None = None, parser: Parser | None = None
) -> list[dict[str, Any]]:
    """Each decision of ``turn`` with the rule that made it; ``state`` is the car as the turn saw it."""
    speed = _speed(state)
    if not turn.commands:
        if turn.error:
            rule = "parse_error" if "parse" not in turn.timings_ms else "dialogue_error"
            return [{"decision": "dropped", "rule": rule, "detail": {"error": turn.error}}]
        if not turn.text.strip():
            return [{"decision": "dropped", "rule": "empty_text", "detail": {}}]
        detail: dict[str, Any] = {"engine": getattr(parser, "name", "")}
        threshold = getattr(parser, "threshold", None)
        if isinstance(threshold, (int, float)):
            detail["threshold"] = threshold
        return [{"decision": "dropped", "rule": "no_catalog_command", "detail": detail}]
    out = []
    for i, command in enumerate(turn.commands):
        entry: dict[str, Any] = {"intent": command.intent, "confidence": round(command.confidence, 3)}
        if i >= len(turn.actions):
            entry.update(decision="dropped", rule="earlier_command_failed", detail={})
            out.append(entry)
            continue
        action = turn.actions[i]
        decision = DECISIONS.get(action.status, action.status)
        detail = {}
        if decision == "refused":
            guard = _guard_of(action)
            rule = guard or "request_refused"
            if guard:
                detail["speed_kmh"] = speed
                limit = GUARD_LIMITS.get(guard)
                if limit and vehicle is not None:
                    detail["limit_kmh"] = getattr(vehicle.limits, limit)
        elif decision == "asked":
            rule = "confirm_first"
            if action.intent == "lights.set":
                rule = "headlights_off_while_driving"
                detail["speed_kmh"] = speed
                if vehicle is not None:
                    detail["limit_kmh"] = vehicle.limits.walking_speed_kmh
        elif decision == "acted":
            rule = {"timeout": "status_timeout", "replaced": "replaced_on_its_way"}.get(
                action.status, "confirmed_by_status"
            )
            if action.status == "moving":
                rule = "on_its_way"
            if command.intent == "assistant.confirm":
                detail["after"] = "driver_said_yes"
            elif command.intent == "assistant.undo":
                detail["after"] = "undo"
            detail["guards"] = "passed"
        elif decision == "answered":
            rule = "query" if command.intent == "vehicle.query" else "dialogue"
        else:
            rule = "error"
        entry.update(
            decision=decision,
            status=action.status,
            rule=rule,
            detail=detail,
            acted_on=action.intent,
            targets=action.targets,
            confirmed=action.confirmed,
            timed_out=list(action.timed_out),
            reply=action.reply,
        )
        out.append(entry)
    return out


def entry_of(
    turn: Turn,
    state: Mapping[str, Any],
    *,
    vehicle: Vehicle | None = None,
    parser: Parser | None = None,
    heard: Heard | None = None,
    at: float | None = None,
) -> dict[str, Any]:
    """The audit entry of one turn: plain JSON types only."""
    at = time.time() if at is None else at
    out: dict[str, Any] = {
        "v": SCHEMA,
        "time": datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds"),
        "source": "speech" if heard is not None else "text",
        "text": turn.text,
        "commands": [c.to_json() for c in turn.commands],
        "decisions": decide(turn, state, vehicle, parser),
        "frames": [f.to_json() for f in turn.frames],
        "reply": turn.reply,
        "timings_ms": {
            k: round(v, 2) for k, v in {**(heard.timings_ms if heard else {}), **turn.timings_ms}.items()
        },
        "car": {"speed_kmh": _speed(state), "gear": state.get(GEAR)},
    }
    if heard is not None:
        out["heard"] = heard.to_json()
    if turn.error:
        out["error"] = turn.error
    return out


_FIELDS: dict[str, type] = {
    "v": int, "time": str, "source": str, "text": str, "commands": list, "decisions": list, "frames": list,
    "reply": str, "timings_ms": dict, "car": dict, "heard": dict, "error": str,
}
"""Every field entry_of writes, with its JSON type; v and text are always there."""


def well_formed(entry: Any) -> bool:
    """Whether a parsed line has the shape entry_of writes, so log and explain can read it.

    A line that is JSON but not that shape (a bit flip, another program's line, a hand edit)
    is skipped with a note like a torn one, instead of a TypeError deep in ``explain``.
    """
    if not isinstance(entry, dict) or not {"v", "text"} <= entry.keys():
        return False
    for key, kind in _FIELDS.items():
        value = entry.get(key)
        if key in entry and (not isinstance(value, kind) or isinstance(value, bool)):
            return False
    lists = ("commands", "decisions", "frames")
    return all(isinstance(item, dict) for k in lists for item in entry.get(k, []))


# ---- the file --------------------------------------------------------------------------


@dataclass
class Read:
    """Entries read back, oldest first, and what could not be read."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


_LIVE: weakref.WeakSet[AuditLog] = weakref.WeakSet()


class AuditLog:
    """Appends entries to one local JSON-lines file; fsync'd, rotated by size.

    ``background`` (the default): the caller only serialises the entry and queues the line, a
    writer thread appends and fsyncs it, so a turn does not wait on the disk (an fsync takes ms
    on an SD card); ``flush`` waits for the queue, and runs at exit. A power cut loses what is
    queued, at most the last turn or two.
    """

    def __init__(
        self, path: Path | str, rotate_bytes: int = 5_000_000, keep: int = KEEP, *, background: bool = True
    ) -> None:
        self.path = Path(path)
        self.rotate_bytes = rotate_bytes
        self.keep = keep
        self.background = background
        self._lock = threading.Lock()
        self._queue: queue.Queue[bytes] = queue.Queue()
        self._writer: threading.Thread | None = None
        _LIVE.add(self)

    def files(self) -> list[Path]:
        """The live file and its rotated ones, oldest first (those that exist)."""
        rotated = [self.path.with_name(f"{self.path.name}.{i}") for i in range(self.keep, 0, -1)]
        return [p for p in (*rotated, self.path) if p.exists()]

    def write(self, entry: Mapping[str, Any]) -> None:
        if switched_off(self.path):
            return  # the driver switched it off while the assistant runs
        line = (json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode()
        if not self.background:
            self._append(line)
            return
        with self._lock:
            if self._writer is None:
                self._writer = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._writer.start()
                atexit.register(self.flush)
        self._queue.put(line)

    def flush(self) -> None:
        """Wait until every queued entry is on disk."""
        if self._writer is not None:
            self._queue.join()

    def _flush_same_file(self) -> None:
        # a reader in this process sees what any writer here has queued for the same file
        for other in list(_LIVE):
            if other.path == self.path:
                other.flush()

    def _run(self) -> None:
        while True:
            line = self._queue.get()
            try:
                self._append(line)
            except OSError as err:  # a full or read-only disk must not stop the assistant
                log.warning("audit log %s: %s; entry dropped", self.path, err)
            finally:
                self._queue.task_done()

    def _append(self, line: bytes) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                size = self.path.stat().st_size
            except FileNotFoundError:
                size = 0
            if size and size + len(line) > self.rotate_bytes:
                self._rotate()
                size = 0
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                if size and not self._ends_with_newline(fd, size):
                    line = b"\n" + line  # the last write was torn: never glue onto it
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

    @staticmethod
    def _ends_with_newline(fd: int, size: int) -> bool:
        return os.pread(fd, 1, size - 1) == b"\n"

    def _rotate(self) -> None:
        for i in range(self.keep, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            newer = self.path.with_name(f"{self.path.name}.{i - 1}") if i > 1 else self.path
            if newer.exists():
                os.replace(newer, older)

    def clear(self) -> int:
        """Delete the log and its rotated files; how many files went."""
        self._flush_same_file()
        with self._lock:
            gone = self.files()
            for p in gone:
                p.unlink(missing_ok=True)
        return len(gone)

    def read(self) -> Read:
        """Every entry, oldest first; a line that does not parse (a torn write) is a note, not an error."""
        self._flush_same_file()
        out = Read()
        for p in self.files():
            try:
                raw = p.read_bytes()
            except OSError as err:
                out.notes.append(f"{p}: unreadable ({err.strerror}); skipped")
                continue
            lines = raw.split(b"\n")
            for n, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    where = "last line" if n >= len(lines) - 1 else "line"
                    out.notes.append(f"{p}:{n}: torn {where} skipped (a write cut short by a power cut?)")
                    continue
                if well_formed(entry):
                    out.entries.append(entry)
                else:
                    out.notes.append(f"{p}:{n}: not an audit entry; skipped")
        return out

    def last(self) -> dict[str, Any] | None:
        """The newest entry that "why" may explain (not a why or repeat turn), or None."""
        entries: list[dict[str, Any]] = self.read().entries
        return next((e for e in reversed(entries) if explainable(e)), None)


def explainable(entry: Mapping[str, Any]) -> bool:
    intents = [c.get("intent") for c in entry.get("commands", [])]
    return bool(entry.get("text", "").strip()) and not any(i in DIALOGUE_ONLY for i in intents)


# ---- the dialogue's recorder ---------------------------------------------------------------


class Recorder:
    """Turns -> entries: keeps the last one for "why" and appends each to the log when one is set.

    A window still travelling when its turn ends is written once the travel has ended, so the
    entry holds the status values that confirmed it (or the timeout).
    """

    def __init__(
        self, vehicle: Vehicle | None = None, parser: Parser | None = None, context: Context | None = None
    ) -> None:
        self.vehicle = vehicle
        self.parser = parser
        self.context = context
        self.log: AuditLog | None = None
        self.last: dict[str, Any] | None = None
        self.heard: Heard | None = None
        """Set by the voice side before a spoken turn; used by the next turn only."""
        self.on_write: list[Callable[[dict[str, Any]], None]] = []

    def record(self, turn: Turn) -> dict[str, Any]:
        state = self.vehicle.state() if self.vehicle is not None else {}
        heard, self.heard = self.heard, None
        at = time.time()
        entry = entry_of(turn, state, vehicle=self.vehicle, parser=self.parser, heard=heard, at=at)
        follow = self.context.resolved if self.context is not None else None
        if follow is not None:
            entry["follow_up"] = follow.kind
        if explainable(entry):
            self.last = entry
        pending = [a.then for a in turn.actions if a.then is not None and not a.then.done()]
        if not pending:
            self._write(entry)
            return entry
        left = [len(pending)]
        lock = threading.Lock()

        def one_done(_: Any) -> None:
            with lock:
                left[0] -= 1
                if left[0]:
                    return
            try:
                final = turn.settled(0)
            except Exception:  # a failed travel: log what was known when the turn ended
                final = turn
            settled = entry_of(final, state, vehicle=self.vehicle, parser=self.parser, heard=heard, at=at)
            if "follow_up" in entry:
                settled["follow_up"] = entry["follow_up"]
            if self.last is entry:
                self.last = settled
            self._write(settled)

        for future in pending:
            future.add_done_callback(one_done)
        return entry

    def _write(self, entry: dict[str, Any]) -> None:
        if self.log is not None:
            self.log.write(entry)
        for callback in self.on_write:
            callback(entry)

    def last_entry(self) -> dict[str, Any] | None:
        """The turn "why" is about: this session's last, else the log's newest."""
        if self.last is not None:
            return self.last
        return self.log.last() if self.log is not None else None


# ---- plain words -----------------------------------------------------------------------------


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def _lower_first(text: str) -> str:
    return text if text.startswith(("I ", "I'")) else text[:1].lower() + text[1:]


def _key(d: Mapping[str, Any], replies: Replies) -> str:
    decision, rule, detail = d.get("decision"), d.get("rule", ""), d.get("detail", {})
    key = f"why.{decision}"
    if decision == "refused" and replies.has(f"why.refused_{rule}"):
        key = f"why.refused_{rule}"
    elif decision == "asked" and replies.has(f"why.asked_{rule}"):
        key = f"why.asked_{rule}"
    elif decision == "acted":
        key = {
            "status_timeout": "why.acted_timeout",
            "on_its_way": "why.acted_moving",
            "replaced_on_its_way": "why.acted_replaced",
        }.get(rule, "why.acted")
        if detail.get("after") == "driver_said_yes":
            key = "why.acted_after_yes"
    elif decision == "dropped":
        key = "why.dropped_error" if rule in ("parse_error", "dialogue_error") else "why.dropped"
    return key if replies.has(key) else "why.other"


def story(entry: Mapping[str, Any], replies: Replies) -> str:
    """One or two short sentences: what was said, what was done or not, and why.

    Decisions told by the same sentence are told once, their replies joined ("undone. I've closed
    the rear windows").
    """
    text = entry.get("text", "")
    groups: list[tuple[str, list[Mapping[str, Any]]]] = []
    for d in entry.get("decisions", []):
        key = _key(d, replies)
        if groups and groups[-1][0] == key:
            groups[-1][1].append(d)
        else:
            groups.append((key, [d]))
    parts = []
    for key, ds in groups:
        reply = " ".join(str(d.get("reply", "")).strip() for d in ds if d.get("reply")).strip()
        fields = {"text": text, "reply": reply, "reply_lc": _lower_first(reply.rstrip("."))}
        detail = ds[0].get("detail", {})
        if "speed_kmh" in detail:
            fields["speed"] = _num(detail["speed_kmh"])
            fields["limit"] = _num(detail.get("limit_kmh", "?"))
        parts.append(replies.say(key, **fields))
    return " ".join(dict.fromkeys(p for p in parts if p))


def why(entry: Mapping[str, Any] | None, replies: Replies) -> str:
    """The spoken answer to "why did you do that?"."""
    if entry is None:
        return replies.say("why.nothing")
    return story(entry, replies)


def tail(entries: list[dict[str, Any]], last: int | None = None, since: datetime | None = None) -> Iterator[
    tuple[int, dict[str, Any]]
]:
    """(number, entry) for the entries to show; number 1 is the newest."""
    total = len(entries)
    chosen = []
    for i, entry in enumerate(entries):
        if since is not None:
            try:
                at = datetime.fromisoformat(str(entry.get("time", "")))
            except ValueError:
                continue
            if at < since:
                continue
        chosen.append((total - i, entry))
    if last is not None:
        chosen = chosen[-last:] if last > 0 else []
    yield from chosen
