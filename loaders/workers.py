"""Validate a native JSON Lines file's batches in forked worker processes, in the file's order, each batch turned by
the caller's function into what it needs of it (compact rows) before it travels back.

A bulk import (`corpgraph db import`) spends about half its time on work that each record needs alone: validating
its line and writing its CSV row. Each of the workers reads the whole file and cuts it into the same chunks as a
reader in-process would (loaders.validate's `_chunks`, so every batch holds the same lines and problems), and
validates and maps only its share: chunk n goes to worker n % workers. The parent takes the results back chunk by
chunk in turn, so it sees the batches in the file's order, and runs what depends on every record before (the
whole-file checks). What travels is what `work` returns, never the pydantic records: unpickling a record costs
about what validating its line does. Each worker blocks on its pipe while the parent is behind, so at most one
result per worker waits: memory stays bounded whatever the file's size.
"""
from __future__ import annotations

import gc
import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from corpgraph.schema.errors import InvalidInput

from corpgraph.loaders.forking import can_fork
from corpgraph.loaders.readahead import MIN_BYTES

T = TypeVar("T")
Chunk = list[Any]  # a chunk of a format's stream (lines with their origins, problems)


def worker_count(path: Path) -> int:
    """How many workers validate a native JSON Lines file: one per core on a machine with two or more, when this
    process may fork (a worker is a fork: the caller's function travels with it, nothing to pickle; no thread but
    a stopped-at-fork Ticker may run then, loaders.forking) and the file is of some size; else none.
    The machine's load is not asked (unlike loaders.readahead): the workers take over the parent's own work."""
    cores = os.cpu_count() or 1
    return cores if can_fork() and cores >= 2 and os.path.getsize(path) >= MIN_BYTES else 0


def fan_out(chunks: Callable[[], Iterable[Chunk]], work: Callable[[Chunk], T], workers: int) -> Iterator[T]:
    """work(chunk) of every chunk `chunks()` gives, in order, computed by `workers` forked processes (each calls
    `chunks()` and works on its share); a worker's exception is raised here."""
    context = mp.get_context("fork")
    pipes: list[Connection] = []
    children = []
    try:
        for index in range(workers):
            receive, send = context.Pipe(duplex=False)
            child = context.Process(target=_work, args=(chunks, work, index, workers, send, [*pipes, receive]),
                                    name=f"corpgraph-validate-{index}", daemon=True)
            child.start()
            send.close()  # the child holds the only writing end: its exit ends its stream (EOFError) even if it dies
            pipes.append(receive)
            children.append(child)
        turn = 0
        while True:
            kind, payload = _receive(pipes[turn % workers], children[turn % workers].exitcode)
            if kind == "end":  # the worker whose turn it is has no chunk left: every chunk was taken
                return
            if kind == "invalid":
                raise InvalidInput(payload)
            if kind == "error":
                raise payload
            yield payload
            turn += 1
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()  # the parent stopped early (a check failed, or it was interrupted)
            child.join()
        for receive in pipes:
            receive.close()


def _receive(pipe: Connection, exitcode: int | None) -> tuple[str, Any]:
    """The next message of a worker; RuntimeError when it ended without saying so."""
    try:
        message: tuple[str, Any] = pipe.recv()
    except EOFError:
        raise RuntimeError(f"a process validating the file ended without finishing (exit code {exitcode})") from None
    return message


def _work(chunks: Callable[[], Iterable[Chunk]], work: Callable[[Chunk], Any], index: int, workers: int,
          send: Connection, inherited: list[Connection]) -> None:
    """In a worker: the results of its chunks (every `workers`-th from `index`), then "end" (or what stopped it)."""
    for receive in inherited:  # the fork copied the parent's reading ends: held here, a killed parent's pipe never
        receive.close()        # breaks, and this worker would block on a full pipe forever instead of ending
    # The worker keeps the collector as the forking process set it (graph.gc_policy: the process decides; `corpgraph
    # load` and `db import` pause it), as the same work does in-process. Enabled here, it took a fifth to a third of
    # a worker's CPU (young and full passes over each batch's records; 200k records: 24.6-30.7 us a record against
    # 19.7-20.3 paused, peak RSS 104 MB either way: the records hold no cycles).
    gc.freeze()  # what the parent held stays out of the collector's way, should the process keep it running
    try:
        for number, chunk in enumerate(chunks()):
            if number % workers == index:
                send.send(("batch", work(chunk)))
        send.send(("end", None))
    except InvalidInput as exc:
        _last(send, ("invalid", exc.problems))
    except BaseException as exc:  # noqa: BLE001 (any failure of a worker is the parent's to raise)
        try:
            _last(send, ("error", exc))
        except Exception:  # noqa: BLE001 (an exception that does not pickle still ends the import, named)
            _last(send, ("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        send.close()


def _last(send: Connection, message: tuple[str, Any]) -> None:
    """A worker's last message; a parent that has gone (it stopped reading) needs none."""
    try:
        send.send(message)
    except OSError:
        pass
