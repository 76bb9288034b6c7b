"""Verbs that send call audio elsewhere or mix audio in: ``listen``, ``stream``, ``transcribe``, ``dub``.

Each can also be nested in another verb (``dial(listen=...)``, ``config(transcribe=...)``,
``listen(transcribe=...)``); nested, it is written without its ``verb`` key, as in media.py.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeAlias

from pydantic import AfterValidator, Field, WithJsonSchema

from ..hooks import HookObject, HookRef
from ._base import Component, JsonObject, Part, Verb
from .components import Auth, Number, Recognizer

__all__ = [
    "BidirectionalAudio",
    "Dub",
    "DubNested",
    "Listen",
    "ListenNested",
    "ListenOptions",
    "Stream",
    "StreamNested",
    "Transcribe",
    "TranscribeNested",
]


def _url_only(hook: Any) -> Any:
    if isinstance(hook, HookObject):
        raise ValueError(
            "transcribe: transcriptionHook and translationHook are URLs or paths, not hook objects"
        )
    return hook


if TYPE_CHECKING:
    UrlHook: TypeAlias = str | Callable[..., Any]
else:
    # transcribe's schema types its hooks as URL strings: a HookRef (so a path still gets the
    # mount prefix, and a handler its route) that refuses the {url, method, ...} object form.
    UrlHook = Annotated[
        HookRef, AfterValidator(_url_only), WithJsonSchema({"type": "string", "format": "uri"})
    ]


class BidirectionalAudio(Component):
    """Whether and how the websocket peer may send audio back into the call."""

    schema_id: ClassVar[str] = "components/bidirectionalAudio"

    enabled: bool | None = None
    streaming: bool | None = None
    sample_rate: Number | None = None


class TranscribeNested(Verb):
    """A ``transcribe`` inside ``dial``, ``listen`` or ``config``: :class:`Transcribe` sans verb key."""

    verb_name: ClassVar[str] = "transcribe"
    verb: Literal["transcribe"] = Field(default="transcribe", exclude=True)
    id: str | None = None
    enable: bool | None = None
    transcription_hook: UrlHook | None = None
    translation_hook: UrlHook | None = None
    recognizer: Part[Recognizer] | None = None
    early_media: bool | None = None
    channel: Literal[1, 2] | None = None


class Transcribe(TranscribeNested):
    """Transcribe the call in the background, posting results to ``transcription_hook``."""

    schema_id: ClassVar[str] = "verbs/transcribe"

    verb: Literal["transcribe"] = "transcribe"


class _AudioForkSettings(Component):
    """The settings of an audio fork, shared by ``listen``/``stream`` and ``config``'s listen."""

    action_hook: HookRef | None = None
    ws_auth: Part[Auth] | None = None
    mix_type: Literal["mono", "stereo", "mixed"] | None = None
    metadata: JsonObject | None = None
    sample_rate: Number | None = None
    finish_on_key: str | None = None
    max_length: Number | None = None
    pass_dtmf: bool | None = None
    play_beep: bool | None = None
    disable_bidirectional_audio: bool | None = None
    bidirectional_audio: Part[BidirectionalAudio] | None = None
    timeout: Number | None = None
    transcribe: Part[TranscribeNested] | None = None
    early_media: bool | None = None
    channel: Number | None = None


class _AudioForkHead(Verb):
    verb: str = Field(default="", exclude=True)
    id: str | None = None
    url: str


# Bases in this order so that "verb", "id" and "url" come first in the JSON (pydantic puts the
# fields of the last base first).
class _AudioFork(_AudioForkSettings, _AudioForkHead):
    """The fields ``listen`` and its synonym ``stream`` share."""


class ListenNested(_AudioFork):
    """A ``listen`` inside ``dial``: :class:`Listen` without its verb key."""

    verb_name: ClassVar[str] = "listen"
    verb: Literal["listen"] = Field(default="listen", exclude=True)


class Listen(ListenNested):
    """Fork the call's audio to a websocket, which may also send audio back."""

    schema_id: ClassVar[str] = "verbs/listen"

    verb: Literal["listen"] = "listen"


class StreamNested(_AudioFork):
    """A ``stream`` inside ``dial``: :class:`Stream` without its verb key."""

    verb_name: ClassVar[str] = "stream"
    verb: Literal["stream"] = Field(default="stream", exclude=True)


class Stream(StreamNested):
    """Same as :class:`Listen` under the name jambonz also accepts for it."""

    schema_id: ClassVar[str] = "verbs/stream"

    verb: Literal["stream"] = "stream"


class _ListenOptionsHead(Component):
    enable: bool
    id: str | None = None
    url: str | None = None


class ListenOptions(_AudioForkSettings, _ListenOptionsHead):
    """Background listen as ``config`` sets it: ``enable`` starts or stops it, the rest is :class:`Listen`'s.

    jambonz's validator requires ``enable`` here (``enable: false`` stops a running listen),
    so ``url`` is optional and ``enable`` is not.
    """


class DubNested(Verb):
    """A ``dub`` in ``dial``'s ``dub`` list (a track the callee hears): :class:`Dub` without its verb key."""

    verb_name: ClassVar[str] = "dub"
    verb: Literal["dub"] = Field(default="dub", exclude=True)
    id: str | None = None
    action: Literal["addTrack", "removeTrack", "silenceTrack", "playOnTrack", "sayOnTrack"]
    track: str
    play: str | None = None
    say: str | JsonObject | None = None
    loop: bool | None = None
    gain: Number | str | None = None


class Dub(DubNested):
    """Add, remove, silence or fill an extra audio track mixed into the caller's audio."""

    schema_id: ClassVar[str] = "verbs/dub"

    verb: Literal["dub"] = "dub"
