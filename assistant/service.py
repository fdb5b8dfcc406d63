"""``car-assistant service``: the assistant as a supervised systemd service (deploy/car-assistant.service).

systemd's notify protocol is small enough to speak directly: one AF_UNIX
datagram of ``KEY=VALUE`` lines to the socket named in ``$NOTIFY_SOCKET`` (a
path, or an abstract socket written with a leading ``@``).  The candidates on
PyPI are either unmaintained since 2017 (``sdnotify``) or need libsystemd and a
compiler at install time (``systemd-python``, ``cysystemd``), so the twenty
lines live here instead.

The service sends ``READY=1`` once the car answers on the bus, ``WATCHDOG=1``
from its main loop only (so a stalled loop stops the pings and systemd restarts
the service after ``WatchdogSec``), and ``STOPPING=1`` on SIGTERM.  A stop lets
the request in progress finish, waits for travels (windows, sunroof) to settle,
then closes the bus: no actuation is left half-sent.
"""

from __future__ import annotations

import io
import json
import logging
import os
import queue
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol

from firmware_bridge.bus import BusHealth

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.dialogue import Dialogue
    from assistant.runtime import Car

log = logging.getLogger(__name__)


class Notifier:
    """sd_notify to ``$NOTIFY_SOCKET``; every call is a no-op when the variable is unset."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        # systemd writes an abstract socket as '@name'; the kernel wants a leading NUL.
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self.watchdog_s: float | None = None
        """Half of ``WatchdogSec`` (s), the ping interval systemd recommends; None: no watchdog."""
        usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            self.watchdog_s = int(usec) / 2e6
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def notify(self, *fields: str) -> bool:
        """Send ``fields`` (``READY=1``...) as one datagram; False when there is no socket or it failed."""
        if not self.address:
            return False
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.sendto("\n".join(fields).encode(), self.address)
            except OSError as err:
                # systemd gone (a stop in progress) must not take the car down with it
                log.warning("sd_notify to %s failed: %s", self.address.replace("\0", "@"), err)
                return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


class ServiceLoop:
    """Calls ``step()`` until stopped, pinging the watchdog between steps.

    ``step`` must return every few hundred milliseconds (one audio chunk, one
    stdin poll); the pings come from here and nowhere else, so a step that
    hangs stops them.  ``stop()`` is safe from a signal handler or another thread.
    """

    def __init__(self, notifier: Notifier, step: Callable[[], None]) -> None:
        self.notifier = notifier
        self.step = step
        self._stop = threading.Event()
        self._last_ping = -float("inf")

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self.notifier.stopping()

    def install_signal_handlers(self) -> None:
        """SIGTERM (systemctl stop) and SIGINT end the loop after the current step."""

        def handler(signum: int, frame: FrameType | None) -> None:
            log.info("%s: stopping after the request in progress", signal.Signals(signum).name)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def beat(self) -> None:
        interval = self.notifier.watchdog_s
        if interval is None:
            return
        now = time.monotonic()
        # twice per recommended interval: a late scheduler tick still lands inside WatchdogSec
        if now - self._last_ping >= interval / 2:
            self._last_ping = now
            self.notifier.watchdog()

    def run(self, status: str = "") -> None:
        """``READY=1``, then steps and pings until ``stop()``."""
        self.notifier.ready(status)
        self.beat()
        while not self._stop.is_set():
            self.step()
            self.beat()


def stdin_step(handle: Callable[[str], None], poll_s: float = 0.2) -> Callable[[], None]:
    """A step that hands each stdin line to ``handle``; after EOF it only waits (the service stays up).

    A reader thread fills a queue: select() on stdin misses lines already in Python's read buffer.
    """
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        if isinstance(sys.stdin, io.TextIOWrapper):  # a byte that is not UTF-8 ended the reading
            sys.stdin.reconfigure(errors="surrogateescape")
        try:
            for line in sys.stdin:
                lines.put(line)
        except (OSError, ValueError):  # stdin closed or not readable (a service with no console)
            pass
        lines.put(None)

    threading.Thread(target=read, name="stdin", daemon=True).start()
    state = {"eof": False}

    def step() -> None:
        if state["eof"]:
            time.sleep(poll_s)
            return
        try:
            line = lines.get(timeout=poll_s)
        except queue.Empty:
            return
        if line is None:
            state["eof"] = True
        elif line.strip():
            handle(line.strip())

    return step


class BusWatch(Protocol):
    def bus_health(self) -> BusHealth | None: ...


def bus_watch(bridge: BusWatch, tell: Callable[[str], None], text: str) -> Callable[[], None]:
    """A check, run between steps, that calls ``tell(text)`` once each time the bus goes down.

    The bus logs its own faults (once); this is the driver's side: one spoken sentence per
    outage, not one per failed request.
    """
    state = {"up": True}

    def check() -> None:
        health = bridge.bus_health()
        up = health is None or health.up
        if state["up"] and not up:
            tell(text)
        state["up"] = up

    return check


def _nothing() -> None:
    return None


def serve(settings: Settings, text_input: bool = False) -> int:
    """Run the assistant until SIGTERM: voice from the microphone, or one request per stdin line."""
    from assistant.runtime import SETTLE_S, open_car, open_dialogue

    notifier = Notifier()
    mic: Any = None
    if not text_input:
        from assistant.audio import Microphone

        mic = Microphone(settings.voice.input_device)
        mic.open()  # first: no microphone is an error before seconds of model loading
    loop = ServiceLoop(notifier, lambda: None)
    loop.install_signal_handlers()  # before the slow start, so an early stop is still a clean one
    cleanup: Callable[[], None] = _nothing
    try:
        with open_car(settings) as car:  # leaving it waits for travels, then closes the bus
            dialogue = open_dialogue(settings, car)
            tell: Callable[[str], None]
            if text_input:

                def print_notice(text: str) -> None:
                    print(json.dumps({"notice": text}, ensure_ascii=False), flush=True)

                tell = print_notice

                def handle(text: str) -> None:
                    try:
                        text.encode("utf-8")
                    except UnicodeEncodeError:  # the parser's tokenizer died on the surrogates
                        shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                        error = "the text is not valid UTF-8; send UTF-8 text"
                        print(json.dumps({"text": shown, "error": error}, ensure_ascii=False), flush=True)
                        return
                    turn = dialogue.handle(text)
                    print(json.dumps({"text": text, "reply": turn.reply}, ensure_ascii=False), flush=True)

                loop.step = stdin_step(handle)
            else:
                loop.step, cleanup, tell = _voice_step(settings, car, dialogue, mic)
            lost = dialogue.replies.say("failure.bus_lost")
            check_bus = bus_watch(car.bridge, tell, lost)
            step = loop.step

            def watched_step() -> None:
                step()
                check_bus()

            loop.step = watched_step
            gpio = car.bridge.gpio
            if gpio.factory_name == "mock":
                log.warning(
                    "GPIO is simulated (mock pin factory, %s): the push-to-talk button, status LED and "
                    "dome-light relay do nothing; set gpio.pin_factory",
                    gpio.factory_reason,
                )
            car.bridge.set_status_led("on")
            try:
                if not loop.stopping:
                    how = "text on stdin" if text_input else "voice"
                    log.info("ready: %s, bus %s:%s", how, settings.can.interface, settings.can.channel)
                    loop.run(status=f"listening ({how})")
            finally:
                cleanup()  # the request in progress ends here
                car.bridge.set_status_led("off")
                log.info("stopping: waiting for travels in progress, then closing the bus")
                settled = car.vehicle.settle(SETTLE_S)
                state = {k: v for k, v in car.bridge.state().items() if k != "Vehicle.Speed"}
                # the last word on stdout: what the car reported as the bus closed
                print(json.dumps({"stopped": True, "settled": settled, "state": state}), flush=True)
    finally:
        if mic is not None:
            mic.close()
        notifier.close()
    log.info("stopped")
    return 0


def _voice_step(
    settings: Settings, car: Car, dialogue: Dialogue, mic: Any
) -> tuple[Callable[[], None], Callable[[], None], Callable[[str], None]]:
    """The live voice loop's step (one microphone chunk), what closes it, and how to say something."""
    from assistant.audio import AudioDeviceError, Speaker
    from assistant.events import Event
    from assistant.pipeline import build_parts

    speaker: Speaker | None = Speaker(settings.voice.output_device)
    assert speaker is not None
    try:
        speaker.check()
    except AudioDeviceError as err:
        log.warning("%s; replies are logged only", err)
        speaker = None
    parts = build_parts(settings, wake=True)
    log.info("asr: %s", parts.asr_choice)

    def on_event(event: Event) -> None:
        log.info("%s %s", event.kind, json.dumps(event.data(), ensure_ascii=False, default=str))

    # the same live pipeline as `run`: earcons (wake, follow-up window, error) included
    from assistant.cli.voice import live_pipeline

    pipeline = live_pipeline(parts, dialogue, settings, on_event, car, speaker)
    lost = {"since": 0.0}

    def step() -> None:
        if lost["since"]:
            time.sleep(1.0)
            try:
                mic.reopen()
            except AudioDeviceError:
                return
            log.info("microphone reopened after %.0f s", time.monotonic() - lost["since"])
            lost["since"] = 0.0
            return
        try:
            pipeline.feed(mic.read())
        except AudioDeviceError as err:
            log.error("microphone lost: %s; reopening every second", err)
            lost["since"] = time.monotonic()

    def tell(text: str) -> None:
        log.info("saying: %s", text)
        synthesizer = parts.synthesizer
        if speaker is not None and synthesizer is not None:
            threading.Thread(target=lambda: speaker.play(synthesizer.synthesize(text)), daemon=True).start()

    return step, pipeline.close, tell
