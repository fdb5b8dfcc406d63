"""Calibrate and measure the actuation policy's text bars (intents/policy/thresholds.yaml).

    python -m workbench.training.calibrate_policy [--clinc DIR] [--random N]

Reads the parser's confidence and the known-word share of the top command on
- in-domain text: the SLM's held-out split (models/slm/heldout.tsv: wording the model never saw) and
  sentences the template sampler makes;
- random letter strings (1-4 words of 1-8 letters, seeded);
- out-of-scope text: intents/out_of_scope.txt, and with ``--clinc`` the CLINC150 corpus
  (data_full.json: its out-of-scope test sentences and the test sentences of its intents that are not
  catalog intents here). CLINC150 is third-party data: read from where it lies, never copied.
For each set it prints how many produce a command and how many the policy would act on (acted_car: on a
command that sends frames, not an answer), ask back or drop, at the shipped bars (typed text: no speech
evidence in this run).
"""

from __future__ import annotations

import argparse
import json
import random
import string
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from assistant.asr.domain import OUT_OF_SCOPE as DOMAIN_OUT_OF_SCOPE
from assistant.nlu.base import Parser, load_parser
from assistant.nlu.evalset import read_set
from assistant.policy import ACTED, Policy

HELDOUT = Path(__file__).resolve().parents[2] / "models" / "slm" / "heldout.tsv"
OUT_OF_SCOPE = DOMAIN_OUT_OF_SCOPE
# CLINC150 intents that are requests of this catalog (media, yes/no, cancel, help): not out of scope here
CLINC_IN_CATALOG = frozenset(
    "change_volume next_song play_music cancel yes no maybe repeat what_can_i_ask_you smart_home "
    "whisper_mode update_playlist what_song change_speed".split()
)


ANSWERS = ("vehicle.query", "assistant.")


def random_strings(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [
        " ".join(
            "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(1, 8)))
            for _ in range(rng.randint(1, 4))
        )
        for _ in range(n)
    ]


def clinc_sentences(folder: Path) -> list[str]:
    data = json.loads((folder / "data_full.json").read_text(encoding="utf-8"))
    return [t for t, _ in data["oos_test"]] + [t for t, i in data["test"] if i not in CLINC_IN_CATALOG]


def tally(parser: Parser, policy: Policy, texts: Iterable[str]) -> Counter[str]:
    out: Counter[str] = Counter()
    for text in texts:
        out["texts"] += 1
        commands = parser.parse(text).commands
        if not commands:
            continue
        out["command"] += 1
        outcomes = [policy.decide(c, policy.evidence(c, text)) for c in commands]
        if any(d.outcome == ACTED for d in outcomes):
            out["acted"] += 1
            pairs = zip(commands, outcomes, strict=True)
            if any(d.outcome == ACTED and c.intent == "assistant.confirm" for c, d in pairs):
                out["acted_yes"] += 1
            if any(d.outcome == ACTED and d.risk == "safety" for d in outcomes):
                out["acted_safety"] += 1
            # answers (status, help, repeat) move nothing; the rest sends frames to the car
            if any(d.outcome == ACTED and not c.intent.startswith(ANSWERS) for c, d in zip(commands, outcomes,
                                                                                          strict=True)):
                out["acted_car"] += 1
        elif any(d.outcome == "asked" for d in outcomes):
            out["asked"] += 1
        else:
            out["dropped"] += 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clinc", type=Path, help="folder holding CLINC150's data_full.json")
    ap.add_argument("--random", type=int, default=3000, help="random letter strings to try")
    ap.add_argument("--sampled", type=int, default=20, help="template sentences per intent")
    args = ap.parse_args()
    parser = load_parser("slm")
    policy = Policy()
    from assistant.nlu.sampling import sample_utterances

    heldout = [t for t, expected in read_set(HELDOUT) if expected]
    sampled = [t for t, cmds in sample_utterances(args.sampled, seed=7) if cmds]
    oos = [
        line for line in OUT_OF_SCOPE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sets = {
        "in-domain held-out": heldout,
        "in-domain sampled": sampled,
        "random strings": random_strings(args.random),
        "out_of_scope.txt": oos,
    }
    if args.clinc:
        sets["clinc150 out of scope"] = clinc_sentences(args.clinc)
    for name, texts in sets.items():
        t = tally(parser, policy, texts)
        n = t["texts"]
        print(
            f"{name:24s} n={n:5d} command={t['command']:5d} acted={t['acted']:5d} ({t['acted'] / n:.2%}) "
            f"asked={t['asked']:5d} dropped={t['dropped']:5d} acted_car={t['acted_car']} "
            f"acted_safety={t['acted_safety']} "
            f"acted_yes={t['acted_yes']}"
        )


if __name__ == "__main__":
    main()
