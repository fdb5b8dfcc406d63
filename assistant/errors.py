"""The assistant's error tree: one root, one subclass per stage, each with a short code.

At the CLI an ``AssistantError`` becomes one ``error: ...`` line and exit 1;
inside the pipeline it becomes a short spoken reply.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Root of every error the assistant raises on purpose."""

    code = "assistant"


class ConfigError(AssistantError, ValueError):
    """A setting, an intents file or a mapping is wrong; the message names it."""

    code = "config"


class IntentsError(ConfigError):
    """intents/ YAML that cannot be loaded; the message names file and line."""

    code = "intents"


class ModelNotFoundError(AssistantError, FileNotFoundError):
    """A model file is missing; the message names the command that restores it."""

    code = "model_missing"


class ModelMismatchError(AssistantError):
    """A model does not match the intents/ it is used with."""

    code = "model_mismatch"


class InputError(AssistantError, ValueError):
    """User input the assistant refuses (for example over-long text)."""

    code = "input"


class VehicleError(AssistantError):
    """The vehicle stage could not carry out a command."""

    code = "vehicle"
