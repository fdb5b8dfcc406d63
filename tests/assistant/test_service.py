"""The supervised service: sd_notify to a fake NOTIFY_SOCKET, the watchdog, a clean SIGTERM stop."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.service import Notifier, ServiceLoop, bus_watch
from assistant.vehicle.replies import load_replies
from firmware_bridge.bus import BusHealth

DRIVER_WINDOW = "Vehicle.Cabin.Door.Row1.DriverSide.Window.Position"


class FakeSystemd:
    """The receiving end of $NOTIFY_SOCKET: collects each datagram's KEY=VALUE lines."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.address = address
        self.messages: list[tuple[float, str]] = []
        self._stop = False
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        self.sock.settimeout(0.05)
        while not self._stop:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            for line in data.decode().splitlines():
                self.messages.append((time.monotonic(), line))

    def wait_for(self, line: str, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(m == line for _, m in self.messages):
                return True
            time.sleep(0.02)
        return False

    def times(self, line: str) -> list[float]:
        return [t for t, m in self.messages if m == line]

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.sock.close()


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[FakeSystemd]:
    fake = FakeSystemd(str(tmp_path / "notify"))
    yield fake
    fake.close()


def test_notifier_speaks_to_a_path_socket(systemd: FakeSystemd) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": systemd.address})
    assert notifier.ready("listening")
    assert notifier.stopping()
    assert systemd.wait_for("STOPPING=1", 2)
    assert [m for _, m in systemd.messages] == ["READY=1", "STATUS=listening", "STOPPING=1"]
    notifier.close()


def test_notifier_speaks_to_an_abstract_socket() -> None:
    fake = FakeSystemd(f"@car-assistant-test-{os.getpid()}")
    try:
        notifier = Notifier({"NOTIFY_SOCKET": fake.address})
        assert notifier.watchdog()
        assert fake.wait_for("WATCHDOG=1", 2)
        notifier.close()
    finally:
        fake.close()


def test_notifier_without_systemd_does_nothing_and_says_so() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog_s is None


def test_watchdog_interval_is_half_watchdog_sec_and_only_for_our_pid() -> None:
    assert Notifier({"WATCHDOG_USEC": "4000000"}).watchdog_s == 2.0
    assert Notifier({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getpid())}).watchdog_s == 2.0
    # the variables were meant for another process (a parent that exec'd us without clearing them)
    assert Notifier({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"}).watchdog_s is None


def test_a_stalled_loop_stops_the_watchdog_pings(systemd: FakeSystemd) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": systemd.address, "WATCHDOG_USEC": "200000"})  # pings every 50 ms
    stall = threading.Event()
    release = threading.Event()
    stalled_at: list[float] = []

    def step() -> None:
        if stall.is_set() and not stalled_at:
            stalled_at.append(time.monotonic())
            release.wait(10)
        time.sleep(0.01)

    loop = ServiceLoop(notifier, step)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    assert systemd.wait_for("READY=1", 2)
    time.sleep(0.5)
    assert len(systemd.times("WATCHDOG=1")) >= 3, systemd.messages  # a healthy loop pings
    stall.set()
    time.sleep(0.8)  # four WatchdogSec: systemd would have restarted us by now
    assert stalled_at
    during = [t for t in systemd.times("WATCHDOG=1") if t > stalled_at[0] + 0.02]
    assert during == [], "pings went on while the main loop was stuck"
    release.set()
    time.sleep(0.5)
    assert [t for t in systemd.times("WATCHDOG=1") if t > stalled_at[0] + 0.02], "pings did not resume"
    loop.stop()
    thread.join(5)
    assert not thread.is_alive()
    assert systemd.wait_for("STOPPING=1", 2)
    notifier.close()


def test_service_is_ready_pings_and_stops_cleanly_on_sigterm(systemd: FakeSystemd) -> None:
    env = dict(
        os.environ,
        NOTIFY_SOCKET=systemd.address,
        WATCHDOG_USEC="400000",
        CAR_ASSISTANT_SIM_WINDOW_TRAVEL_S="1.5",
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    env.pop("CAR_ASSISTANT_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "--log-level", "info"]
        + ["service", "--text", "--nlu", "templates"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        errors: list[str] = []  # drained as it comes: an info-level log must not fill the pipe
        stderr = proc.stderr
        assert stderr is not None
        drain = threading.Thread(target=lambda: errors.extend(stderr), daemon=True)
        drain.start()
        assert systemd.wait_for("READY=1", 90), "".join(errors)
        assert systemd.wait_for("WATCHDOG=1", 5)
        assert proc.stdin is not None and proc.stdout is not None
        # two requests in one write: the second must not wait in a read buffer for more input
        proc.stdin.write("turn on the fog lights\nopen the driver window\n")
        proc.stdin.flush()
        replies: queue.Queue[str] = queue.Queue()
        stdout = proc.stdout
        threading.Thread(target=lambda: [replies.put(line) for line in stdout], daemon=True).start()
        first = json.loads(replies.get(timeout=30))
        assert first == {"text": "turn on the fog lights", "reply": "Fog lights on."}
        reply = json.loads(replies.get(timeout=30))
        assert reply == {"text": "open the driver window", "reply": "Opening the driver window."}
        # stopped while the window is still on its way: the service must let it arrive first
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        drain.join(10)  # stderr is closed once the process is gone
        err = "".join(errors)
        out_lines = []
        while True:
            try:
                out_lines.append(replies.get(timeout=1))
            except queue.Empty:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert systemd.wait_for("STOPPING=1", 2)
    last = json.loads(out_lines[-1])
    assert last["stopped"] is True and last["settled"] is True
    assert last["state"][DRIVER_WINDOW] == 100
    assert "SIGTERM: stopping after the request in progress" in err
    assert "Traceback" not in err


class ScriptedBus:
    """A bridge whose bus health follows a script: one entry per check."""

    def __init__(self, ups: list[bool]) -> None:
        self.ups = ups

    def bus_health(self) -> BusHealth | None:
        up = self.ups.pop(0)
        return BusHealth("test", up, "" if up else "Network is down", 0.0 if up else 1.0, 0, 0)


def test_a_lost_bus_is_told_once_per_outage() -> None:
    told: list[str] = []
    lost = load_replies().say("failure.bus_lost")
    check = bus_watch(ScriptedBus([True, False, False, False, True, True, False, False]), told.append, lost)
    for _ in range(8):
        check()
    assert told == [lost, lost]  # two outages, one sentence each
    assert lost == "I've lost the connection to the car. I'll keep trying."


def test_a_bridge_without_bus_health_is_never_down() -> None:
    told: list[str] = []

    class Plain:
        def bus_health(self) -> BusHealth | None:
            return None

    check = bus_watch(Plain(), told.append, "lost")
    check()
    assert told == []


@pytest.mark.parametrize("locale", ["C.UTF-8", "C"])
def test_a_line_that_is_not_utf8_gets_an_error_and_the_service_goes_on(locale: str) -> None:
    """Before: under a UTF-8 locale the language model's tokenizer raised TypeError on the surrogates
    and the service died; under C (systemd's default) the reader stopped and no later line was answered."""
    env = dict(os.environ, LC_ALL=locale, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    for name in ("CAR_ASSISTANT_CONFIG", "NOTIFY_SOCKET", "WATCHDOG_USEC", "PYTHONIOENCODING", "PYTHONUTF8"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "service", "--text", "--nlu", "slm"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b"lock the doors\n\xff\xfe\nopen the trunk\n")
        proc.stdin.flush()
        replies: queue.Queue[bytes] = queue.Queue()
        stdout = proc.stdout
        threading.Thread(target=lambda: [replies.put(line) for line in stdout], daemon=True).start()
        got = [json.loads(replies.get(timeout=90)) for _ in range(3)]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert got[0] == {"text": "lock the doors", "reply": "I've locked all doors."}
    assert got[1] == {"text": "\ufffd\ufffd", "error": "the text is not valid UTF-8; send UTF-8 text"}
    assert got[2] == {"text": "open the trunk", "reply": "The trunk is open."}
