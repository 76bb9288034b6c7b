"""Typed models of jambonz verbs and of the components they are built from."""

from ._base import Component, Part, Verb, jambonz_name
from .components import (
    ActionHookDelayAction,
    Amd,
    AmdTimers,
    Auth,
    FillerNoise,
    Recognizer,
    RecognizerHint,
    Synthesizer,
    Target,
    TargetFrom,
    Vad,
)
from .control import BargeIn, Config, Hangup, NoiseIsolation, Redirect, Tag, TtsStream, TurnTaking
from .dial import Dial
from .gather import Gather
from .media import Pause, Play, PlayPrompt, Say, SayPrompt

VERB_MODELS: dict[str, type[Verb]] = {
    model.verb_name: model for model in (Say, Play, Pause, Gather, Dial, Hangup, Redirect, Tag, Config)
}
"""Every typed verb by the name jambonz gives it."""

__all__ = [
    "VERB_MODELS",
    "ActionHookDelayAction",
    "Amd",
    "AmdTimers",
    "Auth",
    "BargeIn",
    "Component",
    "Config",
    "Dial",
    "FillerNoise",
    "Gather",
    "Hangup",
    "NoiseIsolation",
    "Part",
    "Pause",
    "Play",
    "PlayPrompt",
    "Recognizer",
    "RecognizerHint",
    "Redirect",
    "Say",
    "SayPrompt",
    "Synthesizer",
    "Tag",
    "Target",
    "TargetFrom",
    "TtsStream",
    "TurnTaking",
    "Vad",
    "Verb",
    "jambonz_name",
]
