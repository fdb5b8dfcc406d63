"""Where the runtime finds the data it ships: the templates of ``intents/`` and the model in ``models/``.

The repository keeps ``intents/`` and ``models/`` at its top level, where people edit
them. ``assistant/_data/intents`` and ``assistant/_data/models`` are symlinks to those
folders, and ``pyproject.toml`` lists them as package data, so setuptools copies the
files into the wheel. One lookup through ``importlib.resources`` then finds them in a
checkout (``PYTHONPATH``), an editable install and an installed wheel alike. The
``nlu.intents_dir`` and ``nlu.model_dir`` settings point elsewhere when asked.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def data_path(*parts: str) -> Path:
    """The shipped file or folder ``parts`` under ``assistant/_data``, symlinks resolved.

    Resolved, so that in a checkout errors and tests name ``intents/...`` and
    ``models/...``, the files people edit; in a wheel it is the copy in site-packages.
    """
    return Path(str(files("assistant").joinpath("_data", *parts))).resolve()
