"""Read an imported file in a child process, so mapping its source (XML, BODS, FtM) runs on another core while
this process validates and writes.

The child runs the format's own `read(path)` and sends its items through a pipe, in order and in chunks:
this process gets exactly the stream it would have read itself (the same records with the same origins, the
same problems, in the same order), so file:line and JSON-pointer messages and the one-transaction write are
unchanged. Each record travels as its JSON text, which this process validates as it validates a native line
(parsing included, in pydantic-core: less work here than unpickling the record and validating it). The pipe
blocks the child when this process falls behind, so at most a chunk or two are in flight and memory stays
bounded. Native JSON Lines are read in-process: receiving a record costs about what parsing its line does.
"""
from __future__ import annotations

import gc
import json
import multiprocessing as mp
import os
from collections.abc import Iterator
from multiprocessing.connection import Connection
from multiprocessing.context import ForkContext, SpawnContext
from pathlib import Path
from typing import Any

from corpgraph.schema.batch import Origin
from corpgraph.schema.errors import InvalidInput, Problem

from corpgraph.loaders.coverage import Coverage
from corpgraph.loaders.forking import can_fork
from corpgraph.loaders.formats import Format, Line, Raw

CHUNK = 500  # items per message: large enough to amortise a send, small enough to keep memory flat
MIN_BYTES = 1 << 20  # smaller files are read in-process (starting a child costs a few milliseconds)


def worth_a_child(fmt: Format, path: Path) -> bool:
    """True when reading the file in a child pays: an imported format, a file of a megabyte or more, a fork
    allowed (the child starts with this process's modules, nothing to import or pickle: `_context`), and a core to
    spare (the child adds work: on a machine already busy it only competes with this process)."""
    return fmt.name != "native" and can_fork() and os.path.getsize(path) >= MIN_BYTES and spare_core()


def spare_core() -> bool:
    """True when the machine has two or more cores and the last minute's load leaves one of them idle."""
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # no load average on this system: the number of cores decides
        load = 0.0
    return cores >= 2 and load <= cores - 1


def read_ahead(fmt: Format, path: Path, coverage: Coverage | None = None) -> Iterator[Raw | Line | Problem]:
    """The format's stream of the file, read by a child process; the child's exception is raised here, and its
    count of what each kind of source record became is added to `coverage` at the end."""
    context = _context()
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_produce, args=(fmt, path, send), name="corpgraph-read", daemon=True)
    child.start()
    send.close()  # the child holds the only writing end: its exit ends the stream (EOFError) even if it dies
    try:
        while True:
            try:
                kind, payload = receive.recv()
            except EOFError:
                raise RuntimeError(f"the process reading {path} ended without finishing (exit code "
                                   f"{child.exitcode})") from None
            if kind == "items":
                yield from (item if isinstance(item, Problem) else (Origin(*item[0]), item[1]) for item in payload)
            elif kind == "end":
                if coverage is not None:
                    coverage.merge(payload)
                return
            elif kind == "invalid":
                raise InvalidInput(payload)
            else:
                raise payload
    finally:
        if child.is_alive():
            child.terminate()  # this process stopped early (a write failed, or it was interrupted)
        child.join()
        receive.close()


def _context() -> ForkContext | SpawnContext:
    """`fork` when loaders.forking allows it (no thread but a Ticker runs at the fork), else `spawn`. A fork copies
    the locks other threads hold at that moment, C libraries' included, and the child hangs on the first it takes:
    a test process's leftover builder thread did that to the whole suite."""
    return mp.get_context("fork") if can_fork() else mp.get_context("spawn")


def _produce(fmt: Format, path: Path, send: Connection) -> None:
    """In the child: send the format's items, chunk by chunk, then "end" (or what stopped the reading)."""
    gc.freeze()  # what the parent held stays out of the collector's way; the reader's own garbage is collected
    gc.enable()
    chunk: list[Any] = []
    counted = Coverage()
    try:
        for item in fmt.read(path, counted):
            # An origin travels as its fields (a tuple pickles far faster than a dataclass), a record as JSON text.
            chunk.append(item if isinstance(item, Problem) else (_fields(item[0]), _text(item[1])))
            if len(chunk) >= CHUNK:
                send.send(("items", chunk))
                chunk = []
        send.send(("items", chunk))
        send.send(("end", counted))
    except InvalidInput as exc:
        _last(send, ("items", chunk), ("invalid", exc.problems))  # what was read first comes first, as in-process
    except BaseException as exc:  # noqa: BLE001 (any failure of the reader is the parent's to raise)
        try:
            _last(send, ("items", chunk), ("error", exc))
        except Exception:  # noqa: BLE001 (an exception that does not pickle still ends the load, named)
            _last(send, ("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        send.close()


def _last(send: Connection, *messages: tuple[str, Any]) -> None:
    """The child's last messages; a parent that has gone (it stopped reading) needs none, and hears no noise."""
    try:
        for message in messages:
            send.send(message)
    except OSError:
        pass


def _text(data: dict[str, Any]) -> bytes | dict[str, Any]:
    """A record as JSON text (it reads back as the same dict: strings, numbers, lists and dicts only), or the
    dict itself when it holds anything JSON cannot say exactly (then it is validated as a dict)."""
    try:
        return json.dumps(data, separators=(",", ":")).encode()
    except (TypeError, ValueError):
        return data


def _fields(origin: Origin) -> tuple[str, int, str | None, Any]:
    """An Origin's fields, in the order Origin takes them."""
    return origin.file, origin.line, origin.pointer, origin.fields
