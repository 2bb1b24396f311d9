"""The pages shipped in the package use the pinned libraries and load nothing from another host."""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
STATIC = ROOT / "api" / "static"


def test_vendored_libraries_are_the_pinned_versions() -> None:
    lock = json.loads((ROOT / "web" / "package-lock.json").read_text(encoding="utf-8"))["packages"]
    listed = (STATIC / "vendor" / "VERSIONS.txt").read_text(encoding="utf-8")
    for name, version in re.findall(r": (@?[\w/.-]+)@([\w.-]+) \(", listed):
        assert lock[f"node_modules/{name}"]["version"] == version, f"{name} in api/static/vendor is not the locked version"


def test_pages_load_nothing_from_another_host() -> None:
    for page in STATIC.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)=["'](https?:)?//""", text), f"{page.name} loads from another host"
