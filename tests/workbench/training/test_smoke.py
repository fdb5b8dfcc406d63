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
    # the card, written by the run: one table row per step, carrying that step's own measurements
    card = (tmp_path / "README.md").read_text()
    rows = [ln for ln in card.splitlines() if ln.startswith("| ") and not ln.startswith(("| step ", "| ---"))]
    assert len(rows) == len(manifest["steps"])
    for row, step in zip(rows, manifest["steps"], strict=True):
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        assert cells[0].startswith(step["step"]), row
        assert cells[2] == f"{step['size_bytes'] / 1e6:.1f} MB", row
        assert cells[6] == f"{step['heldout']['frame_acc']:.3f}", row
    assert f"{manifest['data']['letter_strings']:,} generated letter strings" in card
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
