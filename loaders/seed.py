"""The shipped data: the seed (facts of the two seed articles, Alipay/Ctrip 2015, Lakala/Kaola 2019) and examples
with dated history (BODS 0.3's CHRINON update, so the as-of date changes what is shown)."""
from __future__ import annotations

from pathlib import Path

SEED_PATH = Path(__file__).parent / "data" / "seed.jsonl"


def seed_path() -> Path:
    """Path of the native-format seed file shipped with the package."""
    return SEED_PATH


EXAMPLES = Path(__file__).parent / "data" / "examples"


def example_paths() -> list[Path]:
    """The shipped example files, in the order they must be loaded (an update after what it updates)."""
    return sorted(EXAMPLES.glob("*.json"))
