"""The ``dial`` verb: place an outbound call and bridge it to the caller."""

from typing import ClassVar, Literal

from pydantic import Field

from ..hooks import HookRef
from ._base import JsonObject, Part, Verb
from .audio import DubNested, ListenNested, StreamNested, TranscribeNested
from .components import Amd, Number, Target

__all__ = ["Dial"]


class Dial(Verb):
    """Call one or more targets (the first to answer wins) and connect them to the caller.

    jambonz posts the outcome to ``action_hook`` as a :class:`~jambonz_webhooks.DialResult`.
    """

    schema_id: ClassVar[str] = "verbs/dial"

    verb_name: ClassVar[str] = "dial"
    verb: Literal["dial"] = "dial"
    id: str | None = None
    target: list[Part[Target]] = Field(min_length=1)
    action_hook: HookRef | None = None
    on_hold_hook: HookRef | None = None
    answer_on_bridge: bool | None = None
    caller_id: str | None = None
    caller_name: str | None = None
    confirm_hook: HookRef | None = None
    refer_hook: HookRef | None = None
    dial_music: str | None = None
    dtmf_capture: list[str] | JsonObject | None = None
    dtmf_hook: HookRef | None = None
    headers: dict[str, str | Number] | None = None
    anchor_media: bool | None = None
    codecs: list[str] | None = Field(default=None, min_length=1)
    exit_media_path: bool | None = None
    boost_audio_signal: Number | str | None = None
    listen: Part[ListenNested] | None = None
    stream: Part[StreamNested] | None = None
    transcribe: Part[TranscribeNested] | None = None
    time_limit: Number | None = None
    timeout: Number | None = None
    proxy: str | None = None
    amd: Part[Amd] | None = None
    dub: list[Part[DubNested]] | None = None
    tag: JsonObject | None = None
    forward_pai: bool | None = None
    srtp_encryption: Literal["sdes", "dtls"] | None = None
