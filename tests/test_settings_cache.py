"""Settings are read from the environment once per process into one shared object."""
from __future__ import annotations

import pytest

from corpgraph.api.settings import get_api_settings
from corpgraph.graph.settings import get_settings


def test_settings_are_read_once_and_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPGRAPH_BATCH_SIZE", "7")
    first = get_settings()
    assert first.batch_size == 7 and get_settings() is first  # one object, not a new read per call
    assert get_api_settings() is get_api_settings()
    monkeypatch.setenv("CORPGRAPH_BATCH_SIZE", "8")  # the test fixture clears the cache on a change
    assert get_settings().batch_size == 8
