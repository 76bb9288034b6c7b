"""The Dockerfile, built by a real Docker engine and run: what a deployment gets.

No image registry is reachable from the machines this runs on, so the image is built on a local
base (scripts/container-base.sh: a Debian rootfs with its Python, made once and kept) given as
the Dockerfile's ``BASE_IMAGE``. The script installs Docker and debootstrap and starts the engine
when they are missing. Without CI set, the tests skip only when that cannot be done (no root);
under CI (``CI=true``) that is a failure. ``pytest -m "not container"`` leaves them out.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from jambonz_webhooks.testing import jambonz_json, signed_headers
from tests.payloads import session_new

pytestmark = pytest.mark.container

REPO = Path(__file__).resolve().parent.parent
IMAGE = "jambonz-webhooks-test:latest"
SECRET = "wh_secret_container_test_0123456789"
# What the base script answers when it cannot install or start what it needs (not root).
UNAVAILABLE = 77
STOP_LIMIT = 10.0  # seconds: docker stop's own grace period, after which it kills


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def _docker(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        pytest.fail(f"docker {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def base_image() -> str:
    """The local base image's name, made (once) by scripts/container-base.sh."""
    script = subprocess.run(
        ["bash", str(REPO / "scripts" / "container-base.sh")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if script.returncode == UNAVAILABLE and not _in_ci():
        pytest.skip(f"no Docker engine can be set up here: {script.stderr.strip()}")
    assert script.returncode == 0, f"container-base.sh exited {script.returncode}:\n{script.stderr}"
    assert shutil.which("docker") is not None
    return script.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def image(base_image: str) -> str:
    """The repository's Dockerfile built on the local base (layers cached by the engine)."""
    _docker(
        "build", "--network", "host", "--build-arg", f"BASE_IMAGE={base_image}", "-t", IMAGE, str(REPO),
        timeout=900,
    )  # fmt: skip
    return IMAGE


@dataclass
class Container:
    """A container of the image, on the host's network."""

    name: str
    port: int

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        result = _docker("logs", self.name, check=False)
        return result.stdout + result.stderr

    def state(self, field: str) -> str:
        return _docker("inspect", "-f", "{{.State." + field + "}}", self.name).stdout.strip()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(image: str, name: str) -> Container:
    """Run the image as a deployment would (a secret set) and wait until it answers /health."""
    for _attempt in range(2):
        container = Container(name, _free_port())
        _docker("rm", "-f", name, check=False)
        _docker(
            "run", "--detach", "--name", name, "--network", "host",
            "--env", f"PORT={container.port}", "--env", f"JAMBONZ_WEBHOOK_SECRET={SECRET}",
            image,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while container.state("Running") == "true" and time.monotonic() < deadline:
            try:
                health = httpx2.get(f"{container.origin}/health", timeout=1, trust_env=False)
                # Still running: the answer came from this container, not from another process
                # that took the free port first.
                if health.status_code == 200 and container.state("Running") == "true":
                    return container
            except httpx2.TransportError:
                pass
            time.sleep(0.1)
        logs = container.logs()
        if "address already in use" not in logs:
            break
    pytest.fail(f"the container never answered /health (running: {container.state('Running')}):\n{logs}")


@pytest.fixture(scope="module")
def container(image: str) -> Iterator[Container]:
    """One container for the checks that leave it running."""
    name = f"jambonz-webhooks-test-{os.getpid()}"
    try:
        yield _start(image, name)
    finally:
        _docker("rm", "-f", name, check=False)


@pytest.fixture
def stoppable(image: str) -> Iterator[Container]:
    """A container of its own, for a test that stops it."""
    name = f"jambonz-webhooks-test-{os.getpid()}-stop"
    try:
        yield _start(image, name)
    finally:
        _docker("rm", "-f", name, check=False)


def test_health_answers(container: Container) -> None:
    answer = httpx2.get(f"{container.origin}/health", timeout=5, trust_env=False)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_signed_call_hook_gets_the_example_apps_verbs(container: Container) -> None:
    body = jambonz_json(session_new(env_vars={"COMPANY_NAME": "Globex"}))
    answer = httpx2.post(
        f"{container.origin}/incoming", content=body, headers=signed_headers(body, SECRET), trust_env=False
    )
    assert answer.status_code == 200
    verbs = answer.json()
    assert [verb["verb"] for verb in verbs] == ["say", "gather", "say", "hangup"]
    assert verbs[0]["text"] == "Hello, and thank you for calling Globex."
    assert verbs[1]["actionHook"] == "/menu"


def test_unsigned_or_wrongly_signed_call_hook_is_refused(container: Container) -> None:
    body = jambonz_json(session_new())
    unsigned = httpx2.post(
        f"{container.origin}/incoming",
        content=body,
        headers={"Content-Type": "application/json"},
        trust_env=False,
    )
    assert unsigned.status_code == 401
    forged = httpx2.post(
        f"{container.origin}/incoming",
        content=body,
        headers=signed_headers(body, "wh_secret_not_the_one"),
        trust_env=False,
    )
    assert forged.status_code == 401


def test_server_runs_as_the_unprivileged_user(container: Container) -> None:
    # PID 1 is the server itself (CMD execs it): its real and effective ids, as the kernel has them.
    status = _docker("exec", container.name, "cat", "/proc/1/status").stdout
    ids = {line[:3]: line.split()[1:] for line in status.splitlines() if line[:4] in ("Uid:", "Gid:")}
    assert ids == {"Uid": ["10001"] * 4, "Gid": ["10001"] * 4}
    # Seen from the host too: no user namespace maps it to something else.
    top = [line.split() for line in _docker("top", container.name, "-o", "pid,uid").stdout.splitlines()]
    assert top[0] == ["PID", "UID"]
    assert len(top) > 1 and {uid for _, uid in top[1:]} == {"10001"}


def test_image_health_check_passes(container: Container) -> None:
    # The HEALTHCHECK's first probe comes only after its 30 s interval: run its command now,
    # inside the container, as the engine would.
    check = json.loads(_docker("inspect", "-f", "{{json .Config.Healthcheck.Test}}", container.name).stdout)
    assert check[0] == "CMD"
    assert _docker("exec", container.name, *check[1:], check=False).returncode == 0


def test_bad_request_is_answered_without_a_traceback(container: Container) -> None:
    answer = httpx2.post(
        f"{container.origin}/incoming", content=b"{", headers=signed_headers(b"{", SECRET), trust_env=False
    )
    assert answer.status_code == 400
    logs = container.logs()
    assert "Application startup complete" in logs
    assert "Traceback" not in logs


def _stop(container: Container) -> float:
    """``docker stop`` with its default grace period; how long it took, in seconds."""
    started = time.monotonic()
    _docker("stop", "--time", str(int(STOP_LIMIT)), container.name, timeout=STOP_LIMIT + 20)
    return time.monotonic() - started


def _assert_ended_by_itself(container: Container) -> None:
    # Not by the engine's kill at the end of the grace period: that is exit code 137.
    assert container.state("Running") == "false"
    assert container.state("ExitCode") == "0"
    assert "Traceback" not in container.logs()


def test_stop_is_graceful_and_quick(stoppable: Container) -> None:
    assert _stop(stoppable) < STOP_LIMIT
    _assert_ended_by_itself(stoppable)


def test_stop_is_graceful_and_quick_even_with_a_request_in_flight(stoppable: Container) -> None:
    body = jambonz_json(session_new())
    headers = {**signed_headers(body, SECRET), "Content-Length": str(len(body)), "Connection": "close"}
    fields = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head = f"POST /incoming HTTP/1.1\r\nHost: 127.0.0.1\r\n{fields}\r\n"
    half = len(body) // 2
    with socket.create_connection(("127.0.0.1", stoppable.port), timeout=STOP_LIMIT) as sock:
        # The request has begun (headers and half its body are in): the app is reading it.
        sock.sendall(head.encode() + body[:half])
        time.sleep(1.0)
        timing: dict[str, float] = {}
        stopper = threading.Thread(target=lambda: timing.update(stop=_stop(stoppable)))
        stopper.start()
        # Finish the request only once the server has taken the signal and is shutting down.
        deadline = time.monotonic() + 5
        while "Shutting down" not in stoppable.logs():
            assert time.monotonic() < deadline, "the server never began to shut down"
            time.sleep(0.05)
        sock.sendall(body[half:])
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        stopper.join(timeout=STOP_LIMIT + 25)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 200 OK"
    verbs = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert [verb["verb"] for verb in verbs] == ["say", "gather", "say", "hangup"]
    assert "stop" in timing, "docker stop failed or did not return"
    assert timing["stop"] < STOP_LIMIT
    _assert_ended_by_itself(stoppable)


def test_without_a_secret_the_image_refuses_to_serve(image: str) -> None:
    """Fail closed: run as it is, with no secret or credentials, the server never comes up."""
    name = f"jambonz-webhooks-test-{os.getpid()}-open"
    _docker("rm", "-f", name, check=False)
    try:
        _docker(
            "run", "--detach", "--name", name, "--network", "host", "--env", f"PORT={_free_port()}", image
        )
        deadline = time.monotonic() + 30
        while _docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "true":
            assert time.monotonic() < deadline, "the unprotected server kept running"
            time.sleep(0.1)
        result = _docker("logs", name, check=False)
        logs = result.stdout + result.stderr
        assert _docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip() != "0"
        # run refuses it before binding the socket, in one line (exit status 2), not a traceback.
        assert "the app's hooks have no authentication" in logs
        assert "Traceback" not in logs
    finally:
        _docker("rm", "-f", name, check=False)
