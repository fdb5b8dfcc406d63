"""Offline in-car voice assistant: speech -> commands -> vehicle -> CAN -> reply."""

__version__ = "0.1.0"
