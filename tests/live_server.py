"""The product's server in a subprocess on 127.0.0.1 (its own interpreter, so its event loop and GIL are not the
test's), over an embedded store file, for tests that measure how it behaves under load."""
from __future__ import annotations

import os
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
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "CORPGRAPH_DB": str(db), "CORPGRAPH_STORE": "embedded",
           **{f"CORPGRAPH_API_{name.upper()}": value for name, value in settings.items()}}
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "corpgraph.api.app:create_app", "--host",
                                "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
                               cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(process, url, ready_seconds)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
