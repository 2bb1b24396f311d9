"""The progress of `corpgraph load`: bytes read (for the ETA), records validated and written, records/s.

The format readers open the file themselves (in this process, or in a child reading ahead), so how far
they have read is taken from the kernel's record of the open file (/proc/<pid>/fdinfo on Linux); elsewhere
the display shows records and records/s without an ETA.
"""
from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from corpgraph.schema.batch import Batch


def load_progress(console: Console) -> Progress:
    """A display per file: bytes read as the bar, records validated and written and records/s, time spent and left."""
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}% read"),
                    TextColumn("{task.fields[records]:,} records validated and written, {task.fields[rate]:,.0f}/s"),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True)


class FileProgress:
    """Advances one file's task after each batch is validated and written."""

    def __init__(self, progress: Progress, path: Path) -> None:
        self._progress = progress
        self._path = path
        self._resolved = str(path.resolve()) if path.exists() else ""
        self.records = 0
        size = path.stat().st_size if path.exists() else 0
        self.task: TaskID = progress.add_task(path.name, total=max(size, 1), records=0, rate=0.0)

    def __call__(self, batch: Batch) -> None:
        """One batch is written: count its records, move the bar to the bytes read so far."""
        self.records += len(batch) + len(batch.problems)
        task = self._progress.tasks[self.task]
        elapsed = task.elapsed or 0.0
        position = read_position(self._resolved)
        self._progress.update(self.task, completed=position, records=self.records,
                              rate=self.records / elapsed if elapsed else 0.0)

    def done(self) -> None:
        """The file is finished (written or refused)."""
        self._progress.update(self.task, completed=self._progress.tasks[self.task].total)


def read_position(resolved: str) -> int | None:
    """How far this process, or a child reading for it (loaders' read-ahead), has read the file at that
    resolved path: the furthest open descriptor's offset, if known."""
    if not resolved:
        return None
    found = None
    for proc in ["self", *_children()]:
        try:
            fds = os.listdir(f"/proc/{proc}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{proc}/fd/{fd}") != resolved:
                    continue
                with open(f"/proc/{proc}/fdinfo/{fd}", encoding="ascii") as info:
                    pos = int(info.readline().split()[1])  # first line: "pos:\t<offset>"
            except (OSError, ValueError, IndexError):
                continue
            found = pos if found is None else max(found, pos)
    return found


def _children() -> list[str]:
    """Process ids of this process's children (every thread's), from /proc; none elsewhere."""
    out: list[str] = []
    try:
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children", encoding="ascii") as children:
                out += children.read().split()
    except OSError:
        return out
    return out
