"""Payloads with speech or digits: ``gather`` results, partial results, transcriptions, translations."""

from typing import Any, ClassVar, Literal

from pydantic import Field

from ..payload import CallInfo
from ._base import Detail, Number

__all__ = [
    "GatherPartial",
    "GatherReason",
    "GatherResult",
    "SpeechAlternative",
    "SpeechEvent",
    "SpeechResult",
    "SpeechVendor",
    "TranscribeResult",
    "TranscribeTranslation",
    "Translation",
]

GatherReason = Literal["speechDetected", "dtmfDetected", "timeout", "error", "stt-low-confidence"]


class SpeechAlternative(Detail):
    """One reading of what the caller said."""

    transcript: str | None = None
    confidence: Number | None = None


class SpeechVendor(Detail):
    """The speech vendor's own data about a result."""

    name: str | None = None
    evt: dict[str, Any] | list[dict[str, Any]] | None = None
    """The vendor's raw event; a list when jambonz joined several segments into one result."""


class SpeechResult(Detail):
    """A speech recognition result."""

    is_final: bool | None = None
    alternatives: list[SpeechAlternative] = Field(default_factory=list)
    language_code: str | None = None
    channel_tag: int | None = None
    vendor: SpeechVendor | None = None

    @property
    def transcript(self) -> str | None:
        """The most likely transcript, or None when there is none."""
        return self.alternatives[0].transcript if self.alternatives else None


class SpeechEvent(Detail):
    """A typed event of the speech vendor (an end of utterance, say) instead of a transcript."""

    type: str | None = None


class Translation(Detail):
    """A translated utterance."""

    # fs 0.9.8 (lib/tasks/transcribe.js) copies these from the vendor's event: they may be absent.
    channel: int | None = None
    language: str | None = None
    translation: str | None = None


class GatherResult(CallInfo):
    """The outcome of a ``gather``: digits pressed, speech heard, a timeout or an error."""

    schema_id: ClassVar[str] = "callbacks/gather"

    # Open enums: jambonz adds values over time, and a 422 would leave the caller in silence.
    reason: GatherReason | str | None = None
    digits: str | None = None
    speech: SpeechResult | None = None
    details: dict[str, Any] | None = None
    """What went wrong, when ``reason`` is ``error``."""

    @property
    def transcript(self) -> str | None:
        """The most likely transcript of the caller's speech, if any."""
        return self.speech.transcript if self.speech is not None else None


class GatherPartial(CallInfo):
    """An interim transcript while a ``gather`` still listens (its ``partialResultHook``)."""

    schema_id: ClassVar[str] = "callbacks/gather-partial"

    b3: str | None = None
    """The B3 tracing header of the request."""
    caller_name: str | None = None
    speech: SpeechResult | None = None

    @property
    def transcript(self) -> str | None:
        """The most likely transcript so far, if any."""
        return self.speech.transcript if self.speech is not None else None


class TranscribeResult(CallInfo):
    """A result of ``transcribe`` (its ``transcriptionHook``): a transcript or a vendor's speech event."""

    schema_id: ClassVar[str] = "callbacks/transcribe"
    schema_deviations: ClassVar[dict[str, str]] = {
        "stt_start_time": "jambonz sends integer seconds where the schema says string",
        "stt_stop_time": "jambonz sends integer seconds where the schema says string",
    }

    speech: SpeechResult | None = None
    speech_event: SpeechEvent | None = None
    # The schema says strings; jambonz sends the two times as integers (Unix seconds): both are taken.
    stt_latency_ms: str | None = None
    stt_talkspurts: str | None = None
    """JSON text: the caller's talk spurts, as pairs of Unix seconds."""
    stt_start_time: str | int | None = None
    stt_stop_time: str | int | None = None
    stt_usage: Any = None

    @property
    def transcript(self) -> str | None:
        """The most likely transcript, if this result has one."""
        return self.speech.transcript if self.speech is not None else None


class TranscribeTranslation(CallInfo):
    """A translation of what was transcribed (the ``translationHook`` of ``transcribe``)."""

    schema_id: ClassVar[str] = "callbacks/transcribe-translation"

    translation: Translation
