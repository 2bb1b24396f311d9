"""Input files that are not UTF-8 somewhere: every reader says `not UTF-8 at byte N` of the file (or of the line),
counted from 1 across its chunks, and loads nothing; never a traceback or an offset into some chunk."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpgraph.api.cli import app
from corpgraph.loaders.textdecode import ChunkDecoder, NotUtf8

BODS = Path("/work/shared/realdata/bods/v0.4/indirect-ownership.json")


def _read_all(data: bytes, size: int) -> str:
    """Everything a ChunkDecoder reads from the bytes, `size` bytes at a time."""
    chunks = ChunkDecoder(io.BytesIO(data))
    out = ""
    while text := chunks.read(size):
        out += text
    return out


@pytest.mark.parametrize("data,size,byte", [
    (b'["a", "\xe9"]', 4, 8),  # by hand: [ " a " , space " -> the 8th byte is \xe9
    ("ab€cd".encode() + b"\xff", 3, 8),  # a, b, then € is 3 bytes (3-5), c d are 6-7: \xff is byte 8
    (b"\xef\xbb\xbfab\xc3", 2, 6),  # the byte-order mark counts: 3 + a + b, then a cut character at 6
    ("é".encode() * 5 + b"\x80", 3, 11),  # five 2-byte characters, then byte 11; chunks cut inside characters
])
def test_a_bad_byte_is_placed_in_the_file_whatever_the_chunks(data: bytes, size: int, byte: int) -> None:
    with pytest.raises(NotUtf8) as caught:
        _read_all(data, size)
    assert caught.value.byte == byte
    assert str(caught.value) == f"not UTF-8 at byte {byte} of the file; save the file as UTF-8"


def test_characters_cut_by_chunks_read_whole() -> None:
    assert _read_all(b"\xef\xbb\xbf" + "é€".encode() * 3, 1) == "é€" * 3


def test_a_bods_array_with_a_byte_that_is_not_utf8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPGRAPH_DB", str(tmp_path / "cli.db"))
    data = BODS.read_bytes()
    at = data.index(b'"name"') + 10  # inside the first name's text
    path = tmp_path / "bods.json"
    path.write_bytes(data[:at] + b"\xe9" + data[at + 1:])
    result = CliRunner().invoke(app, ["load", str(path)])
    # main: exit 70, "internal error: UnicodeDecodeError ... in position 276" with no file or place
    assert result.exit_code == 1, result.output
    assert f"{path}:#: (document): not UTF-8 at byte {at + 1} of the file" in result.stderr
    assert "nothing of it was written" in result.stderr
