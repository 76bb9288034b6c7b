"""A real ``redis-server`` for the tests: started on a free 127.0.0.1 port, stopped and started again.

The state tests need a Redis that can die mid-call and come back where it was, so the server
always restarts on the port it first got. A machine without ``redis-server`` makes the tests
that need it fail (never skip): the CI script installs it, and a missing one must show.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

HOST = "127.0.0.1"
START_TIMEOUT = 10.0  # seconds; redis-server answers in a few milliseconds
ENV_BINARY = "REDIS_SERVER"
"""Names another ``redis-server`` binary than the one on PATH."""


class RedisServerError(RuntimeError):
    """redis-server is missing, or did not start or stop as asked."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def ping(port: int, timeout: float = 0.2) -> bool:
    """Whether a Redis on ``port`` answers PING now (raw RESP: no client state to go stale)."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def find_binary() -> str:
    """The ``redis-server`` to run: ``$REDIS_SERVER``, else the one on PATH; RedisServerError if none."""
    wanted = os.environ.get(ENV_BINARY) or "redis-server"
    binary = shutil.which(wanted)
    if not binary:
        raise RedisServerError(
            f"{wanted!r} not found (on PATH, or as ${ENV_BINARY}): "
            "the state tests need a real Redis; install it (apt-get install redis-server)"
        )
    return binary


class RedisServer:
    """One ``redis-server`` subprocess on 127.0.0.1, in memory only (no RDB, no AOF).

    ``start()`` waits until it answers PING; ``stop()`` ends it and waits until the port is
    closed; ``start()`` again reuses the same port. Use it as a context manager, or call
    ``stop()``: a server is never left behind.
    """

    def __init__(self, log_dir: Path, port: int | None = None) -> None:
        self.binary = find_binary()
        self.log_dir = log_dir
        self.port = port if port is not None else _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._starts = 0

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>`` (database 0)."""
        return f"redis://{HOST}:{self.port}"

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        """What every run of this server wrote so far."""
        texts = [
            path.read_text(encoding="utf-8", errors="replace")
            for path in sorted(self.log_dir.glob(f"redis-{self.port}-*.log"))
        ]
        return "\n".join(texts)

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the server (on its port) and wait until it answers PING."""
        if self.is_running():
            return
        self._starts += 1
        log_path = self.log_dir / f"redis-{self.port}-{self._starts}.log"
        command = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            HOST,
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            # The working directory is only read for dump files, which are off; keep it ours anyway.
            "--dir",
            str(self.log_dir),
        ]
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break  # exited: the port is taken, or the binary refuses its options
            if ping(self.port):
                return
            time.sleep(0.01)
        self.stop()
        raise RedisServerError(f"redis-server did not start on port {self.port}:\n{self.log()}")

    def stop(self) -> None:
        """End the server and wait until its port no longer answers."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if ping(self.port):
            raise RedisServerError(f"something still answers on port {self.port} after redis-server stopped")

    def __enter__(self) -> RedisServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
