"""The progress of `corpgraph load`: bytes read (for the ETA), records validated and written, records/s.

The format readers open the file themselves, so how far they have read is taken from the kernel's
record of the open file (/proc/self/fdinfo on Linux); elsewhere the display shows records and records/s
without an ETA.
"""
from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from schema.batch import Batch


def load_progress(console: Console) -> Progress:
    """A display per file: bytes read as the bar, records written and records/s, time spent and left."""
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}% read"),
                    TextColumn("{task.fields[records]:,} records written, {task.fields[rate]:,.0f}/s"),
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
    """How far this process has read the file at that resolved path (its furthest open descriptor), if known."""
    if not resolved:
        return None
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return None
    found = None
    for fd in fds:
        try:
            if os.readlink(f"/proc/self/fd/{fd}") != resolved:
                continue
            with open(f"/proc/self/fdinfo/{fd}", encoding="ascii") as info:
                pos = int(info.readline().split()[1])  # first line: "pos:\t<offset>"
        except (OSError, ValueError, IndexError):
            continue
        found = pos if found is None else max(found, pos)
    return found
