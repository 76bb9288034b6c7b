"""Shared fixtures: real uvicorn servers on real sockets (127.0.0.1 only), for the end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from jambonz_webhooks import JambonzApp
from jambonz_webhooks.security import HookSecurity

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
STARTUP_TIMEOUT = 15.0  # seconds; uvicorn is normally up in well under one


@dataclass
class LiveServer:
    """A uvicorn subprocess serving one ASGI app, with its stderr captured to a file."""

    app: str
    process: subprocess.Popen[bytes]
    port: int
    stderr_path: Path

    @property
    def origin(self) -> str:
        """``scheme://host:port``: what jambonz resolves a relative hook against."""
        return f"http://{HOST}:{self.port}"

    def stderr(self) -> str:
        """Everything the server wrote to stderr so far."""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_stderr(self, needle: str, timeout: float = 3.0) -> str:
        """Wait (bounded) until ``needle`` shows in stderr; return the whole stderr either way."""
        deadline = time.monotonic() + timeout
        text = self.stderr()
        while needle not in text and time.monotonic() < deadline:
            time.sleep(0.02)
            text = self.stderr()
        return text

    def is_running(self) -> bool:
        return self.process.poll() is None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_answers(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


def _inherited_env() -> dict[str, str]:
    """This process's environment without the framework's own settings: each server gets its own."""
    return {key: value for key, value in os.environ.items() if not key.startswith("JAMBONZ_")}


def _spawn(app: str, log_dir: Path, tag: str, env: Mapping[str, str] | None = None) -> LiveServer:
    """Start ``python -m uvicorn app`` on a free port, stdout and stderr to files; do not wait.

    ``env`` adds variables to (or overrides them in) the environment the server inherits.
    """
    port = _free_port()
    stderr_path = log_dir / f"{tag}.stderr.log"
    with open(stderr_path, "wb") as stderr, open(log_dir / f"{tag}.stdout.log", "wb") as stdout:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", app, "--host", HOST, "--port", str(port)],
            cwd=REPO_ROOT,
            env={**_inherited_env(), **(env or {}), "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )
    return LiveServer(app, process, port, stderr_path)


def _wait_ready(server: LiveServer, deadline: float) -> bool:
    """Wait, until ``deadline`` at most, for the server's port to answer; False if it died or is late."""
    # uvicorn prints this line only once *it* holds the socket: a port answering alone could be
    # another process that took the free port first.
    banner = f"Uvicorn running on {server.origin}"
    while server.is_running() and time.monotonic() < deadline:
        if banner in server.stderr() and _port_answers(server.port):
            return True
        time.sleep(0.02)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


APPS = {
    "ivr": "example_app.app:app",
    "starlette_mount": "tests.apps.starlette_mount:app",
    "fastapi_mount": "tests.apps.fastapi_mount:app",
    "probe": "tests.apps.probe:app",
    "ivr_protected": "example_app.app:app",
    "secure": "tests.apps.secure:app",
    "slow": "tests.apps.slow:app",
}

# What an internet-facing deployment of the unchanged example app sets; the app reads these when it
# is built. The other servers are opened explicitly (apps fail closed): their tests are about
# everything but authentication.
INSECURE = {"JAMBONZ_WEBHOOK_INSECURE": "1"}
PROTECTED_SECRET = "wh_secret_abuse_test_0123456789"
PROTECTED_USERNAME = "jambonz"
PROTECTED_PASSWORD = "s3cr3t pässword:with colon"
APP_ENV: dict[str, dict[str, str]] = {
    "ivr_protected": {
        "JAMBONZ_WEBHOOK_SECRET": PROTECTED_SECRET,
        "JAMBONZ_WEBHOOK_USERNAME": PROTECTED_USERNAME,
        "JAMBONZ_WEBHOOK_PASSWORD": PROTECTED_PASSWORD,
    },
    "ivr": INSECURE,
    "starlette_mount": INSECURE,
    "fastapi_mount": INSECURE,
    "probe": INSECURE,
    "slow": INSECURE,
}


@pytest.fixture(scope="session")
def live_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LiveServer]]:
    """Every test app under uvicorn, started together once per session, stopped at its end."""
    log_dir = tmp_path_factory.mktemp("uvicorn")
    with ExitStack() as stack:
        # Start every process before waiting on any: their imports overlap.
        servers = {key: _spawn(app, log_dir, key, APP_ENV.get(key)) for key, app in APPS.items()}
        for server in servers.values():
            stack.callback(_stop, server.process)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        for key, server in list(servers.items()):
            if _wait_ready(server, deadline):
                continue
            # The free port may have been taken between the probe and uvicorn's bind: retry once.
            _stop(server.process)
            servers[key] = retry = _spawn(server.app, log_dir, f"{key}-retry", APP_ENV.get(key))
            stack.callback(_stop, retry.process)
            if not _wait_ready(retry, time.monotonic() + STARTUP_TIMEOUT):
                raise RuntimeError(f"uvicorn {retry.app} did not start:\n{server.stderr()}\n{retry.stderr()}")
        yield servers


def _client(server: LiveServer) -> Iterator[httpx2.Client]:
    # trust_env=False: no proxy from the environment may stand between the test and 127.0.0.1.
    with httpx2.Client(base_url=server.origin, timeout=10.0, trust_env=False) as client:
        yield client


@pytest.fixture(scope="session")
def ivr_server(live_servers: dict[str, LiveServer]) -> LiveServer:
    """The example IVR, served at the root by uvicorn."""
    return live_servers["ivr"]


@pytest.fixture(scope="session")
def ivr_client(ivr_server: LiveServer) -> Iterator[httpx2.Client]:
    yield from _client(ivr_server)


@pytest.fixture(scope="session")
def starlette_mount_client(live_servers: dict[str, LiveServer]) -> Iterator[httpx2.Client]:
    """A client of the Starlette app that mounts the IVR under ``/voice``."""
    yield from _client(live_servers["starlette_mount"])


@pytest.fixture(scope="session")
def fastapi_mount_client(live_servers: dict[str, LiveServer]) -> Iterator[httpx2.Client]:
    """A client of the FastAPI app that mounts the IVR under ``/voice``."""
    yield from _client(live_servers["fastapi_mount"])


@pytest.fixture(scope="session")
def probe_server(live_servers: dict[str, LiveServer]) -> LiveServer:
    """The test app whose handlers raise or echo (tests/apps/probe.py)."""
    return live_servers["probe"]


@pytest.fixture(scope="session")
def probe_client(probe_server: LiveServer) -> Iterator[httpx2.Client]:
    yield from _client(probe_server)


@pytest.fixture(scope="session")
def protected_server(live_servers: dict[str, LiveServer]) -> LiveServer:
    """The example IVR, unchanged, with the webhook secret and basic credentials set in its environment."""
    return live_servers["ivr_protected"]


@pytest.fixture(scope="session")
def protected_client(protected_server: LiveServer) -> Iterator[httpx2.Client]:
    yield from _client(protected_server)


@pytest.fixture(scope="session")
def secure_server_origin(live_servers: dict[str, LiveServer]) -> str:
    """Where tests/apps/secure.py (protections configured in code) is served."""
    return live_servers["secure"].origin


@pytest.fixture(scope="session")
def secure_client(live_servers: dict[str, LiveServer]) -> Iterator[httpx2.Client]:
    yield from _client(live_servers["secure"])


@pytest.fixture(scope="session")
def slow_client(live_servers: dict[str, LiveServer]) -> Iterator[httpx2.Client]:
    """A client of tests/apps/slow.py: handlers that overrun a 0.5 s deadline."""
    yield from _client(live_servers["slow"])


# --- Redis, for the per-call state tests (tests/test_state.py) ----------------------------------
# A real redis-server, started only when a test asks for it; a machine without one fails those
# tests (RedisServerError), it never skips them. Imported here to keep this block whole.
import redis as redis_sync  # noqa: E402

from tests.redis_server import RedisServer  # noqa: E402


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the whole session, on a free 127.0.0.1 port."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The session's Redis, emptied before and after the test (FLUSHDB on database 0)."""
    if not redis_server.is_running():  # a test that stopped it and failed before restarting it
        redis_server.start()
    with redis_sync.Redis.from_url(redis_server.url, socket_timeout=5) as client:
        client.flushdb()
        yield redis_server.url
        if redis_server.is_running():
            client.flushdb()


# --- the fake jambonz REST API, for the REST client tests (tests/test_rest_client.py) ----------
# A real uvicorn in a thread of this process, so tests read its records and set its switches
# directly. Imported here to keep this block whole.
from tests.fake_jambonz_api import FakeJambonzAPI, serve  # noqa: E402


@pytest.fixture(scope="session")
def fake_api_server() -> Iterator[tuple[FakeJambonzAPI, str]]:
    """One fake API server for the session, and its origin (``http://127.0.0.1:<port>``)."""
    api = FakeJambonzAPI()
    with serve(api) as origin:
        yield api, origin


@pytest.fixture
def fake_api(fake_api_server: tuple[FakeJambonzAPI, str]) -> Iterator[FakeJambonzAPI]:
    """The session's fake API server, reset before the test: no requests, failures or switches."""
    api, _ = fake_api_server
    api.reset()
    yield api
    api.reset()


# --- module-level apps, deployed as production deploys them ----------------------------------

DEPLOYED_SECRET = "wh_secret_deployed_0123456789"


def deploy_with_a_secret(monkeypatch: pytest.MonkeyPatch, app: JambonzApp) -> None:
    """Give an app built at import (from this process's environment) a webhook secret, for one test.

    Apps fail closed: the example apps, built with no secret in the test environment, would
    refuse every hook. The call simulator signs with the app's secret, as jambonz does.
    """
    monkeypatch.setattr(app.hook_settings, "security", HookSecurity(secrets=(DEPLOYED_SECRET,)))
