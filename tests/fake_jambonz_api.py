"""A stand-in for jambonz's API server, for the REST client's tests.

:class:`FakeJambonzAPI` holds a small Starlette app that checks every request against
``tests/data/rest_api.json`` (written from jambonz-api's swagger.yaml): the method and path of
an operation, a ``Bearer`` API key, the path and query parameters and the JSON body, with
``jsonschema``. What fails a check is answered as the server would (400 ``{"msg": ...}``) and
also kept in :attr:`FakeJambonzAPI.failures`, so a test can assert that the client sent nothing
outside the API. Every request is recorded (:attr:`FakeJambonzAPI.requests`, and
``GET /_requests`` when the app runs in another process).

Switches make the next requests fail: :meth:`~FakeJambonzAPI.fail_next` (a status, 503 by
default), :meth:`~FakeJambonzAPI.delay_next`, :meth:`~FakeJambonzAPI.drop_next` (the connection
closed in the middle of the answer) and :meth:`~FakeJambonzAPI.refuse_next` (an update refused
with 400). :func:`serve` runs the app under a real uvicorn, in a thread, on a free port.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

SPEC_PATH = Path(__file__).parent / "data" / "rest_api.json"
SPEC: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
SPEC_ID: str = SPEC["$id"]
_REGISTRY: Registry[Any] = Registry().with_resource(SPEC_ID, DRAFT202012.create_resource(SPEC))
_FORMATS = FormatChecker()

ACCOUNT_SID = "9351f46a-678c-43f5-b8a6-d4eb58d131af"
API_KEY = "a7b1c2d3-api-key-for-tests"
LIVE_CALL_SID = "b5e3f2a0-1c2d-4e5f-8a9b-0c1d2e3f4a5b"


def validator(pointer: str) -> Draft202012Validator:
    """A validator for the schema at ``pointer`` (``/operations/createCall/body``) of the document."""
    return Draft202012Validator({"$ref": f"{SPEC_ID}#{pointer}"}, registry=_REGISTRY, format_checker=_FORMATS)


def _problem(schema: Draft202012Validator, instance: Any) -> str | None:
    error = best_match(schema.iter_errors(instance))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "(root)"
    return f"{where}: {error.message}"


@dataclass(frozen=True)
class Operation:
    """One operation of the document, with its path as a pattern."""

    name: str
    methods: tuple[str, ...]
    pattern: re.Pattern[str]
    spec: dict[str, Any]

    def check(self, part: str, instance: Any) -> str | None:
        """What is wrong with ``instance`` as this operation's ``part`` (``body``, ``query``), or None."""
        return _problem(validator(f"/operations/{self.name}/{part}"), instance)


def _pattern(path: str) -> re.Pattern[str]:
    """``/v1/Accounts/{AccountSid}/Calls`` as a pattern with a named group per parameter."""
    parts = re.split(r"\{(\w+)\}", path)
    regex = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)" for index, part in enumerate(parts)
    )
    return re.compile(regex + r"\Z")


def _operations() -> list[Operation]:
    return [
        Operation(name, tuple(spec["methods"]), _pattern(SPEC["basePath"] + spec["path"]), spec)
        for name, spec in SPEC["operations"].items()
    ]


OPERATIONS = _operations()


@dataclass
class RecordedRequest:
    """A request as the fake received it."""

    method: str
    path: str
    query: list[tuple[str, str]]
    authorization: str | None
    content_type: str | None
    raw: str
    client_port: int | None
    body: Any = None
    operation: str | None = None
    path_params: dict[str, str] = field(default_factory=dict)
    status: int | None = None


class _Truncated(Response):
    """An answer cut short: headers promising a body, a byte of it, then the connection closed."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"64")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"[", "more_body": True})
        # Returning now leaves the answer incomplete: uvicorn closes the connection.


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"msg": message}, status_code=status)


class FakeJambonzAPI:
    """jambonz's API server for one account, with a call in progress (:data:`LIVE_CALL_SID`)."""

    def __init__(self, account_sid: str = ACCOUNT_SID, api_key: str = API_KEY) -> None:
        self.account_sid = account_sid
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self.reset()
        self.app = Starlette(
            routes=[
                Route("/_requests", self._debug, methods=["GET"]),
                Route("/{rest:path}", self._serve, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            ]
        )

    # --- switches and state ---------------------------------------------------------------

    def reset(self) -> None:
        """Forget requests, failures and switches; one call in progress again."""
        with self._lock:
            self.requests.clear()
            self.failures.clear()
            self._fail: list[tuple[int, dict[str, Any]]] = []
            self._delays: list[float] = []
            self._drops = 0
            self._refusals: list[str] = []
            self.conferences = ["sales-huddle", "support-bridge"]
            self.queues = {"support": 2, "sales": 0}
            self.calls: dict[str, dict[str, Any]] = {LIVE_CALL_SID: self._call(LIVE_CALL_SID, "inbound")}
            self.updates: dict[str, list[dict[str, Any]]] = {}

    def fail_next(self, times: int = 1, status: int = 503, body: dict[str, Any] | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` (and ``body``, a GeneralError by default)."""
        with self._lock:
            self._fail.extend([(status, body or {"msg": "service unavailable"})] * times)

    def delay_next(self, seconds: float, times: int = 1) -> None:
        """Wait ``seconds`` before answering each of the next ``times`` requests."""
        with self._lock:
            self._delays.extend([seconds] * times)

    def drop_next(self, times: int = 1) -> None:
        """Close the connection in the middle of the answer to the next ``times`` requests."""
        with self._lock:
            self._drops += times

    def refuse_next(self, message: str) -> None:
        """Refuse the next (valid) update with 400 ``{"msg": message}``, as the server refuses some."""
        with self._lock:
            self._refusals.append(message)

    def assert_clean(self) -> None:
        """Fail unless every request so far was within the API."""
        assert self.failures == [], "requests outside the API:\n" + "\n".join(self.failures)

    def _call(self, call_sid: str, direction: str, **fields: Any) -> dict[str, Any]:
        call = {
            "account_sid": self.account_sid,
            "call_id": f"{call_sid[:8]}@10.0.1.5",
            "call_sid": call_sid,
            "call_status": "in-progress",
            "direction": direction,
            "from": "+15083084809",
            "service_url": "https://ivr.example.com/incoming",
            "sip_status": 200,
            "to": "+15083728299",
            "duration": 12,
        }
        call.update(fields)
        return call

    # --- serving ------------------------------------------------------------------------

    async def _debug(self, request: Request) -> JSONResponse:
        with self._lock:
            records = [asdict(record) for record in self.requests]
            return JSONResponse({"requests": records, "failures": list(self.failures)})

    def _take(self) -> tuple[bool, float, tuple[int, dict[str, Any]] | None]:
        with self._lock:
            drop = self._drops > 0
            self._drops -= drop
            delay = self._delays.pop(0) if self._delays else 0.0
            fail = self._fail.pop(0) if self._fail else None
            return drop, delay, fail

    async def _serve(self, request: Request) -> Response:
        raw = await request.body()
        record = RecordedRequest(
            method=request.method,
            path=request.url.path,
            query=list(request.query_params.multi_items()),
            authorization=request.headers.get("authorization"),
            content_type=request.headers.get("content-type"),
            raw=raw.decode("utf-8", errors="replace"),
            client_port=request.client.port if request.client else None,
        )
        with self._lock:
            self.requests.append(record)
        drop, delay, fail = self._take()
        if delay:
            await asyncio.sleep(delay)
        # Checked even when a switch answers instead: a request outside the API is a failure anyway.
        refusal, operation = self._check(record, raw)
        response: Response
        if drop:
            response = _Truncated()
        elif refusal is not None:
            response = refusal
        elif fail is not None:
            response = JSONResponse(fail[1], status_code=fail[0])
        else:
            assert operation is not None
            response = getattr(self, f"_{operation.name}")(record)
            self._check_answer(record, operation, response)
        record.status = -1 if drop else response.status_code  # -1: no complete answer
        return response

    def _failure(self, record: RecordedRequest, status: int, message: str) -> Response:
        with self._lock:
            self.failures.append(f"{record.method} {record.path}: {message}")
        return _error(status, message)

    def _check(self, record: RecordedRequest, raw: bytes) -> tuple[Response | None, Operation | None]:
        """The answer refusing the request (None if it may be served), and its operation."""
        matches = [(op, found) for op in OPERATIONS if (found := op.pattern.match(record.path))]
        if not matches:
            return self._failure(record, 404, f"no operation at {record.path}"), None
        allowed = [(op, found) for op, found in matches if record.method in op.methods]
        if not allowed:
            return self._failure(record, 405, f"{record.method} is not an operation of {record.path}"), None
        operation, found = allowed[0]
        record.operation = operation.name
        record.path_params = found.groupdict()

        # Authentication first, as the server's middleware does. A wrong key is a test's choice;
        # a missing or malformed header is the client's mistake.
        scheme, _, token = (record.authorization or "").partition(" ")
        if scheme != "Bearer" or not token:
            return self._failure(record, 401, f"no bearer token: {record.authorization!r}"), operation
        if token != self.api_key:
            unauthorized = Response("Unauthorized", status_code=401, headers={"WWW-Authenticate": "Bearer"})
            return unauthorized, operation

        problem = operation.check("pathParameters", record.path_params)
        if problem:
            return self._failure(record, 400, f"path: {problem}"), operation
        if record.path_params["AccountSid"] != self.account_sid:
            return _error(403, "insufficient privileges"), operation

        keys = [key for key, _ in record.query]
        if len(keys) != len(set(keys)):
            return self._failure(record, 400, f"a query parameter given twice: {record.query}"), operation
        query = dict(record.query)
        if "query" in operation.spec:
            problem = operation.check("query", query)
            if problem:
                return self._failure(record, 400, f"query: {problem}"), operation
        elif query:
            return self._failure(record, 400, f"{operation.name} takes no query: {query}"), operation

        if "body" not in operation.spec:
            if raw:
                return self._failure(record, 400, f"{operation.name} takes no body: {raw!r}"), operation
            return None, operation
        media = (record.content_type or "").split(";")[0].strip().lower()
        if media != "application/json":
            return self._failure(record, 400, f"body sent as {record.content_type!r}"), operation
        try:
            record.body = json.loads(raw)
        except ValueError as exc:
            return self._failure(record, 400, f"body is not JSON: {exc}"), operation
        problem = operation.check("body", record.body) or self._check_contents(operation, record.body)
        if problem:
            return self._failure(record, 400, problem), operation
        return None, operation

    def _check_contents(self, operation: Operation, body: Any) -> str | None:
        """Check the JSON text fields (contentMediaType application/json) against their contentSchema."""
        properties = operation.spec["body"].get("properties", {})
        for name, spec in properties.items():
            if spec.get("contentMediaType") != "application/json" or name not in body:
                continue
            try:
                content = json.loads(body[name])
            except ValueError as exc:
                return f"{name}: not JSON text: {exc}"
            schema = validator(f"/operations/{operation.name}/body/properties/{name}/contentSchema")
            problem = _problem(schema, content)
            if problem:
                return f"{name} (parsed): {problem}"
        return None

    def _check_answer(self, record: RecordedRequest, operation: Operation, response: Response) -> None:
        # The fake's own answers must follow the document too, or the tests prove nothing.
        status = str(response.status_code)
        if status not in operation.spec["responses"]:
            self._failure(record, 500, f"the fake answered {status}, not an answer of {operation.name}")
        elif response.body:
            problem = _problem(
                validator(f"/operations/{operation.name}/responses/{status}"),
                json.loads(bytes(response.body)),
            )
            if problem:
                self._failure(record, 500, f"the fake's answer {status}: {problem}")

    # --- the operations -----------------------------------------------------------------

    def _known_call(self, record: RecordedRequest) -> dict[str, Any] | None:
        return self.calls.get(record.path_params["CallSid"])

    def _createCall(self, record: RecordedRequest) -> Response:
        body = record.body
        sid = str(uuid.uuid4())
        to = body["to"]
        callee = to.get("number") or to.get("sipUri") or to.get("name") or ""
        with self._lock:
            self.calls[sid] = self._call(
                sid, "outbound", call_status="queued", sip_status=100, to=callee, **{"from": body["from"]}
            )
        return JSONResponse({"sid": sid}, status_code=201)

    def _listCalls(self, record: RecordedRequest) -> Response:
        filters = {"direction": "direction", "from": "from", "to": "to", "callStatus": "call_status"}
        query = dict(record.query)
        calls = [
            call
            for call in self.calls.values()
            if all(call[field_] == query[key] for key, field_ in filters.items() if key in query)
        ]
        return JSONResponse(calls)

    def _getCall(self, record: RecordedRequest) -> Response:
        call = self._known_call(record)
        return JSONResponse(call) if call is not None else _error(404, "call not found")

    def _deleteCall(self, record: RecordedRequest) -> Response:
        with self._lock:
            call = self.calls.pop(record.path_params["CallSid"], None)
        return Response(status_code=204) if call is not None else _error(404, "call not found")

    def _updateCall(self, record: RecordedRequest) -> Response:
        call = self._known_call(record)
        if call is None:
            return _error(404, "call not found")
        with self._lock:
            if self._refusals:
                return _error(400, self._refusals.pop(0))
            self.updates.setdefault(call["call_sid"], []).append(record.body)
            if record.body.get("call_status") in ("completed", "no-answer"):
                call["call_status"] = record.body["call_status"]
        return Response(status_code=202)

    def _listConferences(self, record: RecordedRequest) -> Response:
        return JSONResponse(self.conferences)

    def _listQueues(self, record: RecordedRequest) -> Response:
        search = dict(record.query).get("search")
        queues = [
            {"name": name, "length": str(length)}  # a string, as the spec has it
            for name, length in self.queues.items()
            if search is None or search in name
        ]
        return JSONResponse(queues)

    def _createMessage(self, record: RecordedRequest) -> Response:
        return JSONResponse({"sid": str(uuid.uuid4()), "providerResponse": "queued"}, status_code=201)


@contextmanager
def serve(api: FakeJambonzAPI, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``api`` with uvicorn in a thread on a free port of ``host``; yield its origin."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((host, 0))  # bound here and handed over: no other process can take the port
    port = sock.getsockname()[1]
    # log_config=None: uvicorn must not reconfigure the logging of the test process.
    config = uvicorn.Config(
        api.app, lifespan="off", access_log=False, log_config=None, timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fake jambonz API did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
