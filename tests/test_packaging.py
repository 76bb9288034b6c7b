"""The package as a user (or the Dockerfile) installs it: a wheel, in a fresh virtual environment.

These steps are the Dockerfile's, without Docker, so they run wherever the suite runs: build the
wheels, install them with no index, copy the example app beside them, run the Dockerfile's own CMD
and HEALTHCHECK commands, and ask the server for a call. tests/test_container.py builds and runs
the image itself on a Docker engine.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.payloads import session_new
from tests.schemas import schema_dir

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(wheel of jambonz-webhooks, bin directory of a fresh venv with the wheels installed)."""
    root = tmp_path_factory.mktemp("packaging")
    wheels = root / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--disable-pip-version-check",
            "--wheel-dir",
            wheels,
            REPO,
        ],
        check=True,
        timeout=600,
    )
    (wheel,) = wheels.glob("jambonz_webhooks-*.whl")
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    subprocess.run(
        [
            bin_dir / "python",
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-index",
            *sorted(wheels.glob("*.whl")),
        ],
        check=True,
        timeout=600,
    )
    yield wheel, bin_dir


@pytest.mark.slow
def test_wheel_holds_the_package_and_its_type_marker(installed: tuple[Path, Path]) -> None:
    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert "jambonz_webhooks/py.typed" in names
    assert "jambonz_webhooks/verbs/__init__.py" in names
    assert not [name for name in names if name.startswith(("tests/", "example_app/", "benchmarks/"))]


@pytest.mark.slow
def test_runtime_dependencies_are_the_declared_few(installed: tuple[Path, Path]) -> None:
    _, bin_dir = installed
    script = "import importlib.metadata as m, json;print(json.dumps(sorted(m.requires('jambonz-webhooks'))))"
    output = subprocess.run([bin_dir / "python", "-c", script], check=True, capture_output=True, text=True)
    requirements: list[str] = json.loads(output.stdout)
    runtime = sorted(_name(req) for req in requirements if "extra ==" not in req)
    assert runtime == ["httptools", "httpx2", "pydantic", "starlette", "uvicorn", "uvloop", "websockets"]
    # uvicorn's "standard" extras are there by default: uvicorn picks them without being asked
    # (websockets: its WebSocket protocol, for jambonz's WebSocket API).
    subprocess.run([bin_dir / "python", "-c", "import uvloop, httptools, websockets"], check=True)


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9_.-]+", requirement)
    assert match is not None
    return match.group()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _dockerfile_commands() -> tuple[list[str], list[str]]:
    """The Dockerfile's CMD and its HEALTHCHECK's CMD, as exec-form argument lists."""
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    health = re.search(r"^HEALTHCHECK .*?CMD (\[.*\])$", text, re.MULTILINE)
    command = re.search(r"^CMD (\[.*\])$", text, re.MULTILINE)
    assert health is not None and command is not None
    return json.loads(command.group(1)), json.loads(health.group(1))


@pytest.mark.slow
def test_installed_wheel_serves_the_example_app_as_the_dockerfile_runs_it(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    _, bin_dir = installed
    command, health_check = _dockerfile_commands()
    app_dir = tmp_path / "app"  # the image's WORKDIR, holding only the example app
    (app_dir / "example_app").mkdir(parents=True)
    for source in (REPO / "example_app").glob("*.py"):
        (app_dir / "example_app" / source.name).write_bytes(source.read_bytes())
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(
        JAMBONZ_WEBHOOK_INSECURE="1", PORT=str(port), PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    )
    server = subprocess.Popen(
        command,
        cwd=app_dir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while subprocess.run(health_check, env=env, capture_output=True).returncode != 0:
            assert server.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the health check never passed"
            time.sleep(0.2)
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=5) as client:
            health = client.get("/health")
            assert health.status_code == 200
            assert health.json() == {"status": "ok"}
            answer = client.post("/incoming", json=session_new())
            assert answer.status_code == 200
            assert [verb["verb"] for verb in answer.json()] == ["say", "gather", "say", "hangup"]
            assert answer.json()[1]["actionHook"] == "/menu"
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=10)
    assert b"Traceback" not in stderr


@pytest.mark.slow
def test_catalogue_command_runs_with_the_runtime_dependencies_alone(installed: tuple[Path, Path]) -> None:
    """``python -m jambonz_webhooks.catalogue`` in an install without the dev tools (no pytest)."""
    _, bin_dir = installed
    missing = subprocess.run([bin_dir / "python", "-c", "import pytest"], capture_output=True, text=True)
    assert "No module named 'pytest'" in missing.stderr  # what made the command crash before
    run = subprocess.run(
        [bin_dir / "python", "-m", "jambonz_webhooks.catalogue", str(schema_dir()), "--json"],
        cwd=bin_dir,  # not the worktree: the installed package is the one imported
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (run.returncode, run.stderr) == (0, "")
    assert json.loads(run.stdout) == []  # the official schemas: no difference
