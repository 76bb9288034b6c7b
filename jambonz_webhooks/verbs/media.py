"""Verbs that play audio to the caller: ``say``, ``play``, ``pause``."""

from __future__ import annotations

from typing import ClassVar, Literal

from ..hooks import HookRef
from ._base import Part, Verb
from .components import Number, Synthesizer

__all__ = ["Pause", "Play", "Say"]


class Say(Verb):
    """Speak text (or SSML) to the caller with text-to-speech."""

    verb_name: ClassVar[str] = "say"
    verb: Literal["say"] = "say"
    id: str | None = None
    text: str | list[str] | None = None
    instructions: str | None = None
    stream: bool | None = None
    loop: Number | str | None = None
    synthesizer: Part[Synthesizer] | None = None
    early_media: bool | None = None
    disable_tts_cache: bool | None = None
    close_stream_on_empty: bool | None = None


class Play(Verb):
    """Play one or more audio files from URLs."""

    verb_name: ClassVar[str] = "play"
    verb: Literal["play"] = "play"
    id: str | None = None
    url: str | list[str]
    loop: Number | str | None = None
    early_media: bool | None = None
    seek_offset: Number | str | None = None
    timeout_secs: Number | str | None = None
    action_hook: HookRef | None = None


class Pause(Verb):
    """Wait in silence for ``length`` seconds."""

    verb_name: ClassVar[str] = "pause"
    verb: Literal["pause"] = "pause"
    id: str | None = None
    length: Number
