"""How often the language model acts on text that is no request: third-party out-of-scope sentences and
random letter strings.

    python -m workbench.training.rejection [--model models/slm] --data-dir DIR [--strings 3000]

- CLINC150's out-of-scope test split (``oos_test``, 1,000 sentences; never trained on: the training run
  reads only its ``train`` and ``oos_train`` splits): share that gives no command;
- random letter strings (seeded): share that gives any command, and how many give a "yes"
  (assistant.confirm), which would answer a pending safety question.

Prints one JSON object; asserts nothing (a measurement, reported in the model card and the commit).
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.training.data import DATA_DIR_ENV, MissingDataError, clinc_file, default_data_dir
from workbench.training.pipeline import REPO


def random_strings(n: int, seed: int = 0) -> list[str]:
    """Letters and a few spaces, 1 to 16 characters: what a stuck key or a bad transcript looks like."""
    rng = random.Random(seed)
    alphabet = string.ascii_lowercase * 4 + " "
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 16))).strip() or "x" for _ in range(n)]


def clinc_oos_test(data_dir: Path | None) -> list[str]:
    path = clinc_file(data_dir)
    return [text for text, _ in json.loads(path.read_text(encoding="utf-8"))["oos_test"]]


def acted(parser: Any, texts: Sequence[str]) -> tuple[list[str], Counter[str]]:
    hits: list[str] = []
    intents: Counter[str] = Counter()
    for t in texts:
        commands = parser.parse(t).commands
        if commands:
            hits.append(t)
            intents.update(c.intent for c in commands)
    return hits, intents


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m workbench.training.rejection", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--model", type=Path, default=REPO / "models" / "slm")
    ap.add_argument(
        "--data-dir", type=Path, default=default_data_dir(),
        help=f"folder holding clinc150/ (default: ${DATA_DIR_ENV})",
    )
    ap.add_argument("--strings", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    from assistant.nlu.slm import SlmParser

    parser = SlmParser(args.model)
    try:
        oos = clinc_oos_test(args.data_dir)
    except MissingDataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    oos_hits, oos_intents = acted(parser, oos)
    rnd = random_strings(args.strings, args.seed)
    rnd_hits, rnd_intents = acted(parser, rnd)
    print(
        json.dumps(
            {
                "model": str(args.model),
                "clinc_oos_test": {
                    "n": len(oos),
                    "rejected": len(oos) - len(oos_hits),
                    "rejected_share": round(1 - len(oos_hits) / len(oos), 4),
                    "intents": dict(oos_intents.most_common()),
                    "examples": oos_hits[:15],
                },
                "random_strings": {
                    "n": len(rnd),
                    "commands": len(rnd_hits),
                    "command_share": round(len(rnd_hits) / len(rnd), 4),
                    "yes": rnd_intents.get("assistant.confirm", 0),
                    "intents": dict(rnd_intents.most_common()),
                    "examples": rnd_hits[:15],
                },
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
