"""A throwaway, real Neo4j Community server for the tests and benchmarks, from tools/neo4j-server/.

`start_neo4j_server(home)` builds the launcher if needed (Maven, offline from the local cache after the first
build), writes `home/neo4j.conf` (Bolt on 127.0.0.1 with a free port, auth on, small memory pools, no usage
reports), starts `corpgraph.TestServer` in a JVM with a bounded heap and a generated password, and waits
for the launcher to announce its Bolt address. `stop()` closes the launcher's stdin (its lifeline: a clean
shutdown), then SIGTERM, then SIGKILL, always by pid. Neo4j Community is GPLv3: used here as a test server
only, never shipped with corpgraph.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from corpgraph.graph.settings import Settings

LAUNCHER = Path(__file__).resolve().parent.parent / "tools" / "neo4j-server"
_MAIN_CLASS = "corpgraph.TestServer"
_READY_TIMEOUT_S = 180.0  # a cold JVM on a busy 2-core machine; usually 10-20 s
_STOP_TIMEOUT_S = 60.0
# Neo4j 5 LTS runs on Java 17 and 21 only.
_JAVA_MAJORS = (17, 21)
_JAVA_CANDIDATES = ("/usr/lib/jvm/java-17-openjdk-amd64", "/usr/lib/jvm/java-21-openjdk-amd64")

# Settings every test server gets. The per-transaction cap is what a "file too large for one transaction"
# runs into; tests and benchmarks may override it (and anything else) through `settings`.
BASE_SETTINGS = {
    "server.bolt.enabled": "true",
    "server.bolt.listen_address": "127.0.0.1:0",
    "server.bolt.tls_level": "DISABLED",
    "dbms.security.auth_enabled": "true",
    "dbms.usage_report.enabled": "false",
    "server.memory.pagecache.size": "64m",
    "db.memory.transaction.max": "64m",
}


@dataclass
class Neo4jServer:
    """A running launcher JVM; `uri`, `username`, `password` are what the driver and NEO4J_* need."""

    process: subprocess.Popen[bytes]
    uri: str
    password: str
    home: Path
    username: str = "neo4j"

    def env(self) -> dict[str, str]:
        """The NEO4J_* variables that point corpgraph at this server."""
        return {"NEO4J_URI": self.uri, "NEO4J_USERNAME": self.username, "NEO4J_PASSWORD": self.password}

    def settings(self, **overrides: Any) -> Settings:
        """corpgraph's Settings pointing at this server, as NEO4J_* in the environment would (and `overrides`)."""
        from corpgraph.graph.settings import Settings

        values: dict[str, Any] = {**self.env(), **overrides}  # the aliases (NEO4J_URI, ...) as keywords
        return Settings(**values)

    def stop(self) -> None:
        """Shut Neo4j down cleanly (stdin closed), falling back to SIGTERM and then SIGKILL by pid."""
        if self.process.poll() is not None:
            return
        if self.process.stdin is not None:
            self.process.stdin.close()
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None:
                os.kill(self.process.pid, sig)
            try:
                self.process.wait(timeout=_STOP_TIMEOUT_S)
                return
            except subprocess.TimeoutExpired:
                continue

    def init_schema(self) -> None:
        """Create corpgraph's constraints and indexes, as `corpgraph db init` does (stores opened later need them)."""
        from corpgraph.graph.stores.neo4j import open_neo4j_store

        store = open_neo4j_store(self.settings(), require_schema=False)
        try:
            store.init_schema()
        finally:
            store.close()

    def log_tail(self) -> str:
        """The end of the launcher's output and Neo4j's debug log, to explain a failure."""
        parts = []
        for path in (self.home / "launcher.log", self.home / "logs" / "debug.log"):
            if path.exists():
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts) or "(no log)"


def build_launcher() -> Path:
    """Build tools/neo4j-server (a no-op when up to date) and return its directory."""
    if shutil.which("mvn") is None:
        raise RuntimeError("Maven (mvn) is not installed: the Neo4j tests build tools/neo4j-server with it")
    result = subprocess.run([str(LAUNCHER / "build")], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"building tools/neo4j-server failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return LAUNCHER


def find_java() -> str:
    """A `java` of a version Neo4j 5 runs on: NEO4J_TEST_JAVA, JAVA_HOME, PATH, then the usual JDK folders."""
    candidates = [os.environ.get("NEO4J_TEST_JAVA", "")]
    candidates += [str(Path(home) / "bin" / "java") for home in (os.environ.get("JAVA_HOME", ""),) if home]
    candidates += [shutil.which("java") or ""]
    candidates += [f"{home}/bin/java" for home in _JAVA_CANDIDATES]
    seen = []
    for java in filter(None, candidates):
        if java in seen or not Path(java).exists():
            continue
        seen.append(java)
        if _java_major(java) in _JAVA_MAJORS:
            return java
    raise RuntimeError(f"no Java {' or '.join(map(str, _JAVA_MAJORS))} found (tried {seen}); "
                       "Neo4j 5 needs one: install openjdk-17-jre or set NEO4J_TEST_JAVA")


# C1 only: the JVM starts and warms up faster, which is what a short test session needs (benchmarks pass ()).
FAST_START = ("-XX:TieredStopAtLevel=1",)


# The garbage collector: G1 keeps pauses short (API latency, the tests); Parallel spends less CPU on a load's
# garbage, where pauses do not matter: 13 against 24 µs a record of GC threads in a warm batched load of 129,000
# records (two writers, load average 14-17, side by side), the Bolt workers' work unchanged (42 µs both).
LATENCY_GC = "G1"
THROUGHPUT_GC = "Parallel"


def start_neo4j_server(home: Path, settings: dict[str, str] | None = None, heap: str = "768m",
                       jvm_options: tuple[str, ...] = FAST_START, gc: str = LATENCY_GC) -> Neo4jServer:
    """Start a Neo4j Community server with its data in `home` (an empty folder) and wait for Bolt."""
    launcher = build_launcher()
    java = find_java()
    home.mkdir(parents=True, exist_ok=True)
    conf = {**BASE_SETTINGS, **(settings or {})}
    (home / "neo4j.conf").write_text("".join(f"{key}={value}\n" for key, value in conf.items()))
    password = secrets.token_urlsafe(18)
    classpath = os.pathsep.join([str(launcher / "target" / "neo4j-test-server-1.jar"),
                                 str(launcher / "target" / "lib" / "*")])
    command = [java, f"-Xmx{heap}", f"-XX:+Use{gc}GC", "-XX:+ExitOnOutOfMemoryError", *jvm_options,
               "-cp", classpath, _MAIN_CLASS, str(home)]
    log = (home / "launcher.log").open("wb")
    process = subprocess.Popen(command, cwd=home, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "NEO4J_TEST_PASSWORD": password})
    log.close()
    server = Neo4jServer(process, "", password, home)
    try:
        server.uri = _wait_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: Neo4jServer) -> str:
    """Poll for the launcher's bolt.uri file; fail with the logs if the JVM exits or takes too long."""
    ready = server.home / "bolt.uri"
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if ready.exists():
            return ready.read_text().strip()
        if server.process.poll() is not None:
            raise RuntimeError(f"the Neo4j launcher exited early (code {server.process.returncode}):\n"
                               f"{server.log_tail()}")
        time.sleep(0.2)
    raise RuntimeError(f"Neo4j did not open Bolt within {_READY_TIMEOUT_S:.0f}s:\n{server.log_tail()}")


def _java_major(java: str) -> int | None:
    """The major version `java -version` reports, or None if it does not run."""
    try:
        result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)', result.stderr)
    return int(match.group(1)) if match else None


def free_port() -> int:
    """A loopback TCP port nothing listens on right now (for tests that need a closed port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
