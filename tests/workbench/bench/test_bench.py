"""`car-assistant bench --quick`: every section, table and plot is there; a missing peer says why."""

from __future__ import annotations

import importlib.util
import json
import re
import struct
import sys
from pathlib import Path

import pytest

from assistant import cli
from assistant.nlu.evalset import DEV_SET, read_set
from workbench.bench.context import REPO, Bench, not_run
from workbench.bench.scoring import Scores, edit_distance, frame_ok, parse_expected
from workbench.bench.speech import words

SECTIONS = {
    "Language understanding": "| engine | set | frame acc |",
    "Per-intent accuracy": "| intent | n |",
    "Compression": "| step | parameters | file size |",
    "Speech": "| recognizer | WER clean |",
    "Latency budget of the whole pipeline": "| stage | plain median ms |",
    "Resources": "| component | RSS MB | peak MB |",
    "False actuation and accuracy by recognizer": "| recognizer | dev frame acc clean |",
}


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench")
    # the teacher's weights are not shipped: point at a file that is not there
    rc = cli.main(["bench", "--quick", "--out", str(out), "--teacher", str(out / "absent" / "teacher.pt")])
    assert rc == 0
    return out


def test_every_section_has_its_heading_and_table(quick: Path) -> None:
    report = (quick / "report.md").read_text(encoding="utf-8")
    assert report.startswith("# Benchmark report")
    assert "## Headline" in report
    for heading, table in SECTIONS.items():
        assert re.search(rf"^##+ {re.escape(heading)}$", report, re.M), heading
        assert table in report, table
    assert "| model file | path | size MB |" in report
    assert "CPU while idle listening" in report and "| idle figure | value | what |" in report
    assert "not run: the section failed" not in report


def test_the_language_table_holds_the_scores_recomputed_here(quick: Path) -> None:
    # the template engine on the same sample of the dev set, scored here without the bench's code
    # path: a table that printed the wrong engine's row, a stale figure or a mis-scored set fails
    from assistant.nlu.templates import TemplateParser

    rows = Bench(quick, quick=True).sample(read_set(DEV_SET), 26)
    parser, want = TemplateParser(), Scores()
    for text, expected in rows:
        want.add(expected, [c.to_json() for c in parser.parse(text).commands])
    w = want.summary()
    figures = json.loads((quick / "figures.json").read_text(encoding="utf-8"))
    got = figures["sections"]["nlu"]["engines"]["templates"]["sets"]["dev"]
    assert got["frame_acc"] == pytest.approx(w["frame_acc"])
    assert (got["oos_rejected"], got["oos_total"]) == (w["oos_rejected"], w["oos_total"])
    report = (quick / "report.md").read_text(encoding="utf-8")
    row = next(ln for ln in report.splitlines() if ln.startswith("| hassil templates (intents/) | dev |"))
    cells = [c.strip() for c in row.strip().strip("|").split("|")]
    assert cells[2:4] == [f"{w['frame_acc']:.3f}", f"{w['intent_acc']:.3f}"], row
    assert cells[5] == f"{w['oos_rejected']}/{w['oos_total']}", row


def test_readme_section_is_generated(quick: Path) -> None:
    section = (quick / "readme_section.md").read_text(encoding="utf-8")
    assert section.startswith("## Performance")
    assert "| figure | value |" in section and "car-assistant bench --quick" in section


def test_report_names_machine_versions_and_date(quick: Path) -> None:
    report = (quick / "report.md").read_text(encoding="utf-8")
    assert re.search(r"- Machine: .+, \d+ cores", report)
    assert re.search(r"- Date: \d{4}-\d\d-\d\d \d\d:\d\d UTC", report)
    assert "onnxruntime " in report and "car-assistant bench --quick" in report


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_every_plot_is_a_small_valid_png(quick: Path) -> None:
    report = (quick / "report.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", report))
    figures = json.loads((quick / "figures.json").read_text(encoding="utf-8"))
    assert linked == set(figures["plots"])
    for name in (
        "nlu_accuracy.png",
        "nlu_latency.png",
        "compression.png",
        "speech_snr.png",
        "latency_budget.png",
        "memory.png",
    ):
        assert name in linked
    for name in linked:
        w, h = _png_size(quick / name)
        assert w > 100 and h > 100
        assert 1000 < (quick / name).stat().st_size < 300_000


def test_figures_json_has_every_section(quick: Path) -> None:
    figures = json.loads((quick / "figures.json").read_text(encoding="utf-8"))
    assert {"command", "quick", "seed", "runtime_s", "machine", "headline", "sections", "plots"} <= set(
        figures
    )
    assert figures["quick"] is True
    assert {"cpu", "cores", "packages", "date_utc"} <= set(figures["machine"])
    sections = figures["sections"]
    assert set(sections) == {"nlu", "compression", "speech", "latency", "resources", "false_actuation"}
    assert set(sections["nlu"]["engines"]) == {"slm", "teacher", "templates", "tfidf"}
    assert set(sections["speech"]["engines"]) == {"pocketsphinx-domain", "pocketsphinx-general", "vosk"}
    assert {"memory_mb", "idle", "model_files"} <= set(sections["resources"])
    assert set(sections["latency"]["stages_ms"]) == {"plain", "semantic"}
    # quick: pocketsphinx and Whisper tiny.en on a few recordings, each share a count of them
    engines = sections["false_actuation"]["engines"]
    assert set(engines) == {"pocketsphinx", "whisper:tiny.en"}
    for e in engines.values():
        assert e["status"] == "ran", e["status"]
        for label in ("clean", "10dB"):
            ood = e[label]["ood"]
            assert ood["n"] == 3 and 0 <= ood["moved_security_safety"] <= ood["sent_any_frame"] <= 3
    # the template engine needs nothing optional: it always runs, on both sets
    templates = sections["nlu"]["engines"]["templates"]
    assert templates["status"] == "ran"
    assert 0 <= templates["sets"]["dev"]["frame_acc"] <= 1
    assert templates["latency_ms"]["median"] > 0


def test_missing_teacher_is_a_not_run_row(quick: Path) -> None:
    figures = json.loads((quick / "figures.json").read_text(encoding="utf-8"))
    status = figures["sections"]["nlu"]["engines"]["teacher"]["status"]
    assert status.startswith("not run: no teacher weights at")
    report = (quick / "report.md").read_text(encoding="utf-8")
    row = next(line for line in report.splitlines() if line.startswith("| teacher"))
    assert "not run: no teacher weights at" in row


def test_missing_scikit_learn_is_a_not_run_row(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from workbench.bench import nlu

    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now raises ImportError
    bench = Bench(tmp_path, quick=True, skip=frozenset({"slm", "teacher", "templates"}))
    engines = nlu.build_engines(bench, {"training": {"config": {"seed": 13}}})
    parser, status = engines["tfidf"]
    assert parser is None
    assert status == "not run: scikit-learn is not installed (pip install -e .[bench])"


def test_not_run_says_why() -> None:
    assert not_run(FileNotFoundError("no vosk model at /x")) == "not run: no vosk model at /x"
    assert not_run("left out") == "not run: left out"


SCORE_TEXT = REPO / "eval" / "score_text.py"


def test_frame_scoring_agrees_with_score_text() -> None:
    spec = importlib.util.spec_from_file_location("score_text", SCORE_TEXT)
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    cases = [
        ("doors.lock{door=all}", [{"intent": "doors.lock", "slots": {}}]),
        ("radio.tune{frequency=99.5}", [{"intent": "radio.tune", "slots": {"frequency": 99.50000001}}]),
        ("window.open{window=driver}", [{"intent": "window.open", "slots": {"window": "Driver"}}]),
        ("window.open{window=driver}", [{"intent": "window.open", "slots": {}}]),
        (
            "lights.set{light=headlights,state=on}; wipers.set{mode=low}",
            [{"intent": "lights.set", "slots": {"light": "headlights", "state": "on"}}],
        ),
        ("-", []),
        ("-", [{"intent": "climate.ac", "slots": {"state": "on"}}]),
    ]
    for expected, got in cases:
        assert frame_ok(parse_expected(expected), got) == tool.frame_ok(tool.parse_expected(expected), got)


def test_scores_count_slots_and_rejections() -> None:
    s = Scores()
    s.add(
        parse_expected("window.open{window=driver,amount=50}"),
        [{"intent": "window.open", "slots": {"window": "driver", "amount": 20}}],
    )
    s.add([], [])
    s.add([], [{"intent": "media.mute", "slots": {}}])
    r = s.summary()
    assert (r["frame_acc"], r["oos_rejected"], r["oos_false_accepts"]) == (1 / 3, 1, 1)
    assert (r["slot_precision"], r["slot_recall"]) == (0.5, 0.5)


def test_word_error_rate_reads_numbers_alike() -> None:
    assert words("Set temperature to 22 degrees.") == words("set temperature to twenty two degrees")
    assert edit_distance("a b c".split(), "a x c d".split()) == 2
