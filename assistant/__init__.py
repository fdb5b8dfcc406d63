"""Offline in-car voice assistant: speech -> commands -> vehicle -> CAN -> reply."""

import logging
import os
import sys

# The offline promise. About 10 s after an ONNX model loads, onnxruntime (1.32) starts
# resolving mobile.events.data.microsoft.com every ~10 s and, given a resolver, sends a
# TLS handshake to it; ort.disable_telemetry_events() does not stop it. Only this
# variable, set before onnxruntime is first imported, does. Every ONNX user here (the
# language model, piper, the wake word, the VAD, training export, the benchmarks)
# imports through this package, so setting it here covers every entry point; forced,
# not defaulted, so an inherited "0" cannot turn the calls back on. Child processes
# (the benchmarks' probes) inherit it.
_telemetry_was_off = os.environ.get("ORT_DISABLE_TELEMETRY") == "1"
os.environ["ORT_DISABLE_TELEMETRY"] = "1"
if "onnxruntime" in sys.modules and not _telemetry_was_off:
    logging.getLogger(__name__).warning(
        "onnxruntime was imported before the assistant, so its telemetry stays on; "
        "import assistant first or set ORT_DISABLE_TELEMETRY=1 in the environment"
    )

__version__ = "0.1.0"
