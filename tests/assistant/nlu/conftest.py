"""One template parser for the whole module: loading and checking intents/ takes a moment."""

from __future__ import annotations

import pytest

from assistant.nlu.templates import TemplateParser


@pytest.fixture(scope="session")
def parser() -> TemplateParser:
    return TemplateParser()
