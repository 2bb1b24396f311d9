"""Imported texts are capped per field and cut with a warning, never refused (issue 20, item 10).

The case from a real OpenSanctions export: an entity's `notes` of 1,196 characters and a sanction whose reason
is as long made the whole file refused (`String should have at most 1000 characters`). Caps (schema.values):
names 1,000, descriptions/notes 65,536, a source's title 16,384, other labels 1,000 characters.
"""
from __future__ import annotations

from typing import Any

import json
from pathlib import Path

import pytest

from corpgraph.loaders.validate import load_file
from corpgraph.schema.errors import InvalidInput
from corpgraph.schema.values import MAX_LABEL, MAX_TEXT, MAX_TITLE


def ftm_file(tmp_path: Path, *lines: dict[str, Any]) -> Path:
    """An FtM entity stream of these lines."""
    path = tmp_path / "export.ftm.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_an_ftm_line_with_1196_characters_of_notes_and_reason_loads_whole(tmp_path: Path) -> None:
    notes = "The person is a shareholder of several sanctioned companies. " * 20  # 61 * 20 = 1,220
    notes = notes[:1196]
    path = ftm_file(tmp_path,
                    {"id": "c1", "schema": "Company", "properties": {"name": ["Acme"], "notes": [notes]}},
                    {"id": "s1", "schema": "Sanction", "properties": {"entity": ["c1"], "reason": [notes]}})
    batch = load_file(path)
    (acme, _), = batch.entities
    assert acme.description == notes.strip() and len(notes) == 1196
    assert acme.sources[1].title == "Sanction: " + notes.strip()  # 10 + 1,196 characters: over the old 1,000
    assert batch.warnings == []


def test_an_imported_text_over_its_cap_is_cut_there_with_a_warning(tmp_path: Path) -> None:
    path = ftm_file(tmp_path,
                    {"id": "c1", "schema": "Company", "properties": {"name": ["Acme"], "description": ["d" * 70_000]}},
                    {"id": "s1", "schema": "Sanction", "properties": {"entity": ["c1"], "reason": ["r" * 20_000],
                                                                       "authority": ["a" * 1_500]}})
    batch = load_file(path)
    (acme, _), = batch.entities
    assert len(acme.description or "") == MAX_TEXT == 65_536
    assert len(acme.sources[1].title) == MAX_TITLE == 16_384
    assert acme.sources[1].publisher == "a" * MAX_LABEL
    assert [str(w) for w in batch.warnings] == [
        f"{path}:1: warning: description: cut at 65,536 characters (it had 70,000)",
        f"{path}:1: warning: sources.1.publisher: cut at 1,000 characters (it had 1,500)",
        f"{path}:1: warning: sources.1.title: cut at 16,384 characters (it had 20,010)",
        # the designation the Sanction also becomes: its regime is the unknown authority as given, and it cites
        # the Sanction as the entity does ("Sanction: " + the reason: 10 + 20,000 characters)
        f"{path}:2: warning: regime: cut at 1,000 characters (it had 1,500)",
        f"{path}:2: warning: sources.0.publisher: cut at 1,000 characters (it had 1,500)",
        f"{path}:2: warning: sources.0.title: cut at 16,384 characters (it had 20,010)",
        f"{path}:2: warning: authority: cut at 1,000 characters (it had 1,500)",
    ]


def test_urls_are_never_cut_and_native_files_keep_the_strict_rule(tmp_path: Path) -> None:
    url = "https://example.org/" + "u" * 3_000  # a cut URL would point elsewhere: refused, as before
    path = ftm_file(tmp_path, {"id": "c1", "schema": "Company", "properties": {"name": ["Acme"], "sourceUrl": [url]}})
    with pytest.raises(InvalidInput) as info:
        load_file(path)
    assert [p.field for p in info.value.problems] == ["sources.0.url"]
    native = tmp_path / "in.jsonl"
    native.write_text(json.dumps({"type": "Company", "id": "a", "name": "A", "description": "d" * 65_537}) + "\n")
    with pytest.raises(InvalidInput) as info:
        load_file(native)
    assert [str(p) for p in info.value.problems] == [
        f"{native}:1: description: String should have at most 65536 characters"]


def test_the_cli_says_each_cut_and_loads_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner
    from corpgraph.api.cli import app
    from corpgraph.graph.settings import get_settings
    monkeypatch.setenv("CORPGRAPH_DB", str(tmp_path / "t.db"))
    get_settings.cache_clear()
    path = ftm_file(tmp_path, {"id": "c1", "schema": "Company", "properties": {"name": ["n" * 1_200]}})
    result = CliRunner().invoke(app, ["load", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}:1: warning: name: cut at 1,000 characters (it had 1,200)" in result.output
