"""GLEIF XML is read in bounded pieces whatever its line breaks: a golden copy written on one line peaks at about the
memory of the same file with line breaks (main read a line-less file as one piece: 3.45 GB for 200 MB)."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from benchmarks.generate_gleif import generate_gleif_lei
from corpgraph.loaders.formats.xmlstream import CHUNK, tag_aligned_chunks

ROOT = Path(__file__).resolve().parent.parent
# Read every record of a file through the importer's stream; print the process's peak RSS in MiB (VmHWM: Linux
# carries ru_maxrss over exec from the forked parent, here pytest's own RSS).
_PEAK = """
import sys
from pathlib import Path
from corpgraph.loaders.formats.gleif import XML_HEADER, XML_RECORDS
from corpgraph.loaders.formats.xmlstream import iter_records
count = sum(1 for _ in iter_records(Path(sys.argv[1]), XML_RECORDS, XML_HEADER))
print(count, next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) // 1024)
"""


def test_pieces_are_bounded_cut_before_a_tag_and_whole_together() -> None:
    text = b"<a>" + b"<b x='1'>text</b>" * 200_000 + b"</a>"  # 3.4 MB on one line
    pieces = list(tag_aligned_chunks(io.BytesIO(text)))
    assert b"".join(pieces) == text and pieces[-1] == b""
    assert all(len(p) <= CHUNK + 20 for p in pieces)  # a chunk plus the start of a tag carried over
    assert all(p.startswith(b"<") for p in pieces[:-1])  # each cut falls just before a '<'


def test_a_piece_without_a_tag_is_handed_on_whole() -> None:
    text = b"<a>" + b"x" * (3 * CHUNK) + b"</a>"
    pieces = list(tag_aligned_chunks(io.BytesIO(text)))
    assert b"".join(pieces) == text and max(len(p) for p in pieces) <= 2 * CHUNK


def _peak(path: Path) -> tuple[int, int]:
    """(records read, peak RSS MiB) of a fresh interpreter reading the file."""
    out = subprocess.run([sys.executable, "-c", _PEAK, str(path)], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    return int(out[0]), int(out[1])


def test_a_golden_copy_on_one_line_peaks_like_one_with_line_breaks(tmp_path: Path) -> None:
    lines = tmp_path / "lei.xml"
    generate_gleif_lei(lines, 12_000, seed=18)  # ~30 MB
    flat = tmp_path / "lei-one-line.xml"
    flat.write_bytes(lines.read_bytes().replace(b"\n", b""))
    assert flat.stat().st_size > 20 * CHUNK and b"\n" not in flat.read_bytes()
    with_breaks, without = _peak(lines), _peak(flat)
    assert with_breaks[0] == without[0] == 12_000
    # main: the one-line file was one piece (its bytes, the parser's copy and the tree: hundreds of MiB more)
    assert without[1] <= with_breaks[1] + 20, (with_breaks, without)
