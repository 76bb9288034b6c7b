"""WebhookResponse: the verbs a hook answers with, built fluently, and their encoding to JSON.

A handler may return a :class:`WebhookResponse`, a list of verbs (models or dicts), a single verb,
or None; :func:`collect_verbs` turns any of these into one list and :func:`encode_verbs`
writes it as the JSON array jambonz expects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Protocol, Self, TypeAlias, TypeVar, overload

import pydantic_core

from . import verbs
from .hooks import NO_CONTEXT, HookContext, reraise_unrouted
from .targets import Release, ReleaseError, as_release
from .verbs import VERB_MODELS, Verb
from .verbs._quick import Unsure
from .verbs._wire import VerbValidator

__all__ = [
    "Response",
    "VerbLike",
    "WebhookResponse",
    "builder_name",
    "collect_verbs",
    "encode_verbs",
    "prepare_verbs",
    "to_verb",
    "verb_method",
]

VerbLike: TypeAlias = Verb | Mapping[str, Any]
"""A verb as a model (``Say(text="hi")``) or as a dict in either of jambonz's shapes."""

SERVER_SYNONYMS = frozenset({"microsoft_s2s", "voiceagent_s2s"})
"""Verb names the jambonz server maps to ``llm`` but no schema describes; passed on unchecked."""

P = ParamSpec("P")
V = TypeVar("V", bound=Verb)
V_contra = TypeVar("V_contra", bound=Verb, contravariant=True)


# Each verb validated into its wire form where it can be (see verbs/_wire.py), else its model;
# each validator is built the first time its verb is used.
_VALIDATORS: dict[str, VerbValidator] = {name: VerbValidator(model) for name, model in VERB_MODELS.items()}


def prepare_verbs(*names: str) -> None:
    """Build the validators of the named verbs now rather than when each is first used.

    A verb's validator is built the first time an app answers with that verb (a few
    milliseconds for the large ones, gather or llm); an app that wants no such pause on its
    first calls names its verbs at start-up: ``prepare_verbs("say", "gather", "dial")``.
    Names are jambonz's (``"sip:decline"``) or the builder's (``"sip_decline"``).

    Raises:
        ValueError: a name is no verb's.

    """
    for validator in [_validator_named(name) for name in names]:
        validator.prepare()


def check_verb_names(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` as a tuple, each checked to be a verb's (as :func:`prepare_verbs` takes them).

    Raises:
        ValueError: a name is no verb's.

    """
    checked = tuple(names)
    for name in checked:
        _validator_named(name)
    return checked


def _validator_named(name: str) -> VerbValidator:
    validator = _VALIDATORS.get(name)
    if validator is None:
        validator = next((v for verb, v in _VALIDATORS.items() if builder_name(verb) == name), None)
    if validator is None:
        raise ValueError(f"unknown verb {name!r}")
    return validator


def to_verb(verb: VerbLike) -> Verb | dict[str, Any]:
    """Return ``verb`` validated: a model as it is, a dict as the verb jambonz receives.

    Dicts may be written ``{"verb": "say", "text": "hi"}`` or ``{"say": {"text": "hi"}}``.
    The server's own synonyms that have no schema (``microsoft_s2s``, ``voiceagent_s2s``) are
    passed on as they are.

    Raises:
        ValueError: the dict names no verb, or a verb jambonz does not know (it would fail the call).
        pydantic.ValidationError: the verb's fields are wrong.

    """
    if isinstance(verb, Verb):
        return verb
    if not isinstance(verb, Mapping):
        raise TypeError(f"a verb must be a verb model or a dict, not {type(verb).__name__}")
    name = verb.get("verb")
    if isinstance(name, str):
        body: Mapping[str, Any] = verb
    elif len(verb) == 1 and isinstance(next(iter(verb.values())), Mapping):
        ((name, body),) = verb.items()
    else:
        raise ValueError(f"not a verb (no 'verb' key): {sorted(verb)!r}")
    validators = _VALIDATORS.get(name)
    if validators is not None:
        return validators.validate(body)
    if name in SERVER_SYNONYMS:
        return {"verb": name, **{key: value for key, value in body.items() if key != "verb"}}
    raise ValueError(f"unknown verb {name!r}: jambonz would fail the call")


class _BoundVerbMethod(Protocol[P, V_contra]):
    """What ``WebhookResponse().say`` is to a type checker: the verb's fields as keywords, or a verb."""

    @overload
    def __call__(self, verb: V_contra | Mapping[str, Any], /) -> WebhookResponse: ...
    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> WebhookResponse: ...


def _verb_method(model: type[Verb]) -> Callable[..., WebhookResponse]:
    """Make the :class:`WebhookResponse` method that appends one kind of verb, validated at once."""
    name = model.verb_name
    validator = _VALIDATORS[name]

    def append(response: WebhookResponse, /, *args: Any, **fields: Any) -> WebhookResponse:
        if not args:
            # VerbValidator.validate, with the quick path's lookup inlined: this runs for every
            # verb of every answer, and each call fewer is a good part of a verb's cost.
            build = validator.builds.get(tuple(fields))
            if build is None:  # a shape not built yet, or that cannot be
                response._verbs.append(validator.validate(fields))
                return response
            try:
                response._verbs.append(build(fields))
            except Unsure:
                response._verbs.append(validator.checked(fields))
        elif len(args) == 1 and not fields:
            (verb,) = args
            if isinstance(verb, model):
                response._verbs.append(verb)
            elif isinstance(verb, Mapping):
                response._verbs.append(validator.validate(verb))
            else:
                raise TypeError(f"{name}() takes a {model.__name__}, a dict or keywords")
        else:
            raise TypeError(f"{name}() takes one verb or keyword fields, not both")
        return response

    append.__name__ = append.__qualname__ = builder_name(name)
    append.__doc__ = f"Append a ``{name}`` verb: its fields as keywords, a {model.__name__}, or its dict."
    append.verb_model = model  # type: ignore[attr-defined]
    return append


if TYPE_CHECKING:

    class verb_method(Generic[P, V]):
        """What a type checker sees of a builder method (at run time it is a plain function)."""

        model: type[V]

        def __init__(self, model: Callable[P, V]) -> None: ...
        @overload
        def __get__(self, response: None, owner: type[WebhookResponse]) -> Self: ...
        @overload
        def __get__(
            self, response: WebhookResponse, owner: type[WebhookResponse]
        ) -> _BoundVerbMethod[P, V]: ...
        def __get__(self, response: WebhookResponse | None, owner: type[WebhookResponse]) -> Any: ...

else:
    # A plain function binds to the response in C; a Python descriptor cost 0.3 µs a verb more.
    verb_method = _verb_method


def builder_name(verb: str) -> str:
    """The :class:`WebhookResponse` method of a verb: ``sip:decline`` -> ``sip_decline``."""
    return verb.replace(":", "_").replace("-", "_")


class WebhookResponse:
    """The verbs a hook answers with, in order (the name jambonz's own SDKs give it).

    Build it fluently; each method validates its verb at once, so a wrong field fails here
    rather than on a live call::

        WebhookResponse().say(text="Hello").gather(input=["digits"], num_digits=1, action_hook=menu).hangup()

    Verbs can also be given as models or dicts: ``WebhookResponse([Say(text="hi"), {"verb": "hangup"}])``.

    ``WebhookResponse(target="0.9.8")`` declares the jambonz release the answer is for: a verb or a
    property that release does not accept raises :class:`~jambonz_webhooks.targets.ReleaseError`
    where it is added, naming the release that added it (see ``docs/verbs.md``). Without a
    target the whole catalogue is accepted and nothing is checked.

    A verb given as a model is kept as that model. A verb built by a method or given as a dict
    is validated against its model's fields straight into the dict jambonz receives
    (``{"verb": "say", "text": "Hello"}``), which is what ``verbs`` then holds. Its hooks are
    validated but written out only when the answer is encoded, for the app's mount prefix: an
    absolute URL stays as it is, a path, a handler or a hook object waits as a
    :class:`~jambonz_webhooks.hooks.PendingHook` (``PendingHook(menu)`` for ``menu``).
    """

    __slots__ = ("_target", "_verbs")

    def __init__(self, verbs: Iterable[VerbLike] = (), *, target: str | Release | None = None) -> None:
        # An empty WebhookResponse is the common start of a fluent answer: no list comprehension for it.
        self._verbs: list[Verb | dict[str, Any]] = [to_verb(verb) for verb in verbs] if verbs else []
        if target is not None:
            # Only a targeted response checks its verbs (its class's methods do): an untargeted
            # one keeps the plain methods, at no cost.
            release = as_release(target)
            assert release is not None
            self._target = release
            self.__class__ = _TargetedResponse
            release.check(self._verbs)

    @property
    def target(self) -> Release | None:
        """The jambonz release this answer is for (None: any; nothing is checked)."""
        return None

    def add(self, *verbs: VerbLike) -> Self:
        """Append verbs given as models or dicts."""
        self._verbs.extend(to_verb(verb) for verb in verbs)
        return self

    say = verb_method(verbs.Say)
    play = verb_method(verbs.Play)
    pause = verb_method(verbs.Pause)
    gather = verb_method(verbs.Gather)
    dial = verb_method(verbs.Dial)
    hangup = verb_method(verbs.Hangup)
    redirect = verb_method(verbs.Redirect)
    config = verb_method(verbs.Config)
    tag = verb_method(verbs.Tag)
    listen = verb_method(verbs.Listen)
    stream = verb_method(verbs.Stream)
    transcribe = verb_method(verbs.Transcribe)
    dub = verb_method(verbs.Dub)
    dtmf = verb_method(verbs.Dtmf)
    answer = verb_method(verbs.Answer)
    alert = verb_method(verbs.Alert)
    message = verb_method(verbs.Message)
    conference = verb_method(verbs.Conference)
    room = verb_method(verbs.Room)
    enqueue = verb_method(verbs.Enqueue)
    dequeue = verb_method(verbs.Dequeue)
    leave = verb_method(verbs.Leave)
    sip_decline = verb_method(verbs.SipDecline)
    sip_refer = verb_method(verbs.SipRefer)
    sip_request = verb_method(verbs.SipRequest)
    transfer = verb_method(verbs.Transfer)
    rest_dial = verb_method(verbs.RestDial)
    llm = verb_method(verbs.Llm)
    s2s = verb_method(verbs.S2s)
    openai_s2s = verb_method(verbs.OpenaiS2s)
    google_s2s = verb_method(verbs.GoogleS2s)
    deepgram_s2s = verb_method(verbs.DeepgramS2s)
    elevenlabs_s2s = verb_method(verbs.ElevenlabsS2s)
    ultravox_s2s = verb_method(verbs.UltravoxS2s)
    gptlive_s2s = verb_method(verbs.GptliveS2s)
    qwen_s2s = verb_method(verbs.QwenS2s)
    nova_s2s = verb_method(verbs.NovaS2s)
    voicelive_s2s = verb_method(verbs.VoiceliveS2s)
    agent = verb_method(verbs.Agent)
    dialogflow = verb_method(verbs.Dialogflow)

    @property
    def verbs(self) -> list[Verb | dict[str, Any]]:
        """The verbs so far (the list itself: appending to it appends to the response)."""
        return self._verbs

    def __iter__(self) -> Iterator[Verb | dict[str, Any]]:
        return iter(self._verbs)

    def __len__(self) -> int:
        return len(self._verbs)

    def __repr__(self) -> str:
        return f"WebhookResponse({self._verbs!r})"

    def to_json(self, context: HookContext | None = None) -> bytes:
        """Encode as the JSON array jambonz expects; hooks are resolved with ``context``."""
        return encode_verbs(self._verbs, context)

    def to_list(self, context: HookContext | None = None) -> list[dict[str, Any]]:
        """Return the verbs as the JSON-ready dicts jambonz expects."""
        data: list[dict[str, Any]] = pydantic_core.from_json(self.to_json(context))
        return data


Response = WebhookResponse
"""The same class as :class:`WebhookResponse`, under its earlier name.

Kept so that code written against the first releases keeps working; new code should prefer
``WebhookResponse``, which does not collide with Starlette's and FastAPI's ``Response`` in a
module that imports both (see docs/names.md).
"""


class _TargetedResponse(WebhookResponse):
    """A :class:`WebhookResponse` with a target: each verb is checked against it as it is added."""

    __slots__ = ()
    _target: Release  # always set on this class

    @property
    def target(self) -> Release | None:
        """The jambonz release this answer is for."""
        return self._target

    def add(self, *verbs: VerbLike) -> Self:
        """Append verbs given as models or dicts, each checked against the target."""
        checked = [to_verb(verb) for verb in verbs]
        self._target.check(checked)
        self._verbs.extend(checked)
        return self


def _checked_method(method: Callable[..., WebhookResponse]) -> Callable[..., WebhookResponse]:
    """``method`` that then checks the verb it appended against the response's target."""

    def append(response: _TargetedResponse, /, *args: Any, **fields: Any) -> WebhookResponse:
        method(response, *args, **fields)
        target = response._target
        refused = target.refusals_of(response._verbs[-1])
        if refused:
            del response._verbs[-1]  # a refused verb is not part of the answer
            raise ReleaseError(refused[0], target)
        return response

    append.__name__ = append.__qualname__ = method.__name__
    append.__doc__ = method.__doc__
    append.verb_model = method.verb_model  # type: ignore[attr-defined]
    return append


for _name, _method in list(vars(WebhookResponse).items()):
    if hasattr(_method, "verb_model"):
        setattr(_TargetedResponse, _name, _checked_method(_method))


def collect_verbs(result: object) -> list[Verb | dict[str, Any]]:
    """Turn what a handler returned into a list of verbs.

    Accepts a :class:`WebhookResponse`, a verb model, a verb dict, an iterable of these, or None.
    """
    if result is None:
        return []
    if isinstance(result, WebhookResponse):
        return result._verbs
    if isinstance(result, Verb | Mapping):
        return [to_verb(result)]
    if isinstance(result, list | tuple):
        return [to_verb(verb) for verb in result]
    raise TypeError(
        "a hook handler must return a WebhookResponse, a verb, a list of verbs or None, "
        f"not {type(result).__name__}"
    )


def encode_verbs(verbs: list[Verb | dict[str, Any]], context: HookContext | None = None) -> bytes:
    """Write verbs as compact JSON: jambonz's field names, unset fields left out.

    Their hooks are written out here, for ``context`` (the request being answered; the root of
    an app naming no handler when None).

    Raises:
        UnroutedHandlerError: a verb names a handler no route of the app serves.

    """
    if context is None:
        context = NO_CONTEXT
    try:
        return pydantic_core.to_json(
            verbs, exclude_none=True, by_alias=True, context=context, fallback=context.write_pending
        )
    except pydantic_core.PydanticSerializationError:
        reraise_unrouted()
        raise
