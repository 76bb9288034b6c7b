"""The ``gather`` verb: collect digits or speech, then call its action hook."""

from typing import ClassVar, Literal

from ..hooks import HookRef
from ._base import Part, Verb
from .components import ActionHookDelayAction, FillerNoise, Number, Recognizer
from .media import PlayPrompt, SayPrompt

__all__ = ["Gather"]


class Gather(Verb):
    """Collect DTMF digits and/or speech, optionally while prompting with a nested say or play.

    jambonz posts the result to ``action_hook`` as a :class:`~jambonz_webhooks.GatherResult`.
    """

    schema_id: ClassVar[str] = "verbs/gather"

    verb_name: ClassVar[str] = "gather"
    verb: Literal["gather"] = "gather"
    id: str | None = None
    action_hook: HookRef | None = None
    input: list[Literal["speech", "digits"]] | None = None
    finish_on_key: str | None = None
    num_digits: Number | None = None
    min_digits: Number | None = None
    max_digits: Number | None = None
    inter_digit_timeout: Number | None = None
    speech_timeout: Number | None = None
    timeout: Number | None = None
    partial_result_hook: HookRef | None = None
    listen_during_prompt: bool | None = None
    dtmf_bargein: bool | None = None
    bargein: bool | None = None
    min_bargein_word_count: Number | None = None
    recognizer: Part[Recognizer] | None = None
    say: Part[SayPrompt] | None = None
    play: Part[PlayPrompt] | None = None
    filler_noise: Part[FillerNoise] | None = None
    action_hook_delay_action: Part[ActionHookDelayAction] | None = None
