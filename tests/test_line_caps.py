"""Every line-based reader caps a line's length before parsing it: a longer line is one clear problem with its
number, read past in bounded pieces (main held the whole line, ~0.7 GB for 200 MB, before refusing it)."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from corpgraph.loaders.lines import MAX_LINE, bounded_lines
from corpgraph.loaders.validate import load_file
from corpgraph.schema.errors import InvalidInput

ROOT = Path(__file__).resolve().parent.parent
COMPANY = b'{"type": "Company", "id": "a", "name": "A"}\n'


def test_bounded_lines_numbers_lines_and_replaces_a_long_one() -> None:
    data = b"ab\n" + b"x" * 25 + b"\n" + b"cd"  # line 2 is 26 bytes with its break, over a cap of 10
    assert list(bounded_lines(io.BytesIO(data), 10)) == [(1, b"ab\n"), (2, None), (3, b"cd")]
    assert list(bounded_lines(io.BytesIO(b"0123456789\n"), 10)) == [(1, b"0123456789\n")]  # 10 bytes and its break


def _long_line_file(tmp_path: Path, name: str, line: bytes) -> Path:
    """A file whose second line is longer than the cap, between two good lines."""
    path = tmp_path / name
    with path.open("wb") as out:
        out.write(line)
        out.write(b'{"type": "Company", "id": "b", "name": "' + b"b" * (MAX_LINE + 10) + b'"}\n')
        out.write(line.replace(b'"a"', b'"c"'))
    return path


@pytest.mark.parametrize("name,first", [
    ("native.jsonl", COMPANY),
    ("companies.csv", b"id,name\n"),
    ("bods.jsonl", b'{"statementId": "s1", "statementType": "entityStatement", "entityType": "registeredEntity"}\n'),
])
def test_a_line_over_the_cap_is_one_problem_with_its_number(tmp_path: Path, name: str, first: bytes) -> None:
    path = _long_line_file(tmp_path, name, first)
    with pytest.raises(InvalidInput) as info:
        load_file(path, format="bods" if name.startswith("bods") else None)
    reasons = [str(p) for p in info.value.problems]
    assert f"{path}:2: (line): the line is longer than {MAX_LINE:,} bytes; no record takes that much" in "\n".join(
        reasons), reasons


def test_a_200_mib_line_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "one-line.jsonl"
    with path.open("wb") as out:
        out.write(b'{"type": "Company", "id": "a", "name": "')
        for _ in range(200):
            out.write(b"a" * (1 << 20))
        out.write(b'"}\n')
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forked parent (pytest's own RSS)
    script = ("import sys\nfrom pathlib import Path\nfrom corpgraph.loaders.validate import load_file\n"
              "try:\n    load_file(Path(sys.argv[1]))\nexcept Exception as exc:\n    print(str(exc)[:400])\n"
              "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) // 1024)")
    said = subprocess.run([sys.executable, "-c", script, str(path)], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.splitlines()
    assert "the line is longer than" in "\n".join(said[:-1]), said
    assert int(said[-1]) < 200  # MiB: the cap's 16 MiB and the interpreter, not the line (main: 641)


