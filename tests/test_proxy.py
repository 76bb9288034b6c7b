"""The app behind a real nginx, configured as docs/deployment.md says.

The configuration is read from the page itself (its nginx blocks under "Behind a reverse
proxy"); only the backend's port, the listening address, the certificate (a self-signed one,
made here with openssl) and the places of nginx's own files change. nginx runs as this user,
in the foreground, from a temporary directory. In front of it: ``jambonz-webhooks run``
serving the example app (tests/apps/proxied.py: with a route that says what the app saw of a
request) with a webhook secret and basic auth, once at the root and once under
``--root-path /voice`` behind the page's prefix location.

Without nginx (``apt-get install nginx-light``) the tests skip, except under CI (``CI=true``),
where that is a failure: scripts/test.sh installs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from jambonz_webhooks.testing import basic_auth_header, jambonz_json, signed_headers
from tests.conftest import (
    HOST,
    PROTECTED_PASSWORD,
    PROTECTED_SECRET,
    PROTECTED_USERNAME,
    REPO_ROOT,
    _free_port,
    _inherited_env,
    _port_answers,
    _stop,
)
from tests.payloads import session_new

pytestmark = pytest.mark.slow

# The example app with a route that says what it saw (client address, scheme, root path).
APP = "tests.apps.proxied:app"
DOC = REPO_ROOT / "docs" / "deployment.md"
SUBPROTOCOL = "ws.jambonz.org"
# A client address other than nginx's own (127.0.0.1, the one address run trusts): what a caller
# on another machine looks like to the app. Linux routes all of 127.0.0.0/8 to the loopback.
CLIENT_ADDRESS = "127.0.0.2"
SPOOFED = "203.0.113.9"
# The example app is given basic auth too: every hook, HTTP or WebSocket, carries it.
AUTH = basic_auth_header(PROTECTED_USERNAME, PROTECTED_PASSWORD)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def _nginx() -> str:
    found = shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(path, os.X_OK)), None
    )
    if found is None:
        if _in_ci():
            pytest.fail("nginx is missing: scripts/test.sh installs it (apt-get install nginx-light)")
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    return found


def _doc_blocks() -> tuple[str, str]:
    """The page's nginx configuration and its path-prefix location, as written."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("### Behind a reverse proxy") :]
    blocks = re.findall(r"```nginx\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) >= 2, "docs/deployment.md lost its nginx configuration"
    return blocks[0], blocks[1]


def _replace_once(text: str, old: str, new: str) -> str:
    # The page changed if a line the test adapts is gone: the test must then change with it.
    assert text.count(old) == 1, f"docs/deployment.md's nginx configuration has no single {old!r}"
    return text.replace(old, new)


def _config(tmp: Path, listen_port: int, backend_port: int, cert: Path, key: Path, *, prefix: bool) -> str:
    """The page's configuration for this machine, inside what a whole nginx.conf needs."""
    main, prefix_location = _doc_blocks()
    site = _replace_once(main, "server 127.0.0.1:3000;", f"server {HOST}:{backend_port};")
    site = _replace_once(site, "listen 443 ssl;", f"listen {HOST}:{listen_port} ssl;")
    site = _replace_once(
        site,
        "# ... ssl_certificate, ssl_certificate_key, server_name ...",
        f"ssl_certificate {cert};\n    ssl_certificate_key {key};\n    server_name localhost;",
    )
    if prefix:
        root_location = re.search(r"\n    location / \{\n.*?\n    \}\n", site, flags=re.DOTALL)
        assert root_location is not None
        site = site.replace(root_location.group(0), "\n" + prefix_location)
    # nginx's own files: the pid, logs and temporary files, all in tmp (nothing of root's).
    temp = "\n".join(
        f"    {kind}_temp_path {tmp / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"pid {tmp / 'nginx.pid'};\n"
        f"error_log {tmp / 'error.log'} info;\n"
        "worker_processes 1;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"    access_log {tmp / 'access.log'};\n"
        f"{temp}\n"
        f"{site}\n"
        "}\n"
    )


@dataclass
class Backend:
    """``jambonz-webhooks run`` serving the example app, in a subprocess."""

    process: subprocess.Popen[bytes]
    port: int
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


def _backend(tmp: Path, tag: str, *args: str) -> Backend:
    port = _free_port()
    stderr_path = tmp / f"{tag}.stderr.log"
    env = {
        **_inherited_env(),
        "JAMBONZ_WEBHOOK_SECRET": PROTECTED_SECRET,
        "JAMBONZ_WEBHOOK_USERNAME": PROTECTED_USERNAME,
        "JAMBONZ_WEBHOOK_PASSWORD": PROTECTED_PASSWORD,
        "PYTHONUNBUFFERED": "1",
    }
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "jambonz_webhooks", "run", APP, "--port", str(port), *args],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    backend = Backend(process, port, stderr_path)
    deadline = time.monotonic() + 20.0
    while f"Uvicorn running on http://{HOST}:{port}" not in backend.stderr():
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            raise RuntimeError(f"jambonz-webhooks run did not start:\n{backend.stderr()}")
        time.sleep(0.05)
    return backend


@dataclass
class Proxy:
    """nginx in front of a backend, over TLS with a self-signed certificate."""

    port: int
    backend: Backend
    context: ssl.SSLContext
    directory: Path

    @property
    def origin(self) -> str:
        return f"https://localhost:{self.port}"

    def client(self, local_address: str = HOST) -> httpx2.Client:
        """An HTTP client of the proxy, connecting from ``local_address``."""
        transport = httpx2.HTTPTransport(verify=self.context, local_address=local_address)
        return httpx2.Client(base_url=self.origin, transport=transport, timeout=10.0, trust_env=False)

    def open_socket(self, path: str, **options: Any) -> ClientConnection:
        """A WebSocket through the proxy, as jambonz opens one (wss://, the subprotocol)."""
        options.setdefault("subprotocols", [SUBPROTOCOL])
        socket: ClientConnection = connect(
            f"wss://localhost:{self.port}{path}", ssl=self.context, open_timeout=10, **options
        )
        return socket


def _certificate(tmp: Path) -> tuple[Path, Path, ssl.SSLContext]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key, ssl.create_default_context(cafile=str(cert))


def _start_nginx(nginx: str, tmp: Path, backend: Backend, *, prefix: bool) -> Iterator[Proxy]:
    cert, key, context = _certificate(tmp)
    port = _free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(_config(tmp, port, backend.port, cert, key, prefix=prefix), encoding="utf-8")
    check = subprocess.run(
        [nginx, "-t", "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, f"nginx refused the documented configuration:\n{check.stderr}"
    with open(tmp / "nginx.stderr.log", "wb") as stderr:
        process = subprocess.Popen(
            [nginx, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf), "-g", "daemon off;"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 10.0
        while not _port_answers(port):
            assert process.poll() is None, (tmp / "error.log").read_text(errors="replace")
            assert time.monotonic() < deadline, "nginx did not start listening"
            time.sleep(0.02)
        yield Proxy(port, backend, context, tmp)
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def nginx() -> str:
    return _nginx()


@pytest.fixture(scope="module")
def proxy(nginx: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """The page's configuration in front of the example app at the root."""
    tmp = tmp_path_factory.mktemp("nginx")
    backend = _backend(tmp, "root", "--forwarded-allow-ips", "127.0.0.1")
    try:
        yield from _start_nginx(nginx, tmp, backend, prefix=False)
    finally:
        _stop(backend.process)
    assert "Traceback" not in backend.stderr()


@pytest.fixture(scope="module")
def prefixed(nginx: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """The page's prefix location in front of the example app run with ``--root-path /voice``."""
    tmp = tmp_path_factory.mktemp("nginx-prefix")
    backend = _backend(tmp, "voice", "--forwarded-allow-ips", "127.0.0.1", "--root-path", "/voice")
    try:
        yield from _start_nginx(nginx, tmp, backend, prefix=True)
    finally:
        _stop(backend.process)
    assert "Traceback" not in backend.stderr()


def _call_hook(client: httpx2.Client, path: str, **extra_headers: str) -> httpx2.Response:
    body = jambonz_json(session_new(env_vars={"COMPANY_NAME": "Globex"}))
    headers = {**signed_headers(body, PROTECTED_SECRET), **AUTH, **extra_headers}
    return client.post(path, content=body, headers=headers)


def test_signed_call_hook_through_the_proxy_gets_the_ivr(proxy: Proxy) -> None:
    with proxy.client() as client:
        answer = _call_hook(client, "/incoming")
    assert answer.status_code == 200, answer.text
    verbs = answer.json()
    assert [verb["verb"] for verb in verbs] == ["say", "gather", "say", "hangup"]
    assert verbs[0]["text"] == "Hello, and thank you for calling Globex."
    assert verbs[1]["actionHook"] == "/menu"


def test_a_chunked_body_reaches_the_app_whole_and_its_signature_holds(proxy: Proxy) -> None:
    # proxy_request_buffering: nginx reads the whole chunked body, then sends it with a length;
    # the signature is over the bytes, which nginx passes on unchanged.
    body = jambonz_json(session_new())
    chunks = [body[i : i + 100] for i in range(0, len(body), 100)]
    with proxy.client() as client:
        answer = client.post(
            "/incoming", content=iter(chunks), headers={**signed_headers(body, PROTECTED_SECRET), **AUTH}
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()[0]["verb"] == "say"


def test_a_wrong_signature_is_refused_through_the_proxy(proxy: Proxy) -> None:
    body = jambonz_json(session_new())
    with proxy.client() as client:
        forged = client.post(
            "/incoming", content=body, headers={**signed_headers(body, "wh_secret_not_the_one"), **AUTH}
        )
        unsigned = client.post(
            "/incoming", content=body, headers={"Content-Type": "application/json", **AUTH}
        )
    assert forged.status_code == 401
    assert unsigned.status_code == 401


def test_health_through_the_proxy(proxy: Proxy) -> None:
    with proxy.client() as client:
        answer = client.get("/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_websocket_call_through_the_proxy(proxy: Proxy) -> None:
    with proxy.open_socket("/incoming", additional_headers=AUTH) as socket:
        assert socket.subprotocol == SUBPROTOCOL
        msgid = uuid.uuid4().hex[:22]
        sid = str(uuid.uuid4())
        payload = session_new(call_sid=sid, env_vars={"COMPANY_NAME": "Globex"})
        socket.send(json.dumps({"type": "session:new", "msgid": msgid, "call_sid": sid, "data": payload}))
        ack = json.loads(socket.recv(timeout=5))  # jambonz waits 5 s for it
    assert ack["type"] == "ack" and ack["msgid"] == msgid, ack
    assert [verb["verb"] for verb in ack["data"]] == ["say", "gather", "say", "hangup"]
    assert ack["data"][0]["text"] == "Hello, and thank you for calling Globex."


def test_websocket_basic_auth_is_checked_through_the_proxy(proxy: Proxy) -> None:
    with pytest.raises(InvalidStatus) as wrong:
        proxy.open_socket("/incoming", additional_headers=basic_auth_header(PROTECTED_USERNAME, "not it"))
    assert wrong.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as missing:
        proxy.open_socket("/incoming")
    assert missing.value.response.status_code == 401


def test_client_address_and_scheme_come_from_the_proxy_headers(proxy: Proxy) -> None:
    # The caller (127.0.0.2, not a trusted proxy) sends an X-Forwarded-For of its own: nginx
    # appends the address it saw, and uvicorn takes the rightmost untrusted one, the real caller's.
    with proxy.client(local_address=CLIENT_ADDRESS) as client:
        seen = client.get("/seen", headers={"X-Forwarded-For": SPOOFED, "X-Forwarded-Proto": "http"})
    assert seen.status_code == 200, seen.text
    assert seen.json() == {"client": CLIENT_ADDRESS, "scheme": "https", "root_path": ""}
    # nginx itself logged the connection from the caller.
    access = (proxy.directory / "access.log").read_text(encoding="utf-8")
    assert any(line.startswith(f"{CLIENT_ADDRESS} ") and "/seen" in line for line in access.splitlines())


def test_a_socket_sees_the_callers_address_and_wss(proxy: Proxy) -> None:
    with proxy.open_socket(
        "/seen",
        subprotocols=None,
        additional_headers={"X-Forwarded-For": SPOOFED},
        source_address=(CLIENT_ADDRESS, 0),
    ) as socket:
        seen = json.loads(socket.recv(timeout=5))
    assert seen == {"client": CLIENT_ADDRESS, "scheme": "wss", "root_path": ""}


def test_the_path_prefix_is_stripped_and_carried_by_hook_paths(prefixed: Proxy) -> None:
    with prefixed.client() as client:
        answer = _call_hook(client, "/voice/incoming")
        outside = _call_hook(client, "/incoming")
        health = client.get("/voice/health")
    assert answer.status_code == 200, answer.text
    assert answer.json()[1]["actionHook"] == "/voice/menu"
    assert outside.status_code in (403, 404)  # nginx's own answer: only the prefix is proxied
    assert health.json() == {"status": "ok"}
    with prefixed.client() as client:
        assert client.get("/voice/seen").json()["root_path"] == "/voice"


def test_websocket_call_under_the_prefix(prefixed: Proxy) -> None:
    with prefixed.open_socket("/voice/incoming", additional_headers=AUTH) as socket:
        assert socket.subprotocol == SUBPROTOCOL
        sid = str(uuid.uuid4())
        socket.send(
            json.dumps({"type": "session:new", "msgid": "m1", "call_sid": sid, "data": session_new()})
        )
        ack = json.loads(socket.recv(timeout=5))
    assert ack["msgid"] == "m1"
    assert ack["data"][1]["actionHook"] == "/voice/menu"
