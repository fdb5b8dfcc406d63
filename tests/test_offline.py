"""The offline promise, checked at the system-call level.

``simulate`` (every model: wake word, VAD, recognizer, language model, piper) and a
long ``parse --json -`` session run in a network namespace of their own
(``unshare -n``) under ``strace -f -e trace=network``. Any socket other than a
local one (AF_UNIX, AF_NETLINK) or any connect/send to an address that is not
AF_UNIX fails the test. Each run lives longer than 20 s: onnxruntime 1.32 began
its telemetry calls about 10 s after a model loaded, then every ~10 s.

Needs strace and unshare (util-linux); CI installs strace (.ci/run). Under root
``unshare -n`` works as is; otherwise a user namespace (``-r``) grants it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIVE_S = 25.0
"""How long each traced process lives, at least (s)."""
LOCAL_DOMAINS = {"AF_UNIX", "AF_LOCAL", "AF_NETLINK"}
SENDS = {"connect", "sendto", "sendmsg", "sendmmsg"}
_CALL = re.compile(r"^\d+\s+(\w+)\((.*)$")

# runs the console script's main, then keeps the process (and onnxruntime) alive
# until LIVE_S after its start, however fast this machine ran the drive
_KEEP_ALIVE = (
    "import sys, time; t0 = time.monotonic(); from assistant.cli import main; rc = main(sys.argv[2:]); "
    "time.sleep(max(0.0, float(sys.argv[1]) - (time.monotonic() - t0))); sys.exit(rc)"
)


def network_violations(trace: str) -> list[str]:
    """The lines of an ``strace -f -e trace=network`` log that reach beyond this machine."""
    bad = []
    for line in trace.splitlines():
        match = _CALL.match(line)
        if match is None:  # "<... resumed>", exits and signals carry no new arguments
            continue
        call, args = match.groups()
        if call in ("socket", "socketpair"):
            if args.split(",", 1)[0].strip() not in LOCAL_DOMAINS:
                bad.append(line)
        elif call in SENDS:
            if any(family != "AF_UNIX" for family in re.findall(r"sa_family=(\w+)", args)):
                bad.append(line)
    return bad


def _traced(cmd: list[str], log: Path) -> list[str]:
    for tool, package in (("strace", "strace"), ("unshare", "util-linux")):
        assert shutil.which(tool), f"{tool} is missing; install it (Debian: apt-get install {package})"
    unshare = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-r", "-n"]
    return ["strace", "-f", "-qq", "-e", "trace=network", "-o", str(log), *unshare, *cmd]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # this test process imported assistant, which set it; the children must set it themselves
    env.pop("ORT_DISABLE_TELEMETRY", None)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def test_the_checker_catches_what_onnxruntime_did() -> None:
    trace = "\n".join(
        [
            '101  socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0) = 3',
            '101  connect(3, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT',
            "101  socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_ROUTE) = 4",
            "102  socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP) = 8",
            '102  connect(8, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")},'
            " 16) = -1 ENETUNREACH (Network is unreachable)",
            "103  sendto(9, \"\\27\\3\\3\", 3, MSG_NOSIGNAL, {sa_family=AF_INET6, sin6_port=htons(443)}, 28"
            " <unfinished ...>",
            "103  <... sendto resumed>) = 3",
            "+++ exited with 0 +++",
        ]
    )
    assert network_violations(trace) == trace.splitlines()[3:6]


def test_the_package_turns_onnxruntime_telemetry_off_before_its_import() -> None:
    # forced, not defaulted: an inherited "0" does not turn the calls back on
    code = (
        "import os, sys; import assistant.nlu.slm; import onnxruntime; "
        "print(os.environ['ORT_DISABLE_TELEMETRY'])"
    )
    env = {**_env(), "ORT_DISABLE_TELEMETRY": "0"}
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "1\n"


def test_the_bridge_never_loads_onnxruntime() -> None:
    code = (
        "import importlib, pkgutil, sys, firmware_bridge\n"
        "for m in pkgutil.walk_packages(firmware_bridge.__path__, 'firmware_bridge.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('onnxruntime', 'assistant')))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "[]\n"


def test_simulate_and_a_long_parse_session_open_no_network_socket(tmp_path: Path) -> None:
    env = _env()
    sim_log, parse_log = tmp_path / "simulate.strace", tmp_path / "parse.strace"
    simulate = subprocess.Popen(
        _traced(
            [sys.executable, "-c", _KEEP_ALIVE, str(LIVE_S), "simulate", "--out", str(tmp_path / "out")],
            sim_log,
        ),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # the parse session runs meanwhile, fed a line every 2 s so it stays alive past LIVE_S
    parse = subprocess.Popen(
        _traced([sys.executable, "-m", "assistant.cli", "parse", "--json", "-"], parse_log),
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert parse.stdin is not None and parse.stdout is not None
    start = time.monotonic()
    answers = []
    while True:
        parse.stdin.write("lock the doors\n")
        parse.stdin.flush()
        answer = parse.stdout.readline()
        assert answer, f"parse ended early: {parse.communicate()[1][-2000:]}"
        answers.append(json.loads(answer))
        if time.monotonic() - start > LIVE_S:
            break
        time.sleep(2.0)
    _, parse_err = parse.communicate(timeout=60)
    sim_out, _ = simulate.communicate(timeout=600)

    assert parse.returncode == 0, parse_err[-2000:]
    assert simulate.returncode == 0, sim_out[-2000:]
    # the drive ran to its summary ("8 requests: 6 right (...), 2 wrong, 0 missed")
    assert re.search(r"^8 requests: \d+ right", sim_out, re.M), sim_out[-2000:]
    assert all(a["commands"][0]["intent"] == "doors.lock" for a in answers), answers
    for log in (sim_log, parse_log):
        trace = log.read_text(encoding="utf-8", errors="replace")
        bad = network_violations(trace)
        assert not bad, f"{log.name}: the process reached for the network:\n" + "\n".join(bad[:5])
