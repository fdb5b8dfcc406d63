"""The audit-log benchmark runs end to end on a small count, and its kill step reads what it promises."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workbench.bench.audit_log import main


def test_the_audit_bench_measures_the_cost_and_a_killed_writer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--turns", "60", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    figures = dict(re.findall(r"figure: (\w+) = (\S+)", out))
    assert set(figures) == {"audit_record_ms", "audit_added_ms", "audit_after_kill"}
    assert float(figures["audit_record_ms"]) >= 0
    read, on_disk = (int(x) for x in figures["audit_after_kill"].split("/"))
    # SIGKILL past 60 lines: every whole line read back, at most the torn last one lost
    assert on_disk >= 60 and on_disk - 1 <= read <= on_disk
    assert "in order True" in out
    assert (tmp_path / "cost.jsonl").read_text().count("\n") == 60
