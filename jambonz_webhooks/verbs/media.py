"""Verbs that play audio to the caller: ``say``, ``play``, ``pause``."""

from typing import ClassVar, Literal

from pydantic import Field

from ..hooks import HookRef
from ._base import Part, Verb
from .components import Number, Synthesizer

__all__ = ["Pause", "Play", "PlayPrompt", "Say", "SayPrompt"]

# A verb nested in another (the prompt of a gather) is written without its "verb" key: jambonz
# rejects it there (npm @jambonz/verb-specifications, specs.json: "say: unknown property verb").
# So each nestable verb has a "prompt" base whose verb key is excluded, and the verb itself
# overrides that field to include it. A Say is then a SayPrompt too, and serializes as one, with
# no verb key, wherever a SayPrompt is expected.


class SayPrompt(Verb):
    """A ``say`` nested in another verb (``gather(say=...)``): :class:`Say` without its verb key."""

    verb_name: ClassVar[str] = "say"
    verb: Literal["say"] = Field(default="say", exclude=True)
    id: str | None = None
    text: str | list[str] | None = None
    instructions: str | None = None
    stream: bool | None = None
    loop: Number | str | None = None
    synthesizer: Part[Synthesizer] | None = None
    early_media: bool | None = None
    disable_tts_cache: bool | None = None
    close_stream_on_empty: bool | None = None


class Say(SayPrompt):
    """Speak text (or SSML) to the caller with text-to-speech."""

    schema_id: ClassVar[str] = "verbs/say"

    verb: Literal["say"] = "say"


class PlayPrompt(Verb):
    """A ``play`` nested in another verb (``gather(play=...)``): :class:`Play` without its verb key."""

    verb_name: ClassVar[str] = "play"
    verb: Literal["play"] = Field(default="play", exclude=True)
    id: str | None = None
    url: str | list[str]
    loop: Number | str | None = None
    early_media: bool | None = None
    seek_offset: Number | str | None = None
    timeout_secs: Number | str | None = None
    action_hook: HookRef | None = None


class Play(PlayPrompt):
    """Play one or more audio files from URLs."""

    schema_id: ClassVar[str] = "verbs/play"

    verb: Literal["play"] = "play"


class Pause(Verb):
    """Wait in silence for ``length`` seconds."""

    schema_id: ClassVar[str] = "verbs/pause"

    verb_name: ClassVar[str] = "pause"
    verb: Literal["pause"] = "pause"
    id: str | None = None
    length: Number
