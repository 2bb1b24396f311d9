"""The progress of `corpgraph load`, phase by phase: what is being done, records done over wall time, time spent.

On a terminal a live line per file: its phase (reading and checking, writing, checking references,
committing), the bytes read as the bar and an estimate of when reading ends while reading, then a spinner
and the phase's own elapsed time (the checks and the commit can take as long as the reading, so no bar
pretends to measure them). Without a terminal, one plain line on stderr when a file enters a phase for the
first time and every `every` seconds after. Each file ends with a line of its totals and time per phase.

Both are drawn by a loaders.forking Ticker, the display's only thread: it is stopped around each fork, so the load
still forks its validating workers (loaders.workers) and read-ahead child (loaders.readahead) while it shows.

The format readers open the file themselves (in this process, or in a child reading ahead), so how far
they have read is taken from the kernel's record of the open file (/proc/<pid>/fdinfo on Linux); elsewhere
the display shows records and records/s without the bar.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, Task, TextColumn
from rich.text import Text

from corpgraph.loaders.forking import Ticker
from corpgraph.schema.batch import Batch, LoadPhase

PLAIN_EVERY = 5.0  # seconds between two plain progress lines of one phase (no terminal)
LIVE_EVERY = 0.1  # seconds between two redraws of the live display (rich's own rhythm: 10 a second)


class FileProgress:
    """One file's progress: records done, bytes read, the phase it is in and the time each phase took."""

    def __init__(self, path: Path, on_change: Callable[["FileProgress", bool], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = path.name
        self._resolved = str(path.resolve()) if path.exists() else ""
        self.size = path.stat().st_size if path.exists() else 0
        self._clock = clock
        self._on_change = on_change
        self.started = self.phase_started = clock()
        self.phase: LoadPhase | None = None
        self.spent: dict[LoadPhase, float] = {}
        self.records = 0
        self.read = 0
        self.finished: float | None = None

    def __call__(self, batch: Batch) -> None:
        """One batch is written: count its records and how far the file has been read."""
        self.records += len(batch) + len(batch.problems)
        self.read = read_position(self._resolved) or self.read
        self._on_change(self, False)

    def enter(self, phase: LoadPhase) -> None:
        """The load moved to `phase` (the store says so); the time of the phase left is added to its total."""
        now = self._clock()
        if self.phase is not None:
            self.spent[self.phase] = self.spent.get(self.phase, 0.0) + now - self.phase_started
        first = phase not in self.spent and phase != self.phase
        self.phase, self.phase_started = phase, now
        if phase in (LoadPhase.REFERENCES, LoadPhase.COMMITTING):
            self.read = self.size  # every byte was read before the whole-file checks
        self._on_change(self, first)

    def done(self) -> None:
        """The file is finished (written or refused): close the current phase."""
        if self.phase is not None:
            self.enter(self.phase)  # adds the running phase's time
        self.finished = self._clock()

    def elapsed(self) -> float:
        """Wall seconds since the file was started (until it finished)."""
        return (self.finished or self._clock()) - self.started

    def rate(self) -> float:
        """Records done over wall time: the honest figure, slow phases included."""
        elapsed = self.elapsed()
        return self.records / elapsed if elapsed > 0 else 0.0

    def status(self) -> str:
        """The live text: the phase (with its own elapsed time once reading is over), how far reading is, records,
        records/s over wall time and the time spent."""
        now = self._clock()
        counts = f"{self.records:,} records, {self.rate():,.0f} records/s, {_clock_text(self.elapsed())}"
        if self.phase not in (LoadPhase.READING, LoadPhase.WRITING):
            phase = self.phase.value if self.phase else "starting"
            return f"{self.name}: {phase} for {_clock_text(now - self.phase_started)}, {counts}"
        text = f"{self.name}: {self.phase.value}, {counts}"
        fraction = min(self.read / self.size, 1.0) if self.size and self.read else 0.0
        if fraction:
            text += f", {fraction:.0%} read"
        if 0 < fraction < 1:
            text += f", reading ends in ~{_clock_text((now - self.started) * (1 - fraction) / fraction)}"
        return text

    def final(self) -> str:
        """The closing line: records, wall time, records/s and the time of each phase."""
        phases = ", ".join(f"{phase.value} {self.spent[phase]:.1f} s" for phase in LoadPhase if phase in self.spent)
        return (f"{self.name}: {self.records:,} records in {self.elapsed():.1f} s ({self.rate():,.0f} records/s)"
                + (f"; {phases}" if phases else ""))


class LoadDisplay:
    """Shows every file's progress on a console: live on a terminal, plain lines every few seconds elsewhere."""

    def __init__(self, console: Console, every: float = PLAIN_EVERY) -> None:
        self._console = console
        self._live = console.is_terminal
        # rich's own refresh thread would keep the load from forking: the Ticker redraws instead
        self._progress = Progress(SpinnerColumn(), BarColumn(bar_width=30), _StatusColumn(), console=console,
                                  transient=True, auto_refresh=False) if self._live else None
        self._ticker = (Ticker(self._progress.refresh, LIVE_EVERY, "load-progress") if self._progress is not None
                        else Ticker(self._tick, every, "load-progress"))
        self._tasks: dict[int, object] = {}
        self._current: FileProgress | None = None
        self._lock = threading.Lock()

    @contextmanager
    def running(self) -> Iterator["LoadDisplay"]:
        """Start the live display (or the plain lines) and its ticker; stop both on the way out."""
        if self._progress is not None:
            self._progress.start()
        self._ticker.start()
        try:
            yield self
        finally:
            self._ticker.stop()
            if self._progress is not None:
                self._progress.stop()

    def file(self, path: Path) -> FileProgress:
        """A new file's progress, shown from now on."""
        shown = FileProgress(path, self._changed)
        with self._lock:
            self._current = shown
            if self._progress is not None:
                # one more than the size: a task that reaches its total counts as finished, and its spinner stops
                self._tasks[id(shown)] = self._progress.add_task(shown.name, total=shown.size + 1, file=shown)
        return shown

    def finish(self, shown: FileProgress) -> None:
        """Close a file's progress and print its closing line (it stays on screen)."""
        shown.done()
        with self._lock:
            self._current = None
            if self._progress is not None:
                self._progress.remove_task(self._tasks.pop(id(shown)))  # type: ignore[arg-type]
        self._say(shown.final())

    def _changed(self, shown: FileProgress, first: bool) -> None:
        """A phase began: on a terminal the bar is a measure only while reading; elsewhere a line for a new phase."""
        if self._progress is not None:
            task = self._tasks.get(id(shown))
            if task is not None:
                reading = shown.phase in (LoadPhase.READING, LoadPhase.WRITING) and bool(shown.read)
                self._progress.update(task, total=shown.size + 1 if reading else None,  # type: ignore[arg-type]
                                      completed=shown.read)
                if first:
                    self._progress.refresh()  # every phase is drawn at least once, however short
        elif first:
            self._say(shown.status())

    def _tick(self) -> None:
        """Without a terminal, every `every` seconds: the current file's status."""
        with self._lock:
            shown = self._current
        if shown is not None:
            self._say(shown.status())

    def _say(self, line: str) -> None:
        """One plain line on the display's console, never wrapped (users grep them)."""
        if self._progress is not None:
            self._progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            self._console.print(line, markup=False, highlight=False, soft_wrap=True)


class _StatusColumn(ProgressColumn):
    """The file's status text, computed at each refresh so a long commit's elapsed time keeps moving."""

    def render(self, task: Task) -> Text:
        """The status of the file this task shows."""
        shown: FileProgress = task.fields["file"]
        return Text(shown.status())


def _clock_text(seconds: float) -> str:
    """Seconds as m:ss (h:mm:ss past an hour)."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


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
