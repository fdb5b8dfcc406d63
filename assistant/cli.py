"""car-assistant: the one console script.

Errors: one ``error: ...`` line naming what to do and exit 1; ``--debug``
shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from assistant.errors import AssistantError
from assistant.nlu.base import Parser, load_parser

DEFAULT_NLU = "templates"


def _parser_for(args: argparse.Namespace) -> Parser:
    return load_parser(args.nlu)


def cmd_parse(args: argparse.Namespace) -> int:
    parser = _parser_for(args)
    texts: Sequence[str]
    if args.text == ["-"]:
        texts = None  # type: ignore[assignment]
    else:
        texts = [" ".join(args.text)]
    lines = sys.stdin if texts is None else texts
    for line in lines:
        text = line.rstrip("\n")
        try:
            result = parser.parse(text).to_json()
        except AssistantError as err:
            if texts is not None:
                raise
            result = {"text": text, "commands": [], "error": str(err)}
        if args.json:
            print(json.dumps(result, ensure_ascii=False), flush=True)
        else:
            cmds = result["commands"]
            if not cmds:
                print("(no command)")
            for c in cmds:
                slots = " ".join(f"{k}={v}" for k, v in c["slots"].items())
                print(f"{c['intent']} {slots}".rstrip() + f"  ({c['confidence']:.2f})")
    return 0


def build_argparser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="car-assistant", description=__doc__.splitlines()[0])
    ap.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("parse", help="text -> catalog commands (no vehicle)")
    p.add_argument("text", nargs="+", help="the utterance, or - to read one per line from stdin")
    p.add_argument("--json", action="store_true", help="print the commands.md JSON contract")
    p.add_argument("--nlu", default=DEFAULT_NLU, help="language engine: slm or templates")
    p.set_defaults(func=cmd_parse)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = build_argparser().parse_args(argv)
    try:
        return int(args.func(args))
    except AssistantError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
