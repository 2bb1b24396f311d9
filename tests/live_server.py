"""The product's server in a subprocess on 127.0.0.1 (its own interpreter, so its event loop and GIL are not the
test's), over an embedded store file, for tests that measure how it behaves under load."""
from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def served(db: Path, ready_seconds: float = 60, **settings: str) -> Iterator[str]:
    """Base URL of `uvicorn api.app:create_app` over the store file, with CORPGRAPH_API_<NAME> settings; stopped after."""
    with server_process(db, ready_seconds, None, **settings) as (url, _):
        yield url


@contextmanager
def server_process(db: Path, ready_seconds: float = 60, nofile: int | None = None,
                   **settings: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Like served(), with the process too (its pid for /proc); `nofile` caps its open files (as `ulimit -n`)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "CORPGRAPH_DB": str(db), "CORPGRAPH_STORE": "embedded",
           **{f"CORPGRAPH_API_{name.upper()}": value for name, value in settings.items()}}
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "corpgraph.api.app:create_app", "--host",
                                "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
                               cwd=ROOT, env=env, preexec_fn=None if nofile is None else lambda: _cap_files(nofile))
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(process, url, ready_seconds)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _cap_files(nofile: int) -> None:
    """In the child before exec: at most `nofile` open files (the soft limit; the hard one is left)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))


def open_files(pid: int) -> int:
    """How many files the process has open now (Linux /proc)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_mib(pid: int) -> float:
    """The process's resident memory now, in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def _wait_ready(process: subprocess.Popen[bytes], url: str, seconds: float) -> None:
    """Poll /healthz until it answers; fail if the process exits or the time runs out."""
    deadline = time.monotonic() + seconds
    with httpx.Client(trust_env=False, timeout=5) as client:
        while True:
            assert process.poll() is None, f"the server exited with status {process.returncode}"
            try:
                if client.get(f"{url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not answer /healthz in time"
            time.sleep(0.1)
