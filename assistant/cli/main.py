"""car-assistant: the offline in-car voice assistant's one console script.

Errors: one ``error: ...`` line naming what to do and exit 1; ``--debug``
shows the traceback.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import yaml

from assistant import __version__
from assistant.cli import car as car_cli
from assistant.config import Settings, settings_from_args
from assistant.errors import AssistantError, ConfigError, InputError
from assistant.nlu.base import REGISTRY as NLU_ENGINES
from firmware_bridge.config import INTERFACES
from firmware_bridge.errors import BridgeError


def _settings(args: argparse.Namespace) -> tuple[Settings, str | None]:
    return settings_from_args(args)


# -- parse ---------------------------------------------------------------------


def cmd_parse(args: argparse.Namespace) -> int:
    from assistant.runtime import open_parser

    settings, _ = _settings(args)
    parser = open_parser(settings)
    from_stdin = args.text == ["-"]
    if from_stdin:
        _keep_undecodable_stdin()
    lines = sys.stdin if from_stdin else [" ".join(args.text)]
    for line in lines:
        text = line.rstrip("\n")
        try:
            _check_utf8(text)
            result = parser.parse(text).to_json()
        except AssistantError as err:
            if not from_stdin:
                raise
            # one bad line must not shift the JSON Lines that follow it
            result = {"text": _printable(text), "commands": [], "error": str(err)}
        if args.json:
            print(json.dumps(result, ensure_ascii=False), flush=True)
        else:
            _print_commands(result["commands"])
    return 0


def _seconds(text: str) -> float:
    """--seconds: a finite number > 0 (nan or -1 ended monitor at once, silently, with exit 0)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds > 0, e.g. 5")
    return value


def _keep_undecodable_stdin() -> None:
    """Bytes that are not UTF-8 reach the line loop as surrogates instead of ending the session."""
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="surrogateescape")


def _check_utf8(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raw = text[err.start : err.end].encode("utf-8", "surrogateescape").hex(" ")
        raise InputError(
            f"the text is not valid UTF-8 (bytes {raw} at character {err.start + 1}); send UTF-8 text"
        ) from err


def _printable(text: str) -> str:
    """``text`` with undecodable bytes shown as U+FFFD, safe to print."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _print_commands(commands: Sequence[dict[str, Any]], indent: str = "") -> None:
    if not commands:
        print(f"{indent}(no command)")
    for c in commands:
        print(f"{indent}{c['intent']} {json.dumps(c['slots'])}  ({c['confidence']:.2f})")


# -- say / console ---------------------------------------------------------------


def cmd_say(args: argparse.Namespace) -> int:
    from assistant.runtime import open_car, open_dialogue

    settings, _ = _settings(args)
    text = " ".join(args.text)
    _check_utf8(text)
    with open_car(settings) as car:
        dialogue = open_dialogue(settings, car)
        # one-shot: the answer shows how the request ended, windows included
        turn = dialogue.handle(text).settled()
    if args.json:
        print(json.dumps(turn.to_json(), ensure_ascii=False))
    else:
        _print_commands([c.to_json() for c in turn.commands], "  ")
        for frame in turn.frames:
            from firmware_bridge import format_frame

            print("  " + format_frame(frame))
        print(turn.reply)
    return 0


def _dashboard(state: dict[str, Any], machines: dict[str, str]) -> str:
    from assistant.vehicle.functions import FUNCTIONS

    rows = [
        f"  speed {state.get('Vehicle.Speed', '?')} km/h, gear "
        f"{state.get('Vehicle.Powertrain.Transmission.SelectedGear', '?')}"
    ]
    groups: dict[str, list[str]] = {}
    for name, fn in FUNCTIONS.items():
        head = name.split(".")[0]
        value = state.get(fn.signal, "?")
        if isinstance(value, float):
            value = f"{value:g}"
        mark = "" if machines[name] in ("set", "on", "off", "open", "closed") else f"[{machines[name]}]"
        groups.setdefault(head, []).append(f"{name.partition('.')[2] or head}={value}{mark}")
    for head, items in groups.items():
        rows.append(f"  {head:<10} " + " ".join(items))
    return "\n".join(rows)


def cmd_console(args: argparse.Namespace) -> int:
    from assistant.runtime import open_car, open_dialogue

    settings, _ = _settings(args)
    try:
        import readline  # noqa: F401  (line editing and history for input())
    except ImportError:
        pass
    with open_car(settings) as car:
        dialogue = open_dialogue(settings, car)
        print(
            f"car-assistant console: nlu={settings.nlu.engine}, bus={settings.can.interface}:"
            f"{settings.can.channel}{', simulated car' if car.sim else ''}"
        )
        print("Type a request; ':state' shows the car, ':frames' toggles CAN frames, ':quit' leaves.")
        show_frames = False
        print(_dashboard(car.bridge.state(), car.vehicle.describe()))
        _keep_undecodable_stdin()
        while True:
            try:
                text = input("you> ")
            except EOFError:
                print()
                return 0
            try:
                _check_utf8(text)
            except InputError as err:
                print(f"  error: {err}")  # the session and its state carry on
                continue
            if text.strip() in (":quit", ":q", "exit", "quit"):
                return 0
            if text.strip() == ":state":
                print(_dashboard(car.bridge.state(), car.vehicle.describe()))
                continue
            if text.strip() == ":frames":
                show_frames = not show_frames
                print(f"  frames {'on' if show_frames else 'off'}")
                continue
            before = car.bridge.state()
            turn = dialogue.handle(text)
            _print_commands([c.to_json() for c in turn.commands], "  ")
            if show_frames:
                from firmware_bridge import format_frame

                for frame in turn.frames:
                    print("  " + format_frame(frame))
            print(f"car> {turn.reply}")
            settled = turn.settled()  # windows: the reply came when they started moving
            if settled.reply != turn.reply:
                print(f"car> {settled.reply[len(turn.reply):].strip()}")
            after = car.bridge.state()
            changed = [
                f"{k.removeprefix('Vehicle.')}: {before.get(k)} -> {v}"
                for k, v in after.items()
                if before.get(k) != v and k != "Vehicle.Speed"
            ]
            for line in changed:
                print(f"  {line}")


# -- monitor / ecu-sim ------------------------------------------------------------


def cmd_monitor(args: argparse.Namespace) -> int:
    from assistant.runtime import open_car, open_dialogue
    from firmware_bridge import Frame, format_frame

    settings, _ = _settings(args)
    last: dict[str, Any] = {}

    lock = threading.Lock()  # the receive thread and the --say replies print lines: whole lines only

    def out(line: str) -> None:
        with lock:
            print(line, flush=True)

    def show(frame: Frame) -> None:
        if not args.all and frame.direction == "rx" and last.get(frame.message) == frame.data:
            return
        last[frame.message] = frame.data
        out(json.dumps(frame.to_json(), ensure_ascii=False) if args.json else format_frame(frame))

    recorder = None
    if args.log:
        from firmware_bridge.recording import Recorder

        recorder = Recorder(args.log)  # first: a bad file name fails before the car starts
    with open_car(settings) as car:
        unsubscribe = car.bridge.subscribe(show)
        unrecord = car.bridge.subscribe(recorder) if recorder is not None else None
        try:
            if args.say:
                dialogue = open_dialogue(settings, car)
                for text in args.say:
                    reply = dialogue.handle(text).reply
                    if args.json:
                        out(json.dumps({"say": text, "reply": reply}, ensure_ascii=False))
                    else:
                        out(f"# {text!r} -> {reply}")
            deadline = None if args.seconds is None else time.monotonic() + args.seconds
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.1)
        except KeyboardInterrupt:
            pass
        finally:
            unsubscribe()
            if unrecord is not None and recorder is not None:
                unrecord()
                recorder.close()
                print(f"# {recorder.frames} frames written to {recorder.path}", file=sys.stderr)
    return 0


def cmd_ecu_sim(args: argparse.Namespace) -> int:
    from assistant.runtime import bridge_config
    from firmware_bridge import run_ecu_sim

    settings, _ = _settings(args)
    if settings.can.interface == "virtual":
        print(
            "note: on a virtual bus only this process can reach the simulator; "
            "use --can-interface socketcan --can-channel vcan0 for a bench",
            file=sys.stderr,
        )
    run_ecu_sim(
        bridge_config(settings),
        duration_s=args.seconds,
        window_travel_s=settings.sim.window_travel_s,
        scenario=settings.sim.scenario,
    )
    return 0


# -- start -------------------------------------------------------------------------


def cmd_start(args: argparse.Namespace) -> int:
    """The README's main command: live voice when a microphone exists, else the simulated drive."""
    from assistant.audio import AudioDeviceError, Microphone

    try:
        with Microphone():
            pass
    except AudioDeviceError as err:
        from assistant.runtime import check_scripted_bus

        # the scripted drive moves windows and locks: never on a real car's bus
        check_scripted_bus(_settings(args)[0])
        first = str(err).splitlines()[0]
        print(f"no microphone here ({first}); running the simulated bench drive instead", flush=True)
        mode = ["simulate"]
    else:
        mode = ["run"]
    prefix = (["--debug"] if args.debug else []) + (["--config", args.config] if args.config else [])
    prefix += ["--car", args.global_car] if args.global_car else []
    return main([*prefix, *mode])


# -- config ------------------------------------------------------------------------


def cmd_config(args: argparse.Namespace) -> int:
    from assistant.runtime import bridge_config

    settings, source = _settings(args)
    print(f"# config file: {source or 'none'}; then environment, then flags")
    data = settings.to_dict()
    config = bridge_config(settings)
    data["bridge"] = {
        "dbc": str(config.dbc_path),
        "mapping": str(config.mapping_path),
        "allowlist": str(config.allowlist_path),
    }
    print(yaml.safe_dump(data, sort_keys=False).rstrip())
    return 0


# -- status ------------------------------------------------------------------------


def cmd_status(args: argparse.Namespace) -> int:
    from assistant.status import collect, problems

    settings, source = _settings(args)
    status = collect(settings, source)
    if args.json:
        print(json.dumps(status, ensure_ascii=False))
    else:
        print(yaml.safe_dump(status, sort_keys=False).rstrip())
    trouble = problems(status)
    for line in trouble:
        print(f"problem: {line}", file=sys.stderr)
    return 1 if trouble else 0


# -- service -----------------------------------------------------------------------


def cmd_service(args: argparse.Namespace) -> int:
    from assistant.service import serve

    settings, _ = _settings(args)
    return serve(settings, text_input=args.text)


# -- wiring ------------------------------------------------------------------------


def build_argparser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="car-assistant", description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--debug", action="store_true", help="show tracebacks")
    ap.add_argument("--config", metavar="FILE", help="YAML config file (see README: Configuration)")
    ap.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    ap.add_argument(
        "--car", dest="global_car", metavar="NAME", help="which car (car-assistant car list); sets can.car"
    )
    ap.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], help="default: logging.level (warning)"
    )
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str,
        func: Callable[[argparse.Namespace], int],
        help: str,
        nlu: bool = False,
        can: bool = False,
        **parser_options: Any,
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, **parser_options)
        if nlu:
            p.add_argument("--nlu", choices=NLU_ENGINES.choices, help="language engine")
        if can:
            p.add_argument("--can-interface", choices=INTERFACES, help="python-can interface")
            p.add_argument("--can-channel", metavar="NAME", help="bus channel (vehicle0, can0, vcan0)")
            p.add_argument(
                "--no-sim",
                action="store_true",
                help="do not run the simulated car (a real car or ecu-sim is on the bus)",
            )
        p.set_defaults(func=func)
        return p

    p = add("parse", cmd_parse, "text -> catalog commands, nothing sent", nlu=True)
    p.add_argument("text", nargs="+", help="the utterance, or - to read one per line from stdin")
    p.add_argument("--json", action="store_true", help="print the commands.md JSON contract")

    p = add("say", cmd_say, "one request end to end: commands, CAN frames, reply", nlu=True, can=True)
    p.add_argument("text", nargs="+")
    p.add_argument("--json", action="store_true", help="commands, actions, frames and reply as JSON")

    add("console", cmd_console, "interactive text console with the live vehicle state", nlu=True, can=True)

    p = add("monitor", cmd_monitor, "bus monitor: frames decoded with the DBC", nlu=True, can=True)
    p.add_argument("--seconds", type=_seconds, help="stop after this long (default: Ctrl-C)")
    p.add_argument("--all", action="store_true", help="every status frame, not only changes")
    p.add_argument("--say", action="append", metavar="TEXT", help="send this request first (repeatable)")
    p.add_argument("--log", metavar="FILE", help="write every frame to FILE: .log, .asc, .blf or .csv")
    p.add_argument("--json", action="store_true", help="decoded frames as JSON lines")

    p = add("ecu-sim", cmd_ecu_sim, "the simulated body controller alone, for a socketcan bench", can=True)
    p.add_argument("--seconds", type=_seconds, help="stop after this long (default: Ctrl-C)")

    add("config", cmd_config, "print the effective configuration", nlu=True, can=True)
    p = add("status", cmd_status, "versions, engines, model hashes, CAN bus and GPIO; exit 1 on a problem",
            nlu=True, can=True)
    p.add_argument("--json", action="store_true", help="one JSON object")
    p = add(
        "service",
        cmd_service,
        "the supervised service (systemd Type=notify): voice until SIGTERM, then a clean stop",
        nlu=True,
        can=True,
    )
    p.add_argument("--text", action="store_true", help="requests from stdin, one a line, not the microphone")
    add("start", cmd_start, "live voice with a microphone, else the simulated bench drive (make run)")
    _add_voice_commands(add)
    car_cli.register(add)
    from assistant.cli import log as log_cli
    from assistant.cli import replay as replay_cli

    log_cli.register(add)
    replay_cli.register(add)
    _add_plugin_commands(add)
    return ap


WORKBENCH_COMMANDS = {
    "train": "pip install torch==2.13.0 && pip install -e '.[train]'",
    "bench": "pip install -e '.[bench]'",
    "voice-bench": "pip install -e '.[bench]'",
}
"""Workbench commands named here only to say how to get them when no plugin brings them."""


def _add_plugin_commands(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Subcommands of installed plugins (the ``car_assistant.commands`` entry point: the workbench).

    The runtime imports no plugin by name; a workbench command that no plugin registered is
    still listed, and says what to install.
    """
    from importlib.metadata import entry_points

    added: set[str] = set()
    broken: list[str] = []

    def tracking_add(name: str, *a: Any, **kw: Any) -> argparse.ArgumentParser:
        added.add(name)
        return add(name, *a, **kw)

    for point in entry_points(group="car_assistant.commands"):
        try:
            point.load()(tracking_add)
        except Exception as err:  # noqa: BLE001 - a broken plugin must not take the car's commands down
            # (its own dependencies missing, stale metadata, a bug): its commands say why when run
            broken.append(f"{point.value}: {err}")
    for name, hint in WORKBENCH_COMMANDS.items():
        if name not in added:
            p = add(name, _missing(name, hint, broken), f"(not installed) {name}: {hint}", add_help=False)
            p.set_defaults(pass_through=[])


def _missing(name: str, hint: str, broken: list[str]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        why = f" ({'; '.join(broken)})" if broken else ""
        raise ConfigError(
            f"{name} is part of the workbench, which is not installed here{why}: {hint}, from a clone"
        )

    return run


def _add_voice_commands(add: Callable[..., argparse.ArgumentParser]) -> None:
    """run / listen / simulate live in assistant.cli.voice, next to the audio stages they drive."""
    try:
        from assistant.cli import voice as voice_cli
    except ImportError:  # the voice stage is not part of this checkout yet
        return
    voice_cli.register(add)  # type: ignore[attr-defined,unused-ignore]


def _configure_logging(args: argparse.Namespace) -> None:
    from assistant.logconfig import configure_logging

    level = args.log_level or settings_from_args(args)[0].logging.level
    configure_logging(level)


def main(argv: Sequence[str] | None = None) -> int:
    ap = build_argparser()
    args, extra = ap.parse_known_args(argv)
    if hasattr(args, "pass_through"):  # train, voice-bench: their own flags, parsed (and --help'd) there
        args.pass_through = extra
    elif extra:
        ap.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        _configure_logging(args)
        return int(args.func(args))
    except (AssistantError, BridgeError) as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
