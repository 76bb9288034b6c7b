"""The ``jambonz-webhooks`` command, run as a subprocess (``python -m jambonz_webhooks``) as a user runs it.

The console script may not be installed in a development venv until it is reinstalled, so the
tests run the module; ``pyproject.toml`` points the script at the same ``main``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import re
import signal
import subprocess
import sys
import textwrap
import time
import tomllib
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Host, Mount, Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from jambonz_webhooks import CallSession, JambonzApp, Response
from jambonz_webhooks.cli import routes as routes_command
from jambonz_webhooks.cli.console import CliError
from jambonz_webhooks.cli.listing import find_hooks
from jambonz_webhooks.cli.references import find_route
from jambonz_webhooks.cli.samples import sample_payloads
from jambonz_webhooks.cli.simulate import parse_step
from jambonz_webhooks.events import GatherResult
from jambonz_webhooks.routing import HookRoute
from jambonz_webhooks.security import SignatureError, compute_signature, verify_signature
from jambonz_webhooks.testing import jambonz_json, signed_headers
from tests import payloads
from tests.conftest import (
    HOST,
    PROTECTED_PASSWORD,
    PROTECTED_USERNAME,
    REPO_ROOT,
    LiveServer,
    _free_port,
    _inherited_env,
    _port_answers,
    _stop,
)

# Most of these run the command in a subprocess (a second each): left out of the quick mode.
pytestmark = pytest.mark.slow

SECRET = "wh_cli_secret_0123456789"
COMMAND_TIMEOUT = 60.0  # seconds; a command normally ends in about one


def cli(
    *args: str, stdin: bytes | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m jambonz_webhooks ARGS`` from the repository root; never raise on its exit status."""
    process = subprocess.run(
        [sys.executable, "-m", "jambonz_webhooks", *args],
        cwd=REPO_ROOT,
        env={**_inherited_env(), **(env or {}), "PYTHONUNBUFFERED": "1"},
        input=stdin if stdin is not None else b"",
        capture_output=True,
        timeout=COMMAND_TIMEOUT,
    )
    return subprocess.CompletedProcess(
        process.args,
        process.returncode,
        process.stdout.decode("utf-8", errors="replace"),
        process.stderr.decode("utf-8", errors="replace"),
    )


# -- run -------------------------------------------------------------------------------------------


@dataclass
class Served:
    """``jambonz-webhooks run`` serving an app in a subprocess."""

    process: subprocess.Popen[bytes]
    port: int
    stderr_path: Path
    stdout_path: Path

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stdout(self) -> str:
        """uvicorn's access log goes to stdout."""
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")


def _serve(tmp: Path, args: list[str], env: Mapping[str, str], tag: str) -> Served:
    """Start ``run``; wait (bounded) until uvicorn says it holds the socket (or, quiet, until it answers)."""
    port = _free_port()
    stderr_path, stdout_path = tmp / f"{tag}.stderr.log", tmp / f"{tag}.stdout.log"
    full_env = {**_inherited_env(), **env, "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "jambonz_webhooks", "run", *args]
    if "PORT" in env:
        full_env["PORT"] = str(port)
    else:
        argv += ["--port", str(port)]
    with open(stderr_path, "wb") as stderr, open(stdout_path, "wb") as stdout:
        process = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=full_env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr
        )
    served = Served(process, port, stderr_path, stdout_path)
    deadline = time.monotonic() + 20.0
    quiet = "--log-level" in args  # uvicorn prints its banner at info level only
    while not (_port_answers(port) if quiet else f"Uvicorn running on {served.origin}" in served.stderr()):
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            raise RuntimeError(f"jambonz-webhooks run did not start:\n{served.stderr()}")
        time.sleep(0.05)
    return served


@pytest.fixture(scope="module")
def protected_ivr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The example IVR served by ``run``, its port from PORT, protected by a webhook secret."""
    served = _serve(
        tmp_path_factory.mktemp("cli"),
        ["example_app.app:app"],
        {"PORT": "set by _serve", "JAMBONZ_WEBHOOK_SECRET": SECRET},
        "ivr",
    )
    yield served
    _stop(served.process)


def _client(served: Served) -> httpx2.Client:
    return httpx2.Client(base_url=served.origin, timeout=10.0, trust_env=False)


def test_run_serves_the_app_on_the_port_from_the_environment(protected_ivr: Served) -> None:
    body = jambonz_json(payloads.session_new())
    with _client(protected_ivr) as client:
        answer = client.post("/incoming", content=body, headers=signed_headers(body, SECRET))
        # The app reads JAMBONZ_WEBHOOK_SECRET from the environment run gave it: unsigned is refused.
        unsigned = client.post("/incoming", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200
    verbs = answer.json()
    assert [verb["verb"] for verb in verbs] == ["say", "gather", "say", "hangup"]
    assert verbs[1]["actionHook"] == "/menu"
    assert unsigned.status_code == 401
    # 127.0.0.1 by default (not every interface), and a line a person reads first.
    assert f"serving example_app.app:app on http://127.0.0.1:{protected_ivr.port} (1 worker)" in (
        protected_ivr.stderr()
    )
    # One access line per hook: the app's (written in batches within 0.1 s), not uvicorn's too.
    line = "call hook POST /incoming -> 200"
    deadline = time.monotonic() + 3.0
    while line not in protected_ivr.stderr() and time.monotonic() < deadline:
        time.sleep(0.02)
    logged = protected_ivr.stdout() + protected_ivr.stderr()
    assert logged.count(line) == 1
    assert '"POST /incoming HTTP/1.1"' not in logged


def test_run_writes_uvicorns_access_line_too_when_asked(tmp_path: Path) -> None:
    served = _serve(
        tmp_path, ["example_app.app:app", "--access-log"], {"JAMBONZ_WEBHOOK_INSECURE": "1"}, "log"
    )
    try:
        with _client(served) as client:
            assert client.get("/health").status_code == 200
        deadline = time.monotonic() + 3.0
        while '"GET /health HTTP/1.1" 200' not in served.stdout() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert '"GET /health HTTP/1.1" 200' in served.stdout()
    finally:
        _stop(served.process)


def test_run_takes_the_port_log_level_and_root_path_options_and_stops_on_sigterm(tmp_path: Path) -> None:
    opened = {"JAMBONZ_WEBHOOK_INSECURE": "1"}
    args = ["example_app.app:app", "--log-level", "warning", "--root-path", "/voice"]
    served = _serve(tmp_path, args, opened, "port-option")
    try:
        with _client(served) as client:
            assert client.get("/health").json() == {"status": "ok"}
            # A proxy stripped /voice: the hooks in the verbs carry it again, for jambonz to call.
            body = jambonz_json(payloads.session_new())
            answer = client.post("/incoming", content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 200
        assert answer.json()[1]["actionHook"] == "/voice/menu"
    finally:
        served.process.terminate()
        # uvicorn shuts down gracefully, then ends by the signal it caught (or 0, in older versions).
        returncode = served.process.wait(timeout=10)
    assert returncode in (0, -signal.SIGTERM)
    assert "Traceback" not in served.stderr()
    # --log-level reached uvicorn: no access log line, no banner at warning level.
    assert "GET /health" not in served.stdout()
    assert "Uvicorn running" not in served.stderr()
    # Opened explicitly: said at start, even at warning level.
    assert "hooks are served WITHOUT authentication" in served.stderr()


def test_run_refuses_to_start_an_app_with_no_authentication(tmp_path: Path) -> None:
    """Fail closed: no secret, no basic auth, not opened: the server does not come up."""
    with pytest.raises(RuntimeError, match="did not start") as failed:
        _serve(tmp_path, ["example_app.app:app"], {}, "closed")
    message = str(failed.value)
    assert "the app's hooks have no authentication" in message
    assert "JAMBONZ_WEBHOOK_SECRET" in message and "JAMBONZ_WEBHOOK_INSECURE=1" in message


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["example_app.app"], "APP must be written 'module:attribute'"),
        (["example_app.app:app", "--reload", "--workers", "2"], "--reload and --workers"),
        (["example_app.app:app", "--port", "70000"], "a port is from 0 to 65535"),
    ],
)
def test_run_refuses_wrong_arguments_before_starting(args: list[str], message: str) -> None:
    result = cli("run", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Uvicorn running" not in result.stderr


# -- routes ----------------------------------------------------------------------------------------


def test_routes_lists_the_example_app_and_finds_nothing_wrong() -> None:
    result = cli("routes", "example_app.app:app")
    assert result.returncode == 0, result.stdout + result.stderr
    table = result.stdout.split("Hook references", 1)[0]
    rows = {tuple(line.split()[:2]): line.split() for line in table.splitlines() if line.startswith("  /")}
    assert rows["/incoming", "call"][2:5] == ["GET,", "POST,", "OPTIONS"]
    assert rows["/incoming", "call"][-1] == "example_app.app.incoming"
    # jambonz's WebSocket API: a socket opened on the call hook's path carries the call.
    assert rows["/incoming", "websocket"][2:] == ["WS", "example_app.app.incoming"]
    assert rows["/menu", "action"][2:4] == ["GET,", "POST"]
    assert ("/dial-result", "action") in rows
    assert ("/status", "status") in rows
    assert "0 problem(s)" in result.stdout


def test_routes_json_describes_hooks_and_the_references_it_checked() -> None:
    result = cli("routes", "example_app.app:app", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    hooks = {hook["path"]: hook for hook in document["hooks"] if hook["kind"] != "websocket"}
    assert {path: hook["kind"] for path, hook in hooks.items()} == {
        "/incoming": "call",
        "/menu": "action",
        "/dial-result": "action",
        "/status": "status",
    }
    assert hooks["/incoming"]["methods"] == ["GET", "POST", "OPTIONS"]
    assert hooks["/menu"]["handler"] == "example_app.app.menu"
    # Run on sample payloads (status hooks are not: they answer no verbs).
    assert hooks["/menu"]["samples_run"] > 1
    assert hooks["/status"]["samples_run"] == 0
    references = {(ref["hook"], ref["target"]): ref for ref in document["references"]}
    # /menu dials (with /dial-result as its hook) only when the caller pressed 1: a sample did.
    dial = references[("/menu", "/dial-result")]
    assert dial["status"] == "ok"
    assert "run" in dial["found_by"]
    assert references[("/incoming", "/menu")]["served_by"] == "action hook: menu"
    assert document["problems"] == []
    assert document["ok"] is True


def test_routes_flags_hooks_no_route_serves() -> None:
    result = cli("routes", "tests.apps.broken_hooks:app")
    assert result.returncode == 1
    problems = result.stdout.split("Problems (3):", 1)[1]
    assert 'actionHook "/menu-typo": no route of the app serves /menu-typo' in problems
    assert 'actionHook "/operator-3": no route of the app serves /operator-3' in problems
    assert "orphan is used as a hook but no route of this app serves it" in problems
    assert "exit status 1" in result.stdout


def test_routes_json_of_the_broken_app_says_how_each_problem_was_found() -> None:
    result = cli("routes", "tests.apps.broken_hooks:app", "--json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert {problem["hook"] for problem in document["problems"]} == {"/incoming", "/menu", "/transfer"}
    references = {ref["target"]: ref for ref in document["references"]}
    assert sorted(references["/menu-typo"]["found_by"]) == ["run", "source"]
    # Built at run time from the digit pressed: only running the handler finds it.
    assert references["/operator-3"]["found_by"] == ["run"]
    assert references["/operator-3"]["status"] == "unserved"
    assert references["tests.apps.broken_hooks.orphan"]["status"] == "unrouted"


def test_routes_no_run_reads_the_source_only() -> None:
    result = cli("routes", "tests.apps.broken_hooks:app", "--no-run", "--json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    targets = {ref["target"] for ref in document["references"]}
    assert "/menu-typo" in targets
    assert "tests.apps.broken_hooks.orphan" in targets
    assert "/operator-3" not in targets
    assert all(hook["samples_run"] == 0 for hook in document["hooks"])


def test_routes_checks_a_mounted_app_with_its_prefix() -> None:
    result = cli("routes", "tests.apps.starlette_mount:app", "--json")
    assert result.returncode == 0, result.stdout
    document = json.loads(result.stdout)
    assert [hook["path"] for hook in document["hooks"] if hook["kind"] != "websocket"] == [
        "/voice/incoming",
        "/voice/menu",
        "/voice/dial-result",
        "/voice/status",
    ]
    assert {ref["target"] for ref in document["references"]} == {"/voice/menu", "/voice/dial-result"}


def test_routes_fails_on_a_handler_that_fails_on_every_sample() -> None:
    result = cli("routes", "tests.apps.probe:app")
    assert result.returncode == 1
    problems = result.stdout.split("Problems (2):", 1)[1]
    assert "fails on every sample call: RuntimeError: probe handler exploded on purpose" in problems
    assert "fails on every sample call: ValueError: probe handler exploded" in problems  # sync, in a thread


def _routes_of(
    tmp: Path, imports: str, handlers: str, *options: str, before: str = "", app_options: str = ""
) -> subprocess.CompletedProcess[str]:
    """``routes`` on an app written in ``tmp``: ``handlers`` registered on ``app``, after ``imports``.

    ``before`` is code to put before the app (a class it is given); ``app_options`` its arguments.
    """
    head = (
        f"from jambonz_webhooks import JambonzApp, Response, WebhookResponse, {imports}\n"
        f"{textwrap.dedent(before)}\n"
        f"app = JambonzApp(insecure=True, {app_options})\n"
    )
    (tmp / "checked_app.py").write_text(head + textwrap.dedent(handlers), encoding="utf-8")
    return cli("routes", "checked_app:app", "--app-dir", str(tmp), *options)


def test_routes_names_the_verb_and_the_field_of_a_typo_and_fails(tmp_path: Path) -> None:
    handlers = """
        @app.call_hook("/incoming")
        def incoming(call: CallSession) -> Response:
            return Response().say(txt="Hello")
        """
    result = _routes_of(tmp_path, "CallSession", handlers, "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] is False
    [problem] = document["problems"]
    message = "fails on every sample call: the say verb: txt: Extra inputs are not permitted"
    assert problem["message"] == message


def test_routes_fails_only_on_every_sample_and_warns_on_some(tmp_path: Path) -> None:
    handlers = """
        @app.action_hook("/menu")
        def menu(result: GatherResult) -> Response:
            if result.digits == "9":
                raise LookupError("no such option")
            return Response().say(text="ok")
        """
    result = _routes_of(tmp_path, "GatherResult", handlers)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "could not build its answer: LookupError: no such option" in result.stdout


def test_routes_gives_required_env_vars_placeholders(tmp_path: Path) -> None:
    settings = """
        from typing import Literal

        from pydantic import Field

        class Settings(EnvVars):
            COMPANY: str = Field(description="who greets")
            RETRIES: int = Field(description="attempts")
            LANGUAGE: Literal["de-DE", "en-US"] = Field(description="the caller's")
            RECORD: bool = Field(description="record calls")
        """
    handlers = """
        @app.call_hook("/incoming")
        def incoming(call: CallSession, env: Settings) -> Response:
            text = f"{env.COMPANY} {env.RETRIES} {env.LANGUAGE} {env.RECORD}"
            return Response().say(text=text).redirect(action_hook="/menu")

        @app.action_hook("/menu")
        def menu(result: GatherResult, env: Settings) -> Response:
            return Response().say(text=env.COMPANY)
        """
    imports = "CallSession, EnvVars, GatherResult"
    result = _routes_of(
        tmp_path, imports, handlers, "--json", before=settings, app_options="env_vars=Settings"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    document = json.loads(result.stdout)
    assert document["warnings"] == [] and document["problems"] == []
    ran = {hook["path"]: hook["samples_run"] > 0 for hook in document["hooks"] if hook["kind"] != "websocket"}
    assert ran == {
        "/incoming": True,
        "/menu": True,
    }


def test_routes_reports_a_handler_that_needs_the_rest_api_as_a_warning(tmp_path: Path) -> None:
    handlers = """
        @app.call_hook("/incoming")
        async def incoming(call: CallSession) -> Response:
            await call.client.hangup()
            return Response().say(text="done")
        """
    result = _routes_of(tmp_path, "CallSession", handlers)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "could not build its answer (no REST API here)" in result.stdout
    assert cli("routes", "checked_app:app", "--app-dir", str(tmp_path), "--strict").returncode == 1


@pytest.mark.parametrize(
    ("app", "message"),
    [
        ("no_such_module:app", "cannot import module 'no_such_module'"),
        ("example_app.app:nothing", "has no attribute 'nothing'"),
        ("tests.apps.starlette_mount:health", "is not a JambonzApp and mounts none"),
    ],
)
def test_routes_explains_an_app_it_cannot_load(app: str, message: str) -> None:
    result = cli("routes", app)
    assert result.returncode == 2
    assert message in result.stderr


LISTED_APP = """\
from jambonz_webhooks import CallSession, CallStatus, GatherResult, JambonzApp, WebhookResponse
from jambonz_webhooks.events import VerbStatus

app = JambonzApp(insecure=True)
tools = app.tool_hook("/tools")


@tools.tool
async def order_status(order_id: str) -> str:
    \"\"\"Where an order is.\"\"\"
    return "shipped"


@app.call_hook("/incoming")
async def incoming(call: CallSession) -> WebhookResponse:
    return WebhookResponse().say(text="Hello").gather(input=["digits"], action_hook=menu)


@app.action_hook("/menu")
async def menu(result: GatherResult) -> WebhookResponse:
    return WebhookResponse().hangup()


@app.status_hook("/status")
async def status(event: CallStatus) -> None:
    return None


@app.on("verb:status")
async def verb_status(event: VerbStatus) -> None:
    return None
"""


def _load(path: Path, name: str) -> Any:
    """Import the module at ``path`` in this process (the app the subprocess listed)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_routes_lists_status_tool_websocket_and_event_hooks_with_the_methods_they_answer(
    tmp_path: Path,
) -> None:
    (tmp_path / "listed_app.py").write_text(LISTED_APP, encoding="utf-8")
    result = cli("routes", "listed_app:app", "--app-dir", str(tmp_path), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    listed = {(hook["path"], hook["kind"]): hook for hook in json.loads(result.stdout)["hooks"]}
    tool_paths = [f"/tools/{vendor}" for vendor in ("openai", "google", "ultravox", "elevenlabs", "deepgram")]
    assert set(listed) == {
        ("/incoming", "call"),
        ("/incoming", "websocket"),
        ("/menu", "action"),
        ("/status", "status"),
        ("verb:status", "event"),
        *((path, "tool") for path in tool_paths),
    }
    assert listed["/tools/openai", "tool"]["handler"] == "order_status (openai)"
    assert listed["verb:status", "event"]["handler"] == "listed_app.verb_status"
    assert listed["/incoming", "websocket"]["methods"] == ["WS"]
    # Each HTTP hook's METHODS are what the app really answers: the Allow header of its own 405,
    # and no 405 for a method listed.
    app = _load(tmp_path / "listed_app.py", "listed_app").app
    with TestClient(app) as client:
        for (path, kind), hook in listed.items():
            if kind in ("websocket", "event"):
                continue
            refused = client.request("PATCH", path)
            assert refused.status_code == 405, path
            assert refused.headers["allow"] == ", ".join(hook["methods"]), path
            for method in hook["methods"]:
                assert client.request(method, path).status_code != 405, (path, method)


class _Guard:
    """Middleware a Mount wraps its app in: ``Mount.app`` is then not the JambonzApp."""

    def __init__(self, app: ASGIApp) -> None:
        self.inner = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.inner(scope, receive, send)


class _OwnMount(Mount):
    """A Mount without Starlette's private ``_base_app``: ``routes`` reads ``Mount.routes`` only."""

    def __init__(self, path: str, app: ASGIApp) -> None:
        super().__init__(path, app=app, middleware=[Middleware(_Guard)])
        self.mounted = app
        del self._base_app

    @property
    def routes(self) -> list[BaseRoute]:
        return list(getattr(self.mounted, "routes", []))


def test_routes_lists_apps_behind_middleware_and_in_a_mount_of_its_own(tmp_path: Path) -> None:
    module = textwrap.dedent(
        """\
        from starlette.applications import Starlette
        from starlette.middleware import Middleware
        from starlette.routing import Mount

        from example_app.app import app as ivr
        from tests.test_cli import _Guard, _OwnMount

        app = Starlette(
            routes=[
                Mount("/guarded", app=ivr, middleware=[Middleware(_Guard)]),
                _OwnMount("/own", ivr),
            ]
        )
        """
    )
    (tmp_path / "wrapped_app.py").write_text(module, encoding="utf-8")
    result = cli("routes", "wrapped_app:app", "--app-dir", str(tmp_path), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    paths = {hook["path"] for hook in document["hooks"] if hook["kind"] == "action"}
    assert paths == {"/guarded/menu", "/guarded/dial-result", "/own/menu", "/own/dial-result"}
    references = {(ref["hook"], ref["target"]): ref["status"] for ref in document["references"]}
    assert references[("/own/incoming", "/own/menu")] == "ok"
    assert references[("/guarded/menu", "/guarded/dial-result")] == "ok"
    # The mount of its own really has no _base_app: reading it would have failed.
    assert not hasattr(_OwnMount("/x", JambonzApp(insecure=True)), "_base_app")


def test_the_cli_package_reads_no_private_attribute_of_another_object() -> None:
    """Only its own objects' (``self._...``): never Starlette's or the framework's private state."""
    # obj._name, or getattr(obj, "_name", ...)
    private = re.compile(r"(\w+)\._[a-z]\w*|(getattr)\([^,()]+,\s*[\"']_[a-z]\w*")
    package = REPO_ROOT / "jambonz_webhooks" / "cli"
    reads = [
        f"{path.name}: {match.group(0)}"
        for path in sorted(package.glob("*.py"))
        for match in private.finditer(path.read_text(encoding="utf-8"))
        if match.group(1) != "self" and match.group(0) != "os._exit"
    ]
    assert reads == []


def test_routes_reads_the_source_for_a_branch_no_sample_takes(tmp_path: Path) -> None:
    """Why the source is read besides the runs: a constant hook behind a branch no sample reaches."""
    handlers = """
        @app.call_hook("/incoming")
        async def incoming(call: CallSession) -> WebhookResponse:
            if call.from_ == "+442071234567":  # no sample call comes from London
                return WebhookResponse().redirect(action_hook="/london-typo")
            return WebhookResponse().say(text="Hello")
        """
    result = _routes_of(tmp_path, "CallSession", handlers, "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    [reference] = json.loads(result.stdout)["references"]
    assert (reference["target"], reference["status"], reference["found_by"]) == (
        "/london-typo",
        "unserved",
        ["source"],
    )


def test_routes_fails_on_a_call_hook_that_never_answers_verbs(tmp_path: Path) -> None:
    handlers = """
        @app.call_hook("/incoming")
        async def incoming(call: CallSession) -> WebhookResponse:
            return WebhookResponse()
        """
    result = _routes_of(tmp_path, "CallSession", handlers, "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    [problem] = json.loads(result.stdout)["problems"]
    assert problem["message"] == (
        "fails on every sample call: the call hook handler answered no verbs; jambonz would fail the call"
    )


def test_routes_gives_up_on_a_sync_handler_that_never_returns_and_exits(tmp_path: Path) -> None:
    handlers = """
        import time

        @app.call_hook("/incoming")
        async def incoming(call: CallSession) -> WebhookResponse:
            return WebhookResponse().redirect(action_hook="/menu")

        @app.action_hook("/menu")
        def menu(result: GatherResult) -> WebhookResponse:
            time.sleep(3600)  # its thread cannot be stopped: the command must not wait for it
            return WebhookResponse().hangup()
        """
    started = time.monotonic()
    result = _routes_of(tmp_path, "CallSession, GatherResult", handlers)
    assert time.monotonic() - started < COMMAND_TIMEOUT / 2
    assert result.returncode == 0, result.stdout + result.stderr
    assert "could not build its answer: no answer in 5 s" in result.stdout
    assert "0 problem(s), 1 warning(s)" in result.stdout


def _routes_of_module(
    tmp: Path, source: str, *options: str, spec: str = "odd_app:app"
) -> subprocess.CompletedProcess[str]:
    """``routes`` on the module ``odd_app`` written in ``tmp`` from ``source``."""
    (tmp / "odd_app.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return cli("routes", spec, "--app-dir", str(tmp), *options)


def test_routes_reports_env_vars_the_app_does_not_declare_and_fails_the_handler(tmp_path: Path) -> None:
    # The app does not declare Settings (no JambonzApp(env_vars=...)): the portal never sets COMPANY.
    settings = """
        from pydantic import Field

        class Settings(EnvVars):
            COMPANY: str = Field(description="who greets")
        """
    handlers = """
        @app.call_hook("/incoming")
        def incoming(call: CallSession, env: Settings) -> Response:
            return Response().say(text=env.COMPANY)
        """
    result = _routes_of(tmp_path, "CallSession, EnvVars", handlers, "--json", before=settings)
    assert result.returncode == 1, result.stdout + result.stderr
    document = json.loads(result.stdout)
    [problem] = document["problems"]
    assert problem["hook"] == "/incoming"
    assert problem["message"].startswith(
        "fails on every sample call: the call's env_vars do not match Settings"
    )
    assert "COMPANY: Field required" in problem["message"]
    [warning] = document["warnings"]
    assert (warning["hook"], warning["handler"]) == ("/incoming", "checked_app.incoming")
    assert "Settings declares COMPANY, which the app does not" in warning["message"]


def test_routes_reports_undeclared_env_vars_with_defaults_as_a_warning_strict_fails(tmp_path: Path) -> None:
    settings = """
        from pydantic import Field

        class Settings(EnvVars):
            COMPANY: str = Field("Acme", description="who greets")
        """
    handlers = """
        @app.call_hook("/incoming")
        def incoming(call: CallSession, env: Settings) -> Response:
            return Response().say(text=env.COMPANY)
        """
    result = _routes_of(tmp_path, "CallSession, EnvVars", handlers, before=settings)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 problem(s), 1 warning(s)" in result.stdout
    assert "JambonzApp(env_vars=Settings)" in result.stdout
    strict = cli("routes", "checked_app:app", "--app-dir", str(tmp_path), "--strict")
    assert strict.returncode == 1, strict.stdout + strict.stderr


LIFESPAN_APP = """\
import contextlib

from starlette.requests import Request

from jambonz_webhooks import CallSession, GatherResult, JambonzApp, WebhookResponse


@contextlib.asynccontextmanager
async def lifespan(app):
    app.state.greeting = "Hello from the lifespan"
    yield {"company": "Acme"}
    print("lifespan: shut down", flush=True)


app = JambonzApp(lifespan=lifespan)  # neither a secret nor insecure: routes serves no request


@app.call_hook("/incoming")
async def incoming(call: CallSession, request: Request) -> WebhookResponse:
    text = f"{request.app.state.greeting}, {request.state['company']}"
    menu = request.url_for("menu").path
    return WebhookResponse().gather(action_hook=menu, say={"text": text})


@app.action_hook("/menu")
def menu(result: GatherResult, request: Request) -> WebhookResponse:
    return WebhookResponse().say(text=request.app.state.greeting)
"""


def test_routes_runs_the_apps_lifespan_and_gives_the_request_its_app_and_router(tmp_path: Path) -> None:
    result = _routes_of_module(tmp_path, LIFESPAN_APP, "--json", "--strict")
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["problems"] == [] and document["warnings"] == []
    references = {(ref["hook"], ref["target"]): ref for ref in document["references"]}
    assert references[("/incoming", "/menu")]["found_by"] == ["run"]  # url_for answered
    assert {
        hook["path"]: hook["samples_run"] > 0 for hook in document["hooks"] if hook["kind"] != "websocket"
    } == {
        "/incoming": True,
        "/menu": True,
    }
    assert "lifespan: shut down" in result.stderr  # the shutdown ran, after the check


def test_routes_refuses_an_app_whose_lifespan_fails_at_startup(tmp_path: Path) -> None:
    source = """\
        import contextlib

        from jambonz_webhooks import CallSession, JambonzApp, WebhookResponse

        @contextlib.asynccontextmanager
        async def lifespan(app):
            raise RuntimeError("cannot reach the database")
            yield

        app = JambonzApp(insecure=True, lifespan=lifespan)

        @app.call_hook("/incoming")
        async def incoming(call: CallSession) -> WebhookResponse:
            return WebhookResponse().hangup()
        """
    result = _routes_of_module(tmp_path, source)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "the app's lifespan failed at startup: RuntimeError: cannot reach the database" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


CONSTRAINED_ENV = """
    from typing import Annotated

    from pydantic import Field

    class Settings(EnvVars):
        RETRIES: Annotated[int, Field(ge=1, description="attempts")]
        CODE: str = Field(pattern=r"^[A-Z]{3}$", description="the branch code")
    """
CONSTRAINED_HANDLERS = """
    @app.call_hook("/incoming")
    def incoming(call: CallSession, env: Settings) -> Response:
        return Response().say(text=f"{env.CODE} {env.RETRIES}")
    """


def test_routes_warns_when_placeholders_do_not_fit_constrained_env_vars(tmp_path: Path) -> None:
    result = _routes_of(
        tmp_path,
        "CallSession, EnvVars",
        CONSTRAINED_HANDLERS,
        "--json",
        before=CONSTRAINED_ENV,
        app_options="env_vars=Settings",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["problems"] == []
    [warning] = document["warnings"]
    assert "give values with --env CODE=VALUE --env RETRIES=VALUE" in warning["message"]
    given = cli(
        "routes",
        "checked_app:app",
        "--app-dir",
        str(tmp_path),
        "--strict",
        "--env",
        "RETRIES=3",
        "--env",
        "CODE=ABC",
    )
    assert given.returncode == 0, given.stdout + given.stderr
    assert "0 problem(s), 0 warning(s)" in given.stdout
    # A value given that does not fit either is the values' fault, not the placeholders': a problem.
    wrong = cli(
        "routes", "checked_app:app", "--app-dir", str(tmp_path), "--env", "RETRIES=0", "--env", "CODE=ABC"
    )
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert "RETRIES: Input should be greater than or equal to 1" in wrong.stdout
    malformed = cli("routes", "checked_app:app", "--app-dir", str(tmp_path), "--env", "RETRIES")
    assert malformed.returncode == 2
    assert "--env takes NAME=VALUE" in malformed.stderr


def test_routes_warns_of_an_action_hook_no_verb_names(tmp_path: Path) -> None:
    # A conference recipe: the waitHook's typo is computed, in a branch no sample PIN reaches.
    handlers = """
        @app.call_hook("/incoming")
        async def incoming(call: CallSession) -> WebhookResponse:
            return WebhookResponse().gather(action_hook="/pin", input=["digits"], num_digits=4)

        @app.action_hook("/pin")
        async def pin(result: GatherResult) -> WebhookResponse:
            if result.digits == "4242":
                return WebhookResponse().conference(name="room", wait_hook="/" + "wiat")
            return WebhookResponse().say(text="wrong PIN").hangup()

        @app.action_hook("/wait")
        async def wait(result: GatherResult) -> WebhookResponse:
            return WebhookResponse().play(url="https://example.com/music.mp3")
        """
    result = _routes_of(tmp_path, "CallSession, GatherResult", handlers, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    [warning] = document["warnings"]
    assert (warning["hook"], warning["handler"]) == ("/wait", "checked_app.wait")
    assert warning["message"] == "no verb names it: unreachable, or named only by the REST API?"
    assert cli("routes", "checked_app:app", "--app-dir", str(tmp_path), "--strict").returncode == 1


def test_routes_fails_on_a_verb_built_wrong_in_one_branch(tmp_path: Path) -> None:
    handlers = """
        @app.call_hook("/incoming")
        async def incoming(call: CallSession) -> WebhookResponse:
            return WebhookResponse().gather(action_hook="/menu", input=["digits"])

        @app.action_hook("/menu")
        def menu(result: GatherResult) -> Response:
            if result.digits == "2":
                return Response().say(txt="Sales")
            return Response().say(text="Goodbye")
        """
    result = _routes_of(tmp_path, "CallSession, GatherResult", handlers, "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    document = json.loads(result.stdout)
    [problem] = document["problems"]
    assert problem["hook"] == "/menu"
    assert (
        problem["message"] == "fails on some sample calls: the say verb: txt: Extra inputs are not permitted"
    )
    assert document["warnings"] == []


def test_routes_reports_a_handlers_system_exit_and_keyboard_interrupt_as_its_failures(tmp_path: Path) -> None:
    handlers = """
        @app.call_hook("/incoming")
        def incoming(call: CallSession) -> Response:
            raise SystemExit(3)

        @app.action_hook("/menu")
        async def menu(result: GatherResult) -> Response:
            raise KeyboardInterrupt
        """
    started = time.monotonic()
    result = _routes_of(tmp_path, "CallSession, GatherResult", handlers, "--json")
    assert time.monotonic() - started < COMMAND_TIMEOUT / 2
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    problems = {problem["hook"]: problem["message"] for problem in json.loads(result.stdout)["problems"]}
    assert problems == {
        "/incoming": "fails on every sample call: SystemExit: 3",
        "/menu": "fails on every sample call: KeyboardInterrupt",
    }


def test_routes_explains_an_app_factory_that_raises(tmp_path: Path) -> None:
    source = """\
        def make():
            raise RuntimeError("no configuration")
        """
    result = _routes_of_module(tmp_path, source, "--factory", spec="odd_app:make")
    assert result.returncode == 2, result.stdout + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert (
        last
        == "jambonz-webhooks routes: error: calling the app factory 'odd_app:make' failed (traceback above)"
    )
    assert "RuntimeError: no configuration" in result.stderr


HOSTED_APP = """\
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Host, Mount

from example_app.app import app as ivr

hosted = Starlette(routes=[Host("voice.example.org", app=ivr)])
wrapped = GZipMiddleware(ivr)
tenants = GZipMiddleware(Starlette(routes=[Mount("/v", app=ivr)]))
both = Starlette(routes=[Host("{tenant}.example.org", app=tenants)])
"""


@pytest.mark.parametrize(("attribute", "prefix"), [("hosted", ""), ("wrapped", ""), ("both", "/v")])
def test_routes_finds_an_app_under_a_host_or_wrapped_in_middleware(
    tmp_path: Path, attribute: str, prefix: str
) -> None:
    result = _routes_of_module(tmp_path, HOSTED_APP, "--json", "--strict", spec=f"odd_app:{attribute}")
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert {hook["path"] for hook in document["hooks"] if hook["kind"] == "action"} == {
        f"{prefix}/menu",
        f"{prefix}/dial-result",
    }
    references = {(ref["hook"], ref["target"]): ref["status"] for ref in document["references"]}
    assert references[(f"{prefix}/incoming", f"{prefix}/menu")] == "ok"
    assert references[(f"{prefix}/menu", f"{prefix}/dial-result")] == "ok"


def test_routes_help_lists_what_fails_as_the_docs_do() -> None:
    result = cli("routes", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for failure in (
        "a hook that names a path no route serves",
        "a handler that fails on every sample call, or builds a verb wrong on any",
        "a verb the target release refuses",
        "Exit status 2 when APP cannot be loaded or its lifespan fails at startup",
        "--env NAME=VALUE",
    ):
        assert failure in text, failure


def test_the_docs_routes_example_is_the_commands_real_output() -> None:
    docs = (REPO_ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    match = re.search(r"```bash\njambonz-webhooks routes (\S+)\n```\n\n```text\n(.*?)```", docs, re.DOTALL)
    assert match is not None
    # As in the runtime venv, where the optional fastapi is not installed: importing it fails.
    code = (
        "import sys; sys.modules['fastapi'] = None; from jambonz_webhooks.cli import main; "
        f"sys.exit(main(['routes', {match.group(1)!r}]))"
    )
    process = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=_inherited_env(),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    assert process.stdout == match.group(2)


# The matching and sample payloads behind routes, in process.


def _hook(app: JambonzApp, path: str) -> HookRoute:
    return next(route for route in app.hooks if route.path == path)


def test_find_route_asks_the_routes_as_starlettes_router_does() -> None:
    voice = JambonzApp(insecure=True)

    @voice.action_hook("/menu/{step:int}")
    async def menu(result: GatherResult) -> Response:
        return Response().hangup()

    async def health(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    outer = Starlette(routes=[Route("/health", health, methods=["GET"]), Mount("/voice", voice)])
    assert find_route(outer.routes, "/voice/menu/2", "POST") == (_hook(voice, "/menu/{step:int}"), True)
    # A hook takes the methods its pipeline answers, no other (OPTIONS is a call hook's only).
    assert find_route(outer.routes, "/voice/menu/2", "OPTIONS") == (_hook(voice, "/menu/{step:int}"), False)
    assert find_route(outer.routes, "/voice/menu/two", "POST") is None  # the convertor refuses it
    assert find_route(outer.routes, "/menu/2", "POST") is None  # the prefix is part of the path
    partial = find_route(outer.routes, "/health", "POST")
    assert partial is not None and partial[1] is False  # jambonz POSTs; /health takes GET only
    [mounted] = find_hooks(outer)
    assert (mounted.prefix, mounted.settings, mounted.hooks) == ("/voice", voice.hook_settings, voice.hooks)


class _Unreadable(Mount):
    """A Mount whose ``routes`` raises: ``routes`` skips it with a warning, and goes on."""

    @property
    def routes(self) -> list[BaseRoute]:
        raise RuntimeError("not now")


def test_find_hooks_skips_routes_that_cannot_be_read_and_says_so() -> None:
    voice = JambonzApp(insecure=True)

    @voice.call_hook("/incoming")
    async def incoming(call: CallSession) -> Response:
        return Response().hangup()

    outer = Starlette(routes=[_Unreadable("/broken", app=Starlette()), Mount("/voice", app=voice)])
    said: list[str] = []
    [mounted] = find_hooks(outer, said.append)
    assert mounted.prefix == "/voice"
    assert mounted.app is voice
    assert said == ["route /broken: reading its routes raised RuntimeError (not now): skipped"]


def test_find_route_enters_a_host_only_for_the_hooks_under_it() -> None:
    voice = JambonzApp(insecure=True)

    @voice.action_hook("/menu")
    async def menu(result: GatherResult) -> Response:
        return Response().hangup()

    host = Host("voice.example.org", app=voice)
    routes: list[BaseRoute] = [host]
    assert find_route(routes, "/menu", "POST") is None  # another host's request: a 404
    found = find_route(routes, "/menu", "POST", [host])
    assert found is not None and found[1] is True
    assert found[0] is _hook(voice, "/menu")


def test_sample_payloads_vary_each_field_a_result_adds() -> None:
    base = {"call_sid": "x"}
    samples = sample_payloads([GatherResult], base)
    assert samples[0] == base
    assert {sample.get("digits") for sample in samples} >= set("0123456789*#")
    assert {"timeout", "speechDetected", "dtmfDetected"} <= {sample.get("reason") for sample in samples}
    speech = [sample for sample in samples if sample.get("speech")]
    assert speech and speech[0]["reason"] == "speechDetected"
    for sample in samples:
        GatherResult.model_validate(sample)  # each one is a payload the model takes


# -- sign ------------------------------------------------------------------------------------------


def _header_value(stdout: str) -> str:
    last = stdout.rstrip("\n").splitlines()[-1]
    name, _, value = last.partition(": ")
    assert name == "Jambonz-Signature"
    return value


def test_sign_signs_the_exact_bytes_of_standard_input() -> None:
    # echo's trailing newline and raw UTF-8 are part of the body: both must be signed as they are.
    body = '{"call_sid":"abc","caller_name":"Zoë ☎"}\n'.encode()
    result = cli("sign", "--secret", SECRET, stdin=body)
    assert result.returncode == 0, result.stderr
    value = _header_value(result.stdout)
    verify_signature(value, body, [SECRET])
    with pytest.raises(SignatureError):
        verify_signature(value, body.rstrip(b"\n"), [SECRET])
    assert "ends with a newline" in result.stderr


def test_sign_reads_a_file_at_a_given_timestamp(tmp_path: Path) -> None:
    body = jambonz_json(payloads.call_info())
    path = tmp_path / "body.json"
    path.write_bytes(body)
    result = cli("sign", "--secret", SECRET, "--timestamp", "1700000000", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        f"Jambonz-Signature: t=1700000000,v1={compute_signature(SECRET, 1700000000, body)}"
    )
    assert "refuses it" in result.stderr  # a timestamp that old is outside the tolerance


def test_sign_takes_the_secret_from_the_environment() -> None:
    body = b'{"call_sid":"abc"}'
    result = cli("sign", stdin=body, env={"JAMBONZ_WEBHOOK_SECRET": f"{SECRET}, old_secret"})
    assert result.returncode == 0, result.stderr
    verify_signature(_header_value(result.stdout), body, [SECRET])  # the first of the list


def test_sign_without_a_secret_is_a_usage_error() -> None:
    result = cli("sign", stdin=b"{}")
    assert result.returncode == 2
    assert "--secret" in result.stderr
    assert result.stdout == ""


def test_signed_header_is_accepted_by_the_served_app_as_curl_would_send_it(
    protected_ivr: Served, tmp_path: Path
) -> None:
    body = jambonz_json(payloads.session_new())
    path = tmp_path / "session.json"
    path.write_bytes(body)
    header = cli("sign", "--secret", SECRET, str(path)).stdout.splitlines()[-1]
    name, _, value = header.partition(": ")
    with _client(protected_ivr) as client:
        answer = client.post(
            "/incoming", content=path.read_bytes(), headers={"Content-Type": "application/json", name: value}
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()[0]["verb"] == "say"


# -- simulate --------------------------------------------------------------------------------------

SALES_SCRIPT = """\
# The caller asks for sales; the sales line is busy.
expect thank you for calling
press 1
expect connecting you to sales

dial busy
expect COULD NOT CONNECT
expect-end
"""


def transcript(result: subprocess.CompletedProcess[str], *expected: str) -> list[str]:
    """The lines of a successful simulate run, checked to hold ``expected`` in the order the call went."""
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    positions = [lines.index(line) for line in expected]
    assert positions == sorted(positions)
    return lines


def test_simulate_plays_a_script_against_the_served_app(protected_ivr: Served, tmp_path: Path) -> None:
    script = tmp_path / "sales.txt"
    script.write_text(SALES_SCRIPT, encoding="utf-8")
    result = cli(
        "simulate", protected_ivr.origin, "--script", str(script), env={"JAMBONZ_WEBHOOK_SECRET": SECRET}
    )
    lines = transcript(
        result,
        "app says: Hello, and thank you for calling our company.",
        "app gathers digits/speech",
        "caller presses 1",
        "app dials +15551230001",
        "dial ends: busy",
        "app says: Sorry, we could not connect your call.",
        "app hangs up",
        "status: completed",
        "ok: the call is over",
    )
    assert lines[-1].endswith("hung up by app")


def test_simulate_fails_when_an_expectation_is_not_met(protected_ivr: Served, tmp_path: Path) -> None:
    script = tmp_path / "wrong.txt"
    script.write_text("press 2\nexpect connecting you to sales\npress 1\n", encoding="utf-8")
    result = cli("simulate", protected_ivr.origin, "--script", str(script), "--secret", SECRET)
    assert result.returncode == 1
    assert "line 2: expected to hear 'connecting you to sales'" in result.stderr
    assert "support is closed" in result.stderr  # what was heard instead
    assert "caller presses 1" not in result.stdout  # the script stops at the failed expectation


def test_simulate_reports_an_app_that_refuses_the_call(protected_ivr: Served, tmp_path: Path) -> None:
    script = tmp_path / "one.txt"
    script.write_text("press 1\n", encoding="utf-8")
    result = cli("simulate", protected_ivr.origin, "--script", str(script))  # no secret: unsigned
    assert result.returncode == 1
    assert "answered 401" in result.stderr


def test_simulate_reads_steps_from_standard_input_and_prints_json(protected_ivr: Served) -> None:
    # Typed steps: keys alone are pressed; the end of input hangs up.
    result = cli("simulate", protected_ivr.origin, "--secret", SECRET, "--json", stdin=b"2\n")
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    assert document["ok"] is True
    assert document["heard"][-1].endswith("support is closed right now. Please call back tomorrow.")
    assert document["hung_up_by"] == "app"
    assert [request["kind"] for request in document["requests"]] == ["call", "status", "action", "status"]
    assert "caller presses 2" in result.stderr  # the transcript goes to stderr with --json


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("press 1\ndial maybe\n", "line 2: dial takes one of answered, busy, no-answer, failed"),
        ("hook waitHook queue_position\n", "line 1: a field is KEY=VALUE, not 'queue_position'"),
    ],
)
def test_simulate_refuses_a_malformed_script(tmp_path: Path, text: str, error: str) -> None:
    script = tmp_path / "bad.txt"
    script.write_text(text, encoding="utf-8")
    # The script is read before any request: the URL is never called.
    result = cli("simulate", "http://127.0.0.1:9", "--script", str(script))
    assert result.returncode == 2
    assert error in result.stderr


def test_simulate_says_when_the_app_cannot_be_reached() -> None:
    port = _free_port()  # nothing listens there
    result = cli("simulate", f"http://127.0.0.1:{port}", "--timeout", "5", stdin=b"")
    assert result.returncode == 2
    assert f"cannot reach http://127.0.0.1:{port}" in result.stderr


def test_simulate_plays_a_script_over_websocket(protected_server: LiveServer, tmp_path: Path) -> None:
    """A ws:// URL: the call over jambonz's WebSocket API, the credentials from the environment."""
    script = tmp_path / "sales.txt"
    script.write_text(SALES_SCRIPT, encoding="utf-8")
    credentials = {
        "JAMBONZ_WEBHOOK_USERNAME": PROTECTED_USERNAME,
        "JAMBONZ_WEBHOOK_PASSWORD": PROTECTED_PASSWORD,
    }
    url = f"ws://127.0.0.1:{protected_server.port}"
    result = cli("simulate", url, "--script", str(script), "--json", env=credentials)
    assert result.returncode == 0, result.stdout + result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    assert document["heard"][-1] == "Sorry, we could not connect your call."
    assert {request["method"] for request in document["requests"]} == {"WS"}
    assert f"calling {url}/incoming" in result.stderr
    # Without the credentials, the upgrade is refused with a real 401.
    refused = cli("simulate", url, "--script", str(script))
    assert refused.returncode == 1
    assert "was refused: 401" in refused.stderr


def test_simulate_says_when_a_websocket_app_cannot_be_reached() -> None:
    port = _free_port()
    result = cli("simulate", f"ws://127.0.0.1:{port}", "--timeout", "5", stdin=b"")
    assert result.returncode == 2
    assert f"cannot reach ws://127.0.0.1:{port}" in result.stderr


QUEUE_SCRIPT = """\
# A caller waits in the cookbook's queue: jambonz asks the waitHook twice, then an agent takes the call.
expect all our agents are busy
hook waitHook queue_position=1 queue_size=2 queue_time=30
expect you are number 2 in line
hook waitHook
expect you are next in line
result queue_result=bridged queue_time=75
expect-end
"""


def test_simulate_plays_a_queue_s_wait_hook_and_result(tmp_path: Path) -> None:
    """The cookbook's enqueue, served by run: hook and result steps, the fields jambonz sends filled in."""
    served = _serve(tmp_path, ["examples.cookbook.queue:app"], {"JAMBONZ_WEBHOOK_SECRET": SECRET}, "queue")
    try:
        script = tmp_path / "queue.txt"
        script.write_text(QUEUE_SCRIPT, encoding="utf-8")
        args = ["simulate", served.origin, "--script", str(script), "--secret", SECRET, "--no-status-hook"]
        result = cli(*args)
        transcript(
            result,
            "app puts the caller in queue support",
            "jambonz sends the enqueue's waitHook",
            "app says: You are number 2 in line.",
            "app says: You are next in line.",  # the second waitHook: the caller alone in the queue
            "enqueue ends",
            "app hangs up",
            "ok: the call is over",
        )
        # The app's typed hooks (EnqueueWait, EnqueueResult) took every payload: no 422.
        document: dict[str, Any] = json.loads(cli(*args, "--json").stdout)
        assert document["ok"] is True
        assert [(sent["kind"], sent["status_code"]) for sent in document["requests"]] == [
            ("call", 200),
            ("action", 200),
            ("action", 200),
            ("action", 200),
        ]
    finally:
        _stop(served.process)


@pytest.mark.parametrize(
    ("line", "step"),
    [
        ("hook waitHook", ("hook", "waitHook", {})),
        (
            'hook statusHook event=join members=2 tag={"a": [1]} note=two words ok=true code="007"',
            (
                "hook",
                "statusHook",
                {
                    "event": "join",
                    "members": 2,
                    "tag": {"a": [1]},
                    "note": "two words",
                    "ok": True,
                    "code": "007",
                },
            ),
        ),
        ("result", ("result", "", {})),
        (
            "Result queue_result=bridged queue_time=75",
            ("result", "queue_result=bridged queue_time=75", {"queue_result": "bridged", "queue_time": 75}),
        ),
    ],
)
def test_parse_step_reads_hook_and_result_fields(line: str, step: tuple[str, str, dict[str, Any]]) -> None:
    parsed = parse_step(line, 0, "enqueue")
    assert parsed is not None and (parsed.action, parsed.argument, parsed.fields) == step


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("hook", "hook takes the name of the waiting verb's hook"),
        ("hook a=1", "hook takes the name of the waiting verb's hook"),
        ("hook waitHook name=x", "cannot set the field(s) name"),
        ("result =1", "a field is KEY=VALUE, not '=1'"),
        ("result 1=2 queue_result=bridged", "a field is KEY=VALUE, not '1=2'"),
    ],
)
def test_parse_step_refuses_bad_hook_and_result_steps(line: str, error: str) -> None:
    with pytest.raises(CliError, match=re.escape(error)):
        parse_step(line, 3, "enqueue")


@pytest.mark.parametrize(
    ("line", "waiting", "step"),
    [
        ("press 12#", None, ("press", "12#")),
        ("say I want sales", None, ("say", "I want sales")),
        ("  # a comment", "gather", None),
        ("", "gather", ("silence", "")),
        ("42", "gather", ("press", "42")),
        ("sales please", "gather", ("say", "sales please")),
        ("busy", "dial", ("dial", "busy")),
        ("Expect-End", None, ("expect-end", "")),
    ],
)
def test_parse_step(line: str, waiting: str | None, step: tuple[str, str] | None) -> None:
    parsed = parse_step(line, 0, waiting)
    assert (None if parsed is None else (parsed.action, parsed.argument)) == step


# -- packaging -------------------------------------------------------------------------------------


def test_the_console_script_points_at_main() -> None:
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts == {"jambonz-webhooks": "jambonz_webhooks.cli:main"}
    result = cli("--help")
    assert result.returncode == 0
    assert all(command in result.stdout for command in ("run", "routes", "simulate", "sign"))


def test_sign_help_shows_the_printf_format_as_typed() -> None:
    result = cli("sign", "--help")
    assert result.returncode == 0
    assert "printf '%s' does not" in result.stdout
    assert "printf '%s' \"$BODY\"" in result.stdout
    assert "%%" not in result.stdout


def test_run_refuses_a_root_path_that_is_not_a_path() -> None:
    result = cli("run", "example_app.app:app", "--root-path", "voice")
    assert result.returncode == 2
    assert 'a root path starts with "/"' in result.stderr


def test_routes_gives_handlers_their_typed_env_vars() -> None:
    # The speech bot's handlers ask for an EnvVars class: built from the declared defaults.
    result = cli("routes", "examples.speech_bot:app", "--strict")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 problem(s), 0 warning(s)" in result.stdout


def test_routes_reads_the_helpers_a_handler_calls_and_both_sides_of_a_choice(tmp_path: Path) -> None:
    # The hooks of a conference are named in a helper, reached only by a caller no sample is,
    # one of them in a conditional: the source finds the typo'd one (a problem) and the rest.
    handlers = """
        @app.call_hook("/incoming")
        async def incoming(call: CallSession) -> WebhookResponse:
            if call.from_ == "+15550007231":
                return join(WebhookResponse(), host=False)
            return WebhookResponse().hangup()

        def join(response: WebhookResponse, *, host: bool) -> WebhookResponse:
            return response.conference(
                name="room", wait_hook=None if host else "/wating", status_hook=event, action_hook=over
            )

        @app.action_hook("/waiting")
        async def waiting() -> WebhookResponse:
            return WebhookResponse().play(url="https://example.com/music.mp3")

        @app.action_hook("/event")
        async def event() -> None: ...

        @app.action_hook("/over")
        async def over() -> WebhookResponse:
            return WebhookResponse().hangup()
        """
    result = _routes_of(tmp_path, "CallSession", handlers, "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    document = json.loads(result.stdout)
    found = {(ref["field"], ref["target"], ref["status"]) for ref in document["references"]}
    assert found == {
        ("waitHook", "/wating", "unserved"),
        ("statusHook", "/event", "ok"),
        ("actionHook", "/over", "ok"),
    }
    assert [problem["hook"] for problem in document["problems"]] == ["/incoming"]
    assert "/wating" in document["problems"][0]["message"]
    # /waiting is named by no verb (the typo): warned of; /event and /over are reached.
    assert [warning["hook"] for warning in document["warnings"]] == ["/waiting"]


@pytest.mark.parametrize("stuck_at", ["startup", "shutdown"])
def test_routes_gives_a_lifespan_that_never_finishes_its_time_and_no_more(
    monkeypatch: pytest.MonkeyPatch, stuck_at: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(routes_command, "LIFESPAN_TIMEOUT", 0.2)

    @contextlib.asynccontextmanager
    async def stuck(app: Starlette) -> AsyncIterator[None]:
        if stuck_at == "startup":
            await asyncio.Event().wait()
        yield
        await asyncio.Event().wait()

    async def check() -> None:
        async with routes_command.lifespan(Starlette(lifespan=stuck)):
            pass

    if stuck_at == "startup":
        with pytest.raises(CliError, match=r"did not finish its startup in 0.2 s"):
            asyncio.run(check())
    else:
        asyncio.run(check())  # the report is out: the shutdown's failure is a note
        assert "failed at shutdown: not finished in 0.2 s" in capsys.readouterr().err


def test_run_refuses_an_app_without_authentication_in_one_line_before_serving(tmp_path: Path) -> None:
    (tmp_path / "open_app.py").write_text(
        textwrap.dedent(
            """
            from jambonz_webhooks import JambonzApp, WebhookResponse

            app = JambonzApp()

            @app.call_hook("/incoming")
            async def incoming() -> WebhookResponse:
                return WebhookResponse().hangup()
            """
        ),
        encoding="utf-8",
    )
    closed = {"JAMBONZ_WEBHOOK_SECRET": "", "JAMBONZ_WEBHOOK_INSECURE": "0"}
    result = cli("run", "open_app:app", "--app-dir", str(tmp_path), "--port", "1", env=closed)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "serving open_app:app" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("jambonz-webhooks run: error: the app's hooks have no authentication")
    assert "JAMBONZ_WEBHOOK_SECRET" in line and "JAMBONZ_WEBHOOK_INSECURE=1" in line
