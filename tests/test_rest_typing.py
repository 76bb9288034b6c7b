"""The REST client's methods: written once for both clients, and typed.

Each resource method is one builder (``rest/client.py``); these tests check what both clients
make of it (a function, a coroutine function, the same signature), that a keyword a request
body does not have is refused by the type checker and at run time, and that the keyword
``TypedDict`` of each body keeps the fields of its model.
"""

from __future__ import annotations

import inspect
import textwrap
from pathlib import Path
from typing import Any, Required, get_origin, get_type_hints

import httpx2
import pytest
from mypy import api as mypy_api
from pydantic import BaseModel, ValidationError

from jambonz_webhooks.rest import (
    AsyncJambonzClient,
    CreateCall,
    CreateCallFields,
    CreateMessage,
    CreateMessageFields,
    JambonzClient,
    UpdateCall,
    UpdateCallFields,
)

ROOT = Path(__file__).resolve().parent.parent
SETTINGS: dict[str, Any] = {
    "base_url": "https://api.example.com",
    "account_sid": "9351f46a-678c-43f5-b8a6-d4eb58d131af",
    "api_key": "a-key",
}


def _refuse(requests: list[httpx2.Request]) -> httpx2.MockTransport:
    def handler(request: httpx2.Request) -> httpx2.Response:
        requests.append(request)
        return httpx2.Response(500)

    return httpx2.MockTransport(handler)


@pytest.mark.parametrize(
    ("fields", "model"),
    [(CreateCallFields, CreateCall), (UpdateCallFields, UpdateCall), (CreateMessageFields, CreateMessage)],
)
def test_each_keyword_typeddict_has_its_models_fields(fields: Any, model: type[BaseModel]) -> None:
    hints = get_type_hints(fields, include_extras=True)
    assert set(hints) == set(model.model_fields)
    required = {name for name, field in model.model_fields.items() if field.is_required()}
    # Required[...] read from the hints: the module's string annotations hide it from __required_keys__.
    assert {name for name, hint in hints.items() if get_origin(hint) is Required} == required


async def test_both_clients_share_each_method_blocking_or_awaited() -> None:
    sync = JambonzClient(**SETTINGS)
    async_ = AsyncJambonzClient(**SETTINGS)
    try:
        for name in ("calls", "conferences", "queues", "messages"):
            assert type(getattr(sync, name)) is type(getattr(async_, name))  # one class, written once
        for resource, method in (
            ("calls", "create"),
            ("calls", "update"),
            ("calls", "list"),
            ("calls", "hangup"),
            ("queues", "list"),
            ("messages", "create"),
        ):
            blocking = getattr(getattr(sync, resource), method)
            awaited = getattr(getattr(async_, resource), method)
            assert not inspect.iscoroutinefunction(blocking)
            assert inspect.iscoroutinefunction(awaited)
            assert inspect.signature(blocking) == inspect.signature(awaited)
            assert blocking.__name__ == awaited.__name__ == method
            assert blocking.__doc__ == awaited.__doc__
            assert blocking.__doc__
        # help() names every field a keyword takes, the required ones without a default, and
        # returns what the answer means (the call_sid), not the request.
        create = inspect.signature(sync.calls.create)
        assert list(create.parameters)[:3] == ["from_", "to", "call_hook"]
        assert set(create.parameters) == set(CreateCallFields.__annotations__)
        assert all(p.kind is p.KEYWORD_ONLY for p in create.parameters.values())
        assert create.parameters["from_"].default is inspect.Parameter.empty
        assert create.parameters["timeout"].default is None
        assert create.return_annotation is str
        update = inspect.signature(sync.calls.update)
        assert next(iter(update.parameters)) == "call_sid" and "mute_status" in update.parameters
        assert update.parameters["call_sid"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        assert sync.calls.update is sync.calls.update  # made once per client
        view = async_.for_account("another-account")
        assert view.calls.create is not async_.calls.create
        assert view.calls._account == "Accounts/another-account"
    finally:
        sync.close()
        await async_.aclose()


async def test_a_misspelt_keyword_is_refused_naming_it_before_sending() -> None:
    requests: list[httpx2.Request] = []
    phone = {"type": "phone", "number": "+2"}
    with (
        JambonzClient(**SETTINGS, transport=_refuse(requests)) as client,
        pytest.raises(ValidationError, match="form_") as caught,
    ):
        client.calls.create(form_="+1", to=phone, call_hook="/i")  # type: ignore[call-arg]
    assert {error["loc"] for error in caught.value.errors()} == {("from",), ("form_",)}

    async with AsyncJambonzClient(**SETTINGS, transport=_refuse(requests)) as aclient:
        with pytest.raises(ValidationError, match="mute_stats"):
            await aclient.calls.update("a-call", mute_stats="mute")  # type: ignore[call-arg]
        with pytest.raises(ValidationError, match="txt"):
            await aclient.messages.create(from_="+1", to="+2", txt="hi")  # type: ignore[call-arg]
    assert requests == []


# What mypy must say of each line marked "# error: <what>", and of no other line.
SNIPPET = """
from jambonz_webhooks.rest import AsyncJambonzClient, CallRecord, JambonzClient, SentMessage
from jambonz_webhooks.verbs import Say

PHONE = {"type": "phone", "number": "+15559870000"}


def blocking(client: JambonzClient) -> None:
    sid: str = client.calls.create(from_="+15551230000", to=PHONE, call_hook="https://x.example/a")
    client.calls.update(sid, mute_status="mute", whisper=Say(text="hi"))
    client.calls.create(form_="+1", to=PHONE, call_hook="/a")  # error: Unexpected keyword argument "form_"
    client.calls.create(from_="+1", to=PHONE, call_hook="/a", timeout="30")  # error: Argument "timeout"
    client.calls.update(sid, mute_status="muted")  # error: Argument "mute_status"
    client.calls.create(to=PHONE, call_hook="/a")  # error: Missing named argument "from_"
    client.messages.create(from_="+1", to="+2", txt="hi")  # error: Unexpected keyword argument "txt"
    record: CallRecord = client.calls.get(sid)
    wrong: int = client.calls.get(sid)  # error: Incompatible types in assignment


async def awaited(client: AsyncJambonzClient) -> None:
    sid: str = await client.calls.create(from_="+1", to=PHONE, application_sid="app")
    sent: SentMessage = await client.messages.create(from_="+1", to="+2", text="hi")
    await client.calls.update(sid, call_hook="/b", tmeout=3)  # error: Unexpected keyword argument "tmeout"
    client.calls.hangup(sid)  # error: Value of type "Coroutine[Any, Any, None]" must be used
"""


@pytest.mark.slow
def test_mypy_refuses_a_misspelt_or_mistyped_field(tmp_path: Path) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(textwrap.dedent(SNIPPET), encoding="utf-8")
    stdout, stderr, status = mypy_api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            # The project's own cache: the package is checked once, not on every run (10 s cold).
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            "--no-error-summary",
            "--hide-error-context",
            str(snippet),
        ]
    )
    assert status == 1, stdout + stderr
    errors: dict[int, list[str]] = {}
    for line in stdout.splitlines():
        where, _, message = line.partition(": error: ")
        if message:
            errors.setdefault(int(where.split(":")[1]), []).append(message)
    expected = {
        number: text.split("# error: ")[1]
        for number, text in enumerate(snippet.read_text(encoding="utf-8").splitlines(), start=1)
        if "# error: " in text
    }
    assert set(errors) == set(expected), stdout
    for number, what in expected.items():
        assert any(message.startswith(what) for message in errors[number]), (what, errors[number])
