"""The whole training path on a tiny configuration: train -> compress -> quantise -> export -> load -> parse.

About a minute here; it needs the [train] extra (torch), which `make test` installs: without it
the test fails rather than skipping, so a broken install cannot pass as green.
"""

from __future__ import annotations

import json
from pathlib import Path

from assistant.catalog import problems


def test_tiny_training_run_ships_a_loadable_model(tmp_path: Path) -> None:
    from assistant.nlu.slm import SlmParser
    from workbench.training import main

    out = tmp_path / "slm"
    assert main(["--tiny", "--out", str(out), "--work", str(tmp_path / "work"), "--dev", ""]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["training"]["command"].startswith("car-assistant train --tiny")
    assert [s["step"] for s in manifest["steps"]][0].startswith("teacher")
    assert (tmp_path / "README.md").read_text().count("|") > 20  # the card's table, written by the run
    # recogniser transcripts and letter strings are in even the smoke run; CLINC150 is not (CI lacks it)
    assert manifest["data"]["recogniser_transcripts"] > 0
    assert manifest["data"]["letter_strings"] > 0
    assert manifest["data"]["clinc150_out_of_scope"] == 0
    rejection = manifest["metrics"]["rejection"]
    assert 0.0 <= rejection["letter_strings_acted"] <= 1.0 and "clinc_oos_test_rejected" not in rejection
    parser = SlmParser(out)
    for text in ("open the window and turn on the ac", "", "🚗"):
        for c in parser.parse(text).commands:
            assert not problems(c.intent, c.slots)
