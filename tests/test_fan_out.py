"""Forked validating workers (loaders.workers.fan_out) end when the process reading them is killed."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

_READER = """
import multiprocessing, time
from corpgraph.loaders.workers import fan_out

results = fan_out(lambda: range(1000), lambda i: b"x" * 1_000_000, 2)  # 1 MB a result: more than a pipe holds
next(results)
print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
time.sleep(600)
"""


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan's exit is reaped by whoever adopts it, maybe never here)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_workers_end_when_their_reader_is_killed() -> None:
    reader = subprocess.Popen([sys.executable, "-c", _READER], stdout=subprocess.PIPE, text=True)
    assert reader.stdout is not None
    pids = [int(p) for p in reader.stdout.readline().split()]
    assert len(pids) == 2
    reader.send_signal(signal.SIGKILL)  # kill -9: no finally runs, nobody terminates the workers
    reader.wait()
    deadline = time.monotonic() + 60  # a liveness bound, not a speed target: blocked workers never end
    while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in pids if _running(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == [], "workers still running after their reader was killed (blocked writing to a pipe)"
