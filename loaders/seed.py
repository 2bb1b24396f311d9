"""The shipped seed data: facts of the two seed articles (Alipay/Ctrip 2015, Lakala/Kaola 2019)."""
from __future__ import annotations

from pathlib import Path

SEED_PATH = Path(__file__).parent / "data" / "seed.jsonl"


def seed_path() -> Path:
    """Path of the native-format seed file shipped with the package."""
    return SEED_PATH
