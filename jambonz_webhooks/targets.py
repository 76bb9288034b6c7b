"""The jambonz release an app targets, and the verbs and properties that release refuses.

jambonz has two lines of releases: the open-source feature server (0.9.x) and the commercial
one (10.x, 11.x). The framework models the whole catalogue of jambonz's schemas, which is the
commercial line's; an open-source server refuses what its validator does not know, and fails
the call. Declaring the target (``JambonzApp(target="0.9.8")``, ``WebhookResponse(target="0.9.8")``)
makes such a verb or property an error where the answer is built, naming the release that
added it. Without a target nothing is checked, at no cost.

The facts, each with its source:

- The open-source line: jambonz-feature-server 0.9.8 validates every verb of an answer with
  npm @jambonz/verb-specifications 0.1.13 (its package-lock.json; lib/tasks/make_task.js calls
  ``validateVerb``), which refuses a verb its ``specs.json`` has no entry for (``invalid
  instruction``) and, at every depth it follows (``#name`` references), a property that entry
  does not list (``unknown property``). ``tests/test_targets.py`` runs that package with node
  and holds the tables below to it.
- The commercial line: the release that added a verb is the ``minVersion`` of its schema
  (jambonz/schema ``verbs/*.schema.json``); the schemas give no version per property.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import BaseModel

from .verbs._base import jambonz_name

__all__ = [
    "COMMERCIAL_VERBS_ADDED",
    "OPEN_SOURCE_REFUSED_PROPERTIES",
    "OPEN_SOURCE_REFUSED_VERBS",
    "Refusal",
    "Release",
    "ReleaseError",
    "as_release",
]

# Verbs no open-source release accepts: @jambonz/verb-specifications 0.1.13 (what
# jambonz-feature-server 0.9.8 runs) has no specs.json entry for them and maps none of them to
# llm in its verbTransforms.
OPEN_SOURCE_REFUSED_VERBS: Final = frozenset(
    {"agent", "transfer", "room", "voicelive_s2s", "nova_s2s", "gptlive_s2s", "qwen_s2s"}
)
"""Verbs jambonz-feature-server 0.9.8's validator refuses (``invalid instruction``)."""

# The commercial release that added each verb after the open-source line: the schema's
# minVersion (jambonz/schema verbs/*.schema.json, as PyPI jambonz-python-sdk 0.4.0 ships them;
# schema 0.4.9 says 11.1.0 for gptlive_s2s, and has no nova_s2s or voicelive_s2s). room (schema:
# 0.9.6, which 0.9.8's validator contradicts) and qwen_s2s (schema: 0.4.0, the schema package's
# own version) name no commercial release: every commercial target accepts them.
COMMERCIAL_VERBS_ADDED: Final[Mapping[str, tuple[int, int, int]]] = {
    "agent": (10, 1, 0),
    "s2s": (10, 1, 0),
    "openai_s2s": (10, 1, 0),
    "google_s2s": (10, 1, 0),
    "deepgram_s2s": (10, 1, 0),
    "elevenlabs_s2s": (10, 1, 0),
    "ultravox_s2s": (10, 1, 0),
    "transfer": (10, 3, 0),
    "gptlive_s2s": (11, 0, 4),
    "voicelive_s2s": (11, 1, 0),
    "nova_s2s": (11, 1, 7),
}
"""The commercial release that added each verb, where its schema names one."""

# How 0.9.8's validator names a verb (its verbTransforms): these are checked as llm or listen.
_SPEC_OF_VERB: Final = {
    "stream": "listen",
    "s2s": "llm",
    "openai_s2s": "llm",
    "google_s2s": "llm",
    "deepgram_s2s": "llm",
    "elevenlabs_s2s": "llm",
    "ultravox_s2s": "llm",
    "microsoft_s2s": "llm",
    "voiceagent_s2s": "llm",
}

# Properties our models write that @jambonz/verb-specifications 0.1.13's specs.json does not
# list, by its entry names (a verb's, or a part's: "recognizer", "googleOptions", ...).
OPEN_SOURCE_REFUSED_PROPERTIES: Final[Mapping[str, frozenset[str]]] = {
    "assemblyAiOptions": frozenset({"languageCodes", "voiceFocus"}),
    "conference": frozenset({"stream"}),
    "dial": frozenset({"codecs"}),
    "dialogflow": frozenset({"deployment", "sessionId", "toolHook"}),
    "googleOptions": frozenset({"customVocabulary", "mode"}),
    "houndifyOptions": frozenset({"eoqThreshold", "vadStopThreshold"}),
    "listenOptions": frozenset({"actionHook", "channel", "earlyMedia", "finishOnKey", "id", "transcribe"}),
    "llm": frozenset(
        {"cancelOnBargeIn", "cancelOnResponseTimeout", "handoff", "hangup", "responseTimeoutMs"}
    ),
    "noiseIsolation": frozenset({"auth", "label"}),
    "openaiOptions": frozenset({"delay", "keywords", "languages", "vadMode", "vadSilenceMs", "vadVoiceMs"}),
    "recognizer": frozenset(
        {"gradiumOptions", "mistralOptions", "modulateOptions", "xaiOptions", "zoomOptions"}
    ),
    "rest:dial": frozenset({"codecs"}),
    "sm_transcriptFilteringConfig": frozenset({"replacements"}),
    "sm_transcriptionConfig": frozenset({"model"}),
    "sonioxOptions": frozenset(
        {
            "context",
            "enableLanguageIdentification",
            "enableSpeakerDiarization",
            "endpointSensitivity",
            "languageHints",
            "maxEndpointDelayMs",
            "maxNonFinalTokensDurationMs",
        }
    ),
    "speechmaticsOptions": frozenset({"audio_events_config"}),
    "transcribe": frozenset({"enable"}),
    "transcribeOptions": frozenset({"channel", "earlyMedia", "id", "translationHook"}),
}
"""Properties jambonz-feature-server 0.9.8's validator refuses (``unknown property``), by part."""

# Where 0.9.8's validator follows a property into another entry (specs.json's "#name" values),
# kept only where the walk can reach a refused property.
_NESTED: Final[Mapping[str, Mapping[str, str]]] = {
    "amd": {"recognizer": "recognizer"},
    "config": {
        "recognizer": "recognizer",
        "listen": "listenOptions",
        "stream": "listenOptions",
        "transcribe": "transcribeOptions",
        "amd": "amd",
        "noiseIsolation": "noiseIsolation",
    },
    "dial": {"listen": "listen", "stream": "listen", "transcribe": "transcribe", "amd": "amd"},
    "gather": {"recognizer": "recognizer"},
    "listen": {"transcribe": "transcribe"},
    "recognizer": {
        "googleOptions": "googleOptions",
        "sonioxOptions": "sonioxOptions",
        "assemblyAiOptions": "assemblyAiOptions",
        "speechmaticsOptions": "speechmaticsOptions",
        "openaiOptions": "openaiOptions",
        "houndifyOptions": "houndifyOptions",
    },
    "rest:dial": {"amd": "amd"},
    "sm_transcriptionConfig": {"transcript_filtering_config": "sm_transcriptFilteringConfig"},
    "speechmaticsOptions": {"transcription_config": "sm_transcriptionConfig"},
    "transcribe": {"recognizer": "recognizer"},
    "transcribeOptions": {"recognizer": "recognizer"},
}

_OPEN_SOURCE_CHECKED = "0.9.8"
_RELEASE = re.compile(r"(\d+)(?:\.(\d+|x))?(?:\.(\d+|x))?")
_ANY = 1 << 30  # "11.x": every release of the line


class ReleaseError(ValueError):
    """A verb or property the target release does not accept: jambonz would fail the call.

    ``verb`` is the verb's name, ``property`` the refused property's path inside it (``""`` for
    the verb itself), ``target`` the release targeted, ``added`` the release that added it
    (None where no source names one).
    """

    def __init__(self, refusal: Refusal, target: Release) -> None:
        self.verb = refusal.verb
        self.property = refusal.property
        self.target = target.release
        self.added = refusal.added
        super().__init__(refusal.describe(target))


@dataclass(frozen=True)
class Refusal:
    """One thing a target refuses in an answer: a verb, or a property of one (its dotted path)."""

    verb: str
    property: str
    added: str | None

    def describe(self, target: Release) -> str:
        """The refusal as a sentence naming the target and, where known, the release that added it."""
        what = (
            f"the verb {self.verb}" if not self.property else f"the property {self.property} of {self.verb}"
        )
        if self.added is not None:
            since = f"added in jambonz {self.added}"
        else:
            since = f"{_OPEN_SOURCE_CHECKED}'s validator does not know it; the commercial line has it"
        return f"jambonz {target.release} does not accept {what} ({since}): it would fail the call"


@dataclass(frozen=True)
class Release:
    """A jambonz release an answer is meant for: ``Release("0.9.8")``, ``Release("11.x")``.

    An open-source release (0.9.x) refuses what jambonz-feature-server 0.9.8's validator
    refuses (an older 0.9 release may refuse more; 0.9.8's is the one checked); a commercial
    release (10 and up) refuses the verbs added after it.
    """

    release: str
    version: tuple[int, int, int] = field(init=False, repr=False, compare=False)
    """The release as numbers (an ``x`` is every release of its line)."""

    def __post_init__(self) -> None:
        # Parsed once: a target that is no release fails where it is declared.
        object.__setattr__(self, "version", self._parse())

    def _parse(self) -> tuple[int, int, int]:
        match = _RELEASE.fullmatch(self.release.strip())
        if match is None:
            raise ValueError(f"not a jambonz release: {self.release!r} (e.g. '0.9.8', '11.1', '11.x')")
        parts = [_ANY if part == "x" else int(part or 0) for part in match.groups()]
        version = (parts[0], parts[1], parts[2])
        if version[0] == 0 and version[1] != 9:
            raise ValueError(f"jambonz {self.release}: only the 0.9 open-source line and 10 and up are known")
        if 0 < version[0] < 10:
            raise ValueError(
                f"not a jambonz release: {self.release!r} (open source is 0.9.x, commercial 10 and up)"
            )
        return version

    @property
    def open_source(self) -> bool:
        """Whether the target is an open-source (0.9.x) release."""
        return self.version[0] == 0

    def refusals(self, verbs: Iterable[Any]) -> list[Refusal]:
        """What this release refuses in ``verbs`` (models, wire dicts, or the JSON jambonz gets)."""
        return [refusal for verb in verbs for refusal in self.refusals_of(verb)]

    def check(self, verbs: Iterable[Any]) -> None:
        """Raise :class:`ReleaseError` for the first verb or property this release refuses."""
        for verb in verbs:
            refused = self.refusals_of(verb)
            if refused:
                raise ReleaseError(refused[0], self)

    def refusals_of(self, verb: Any) -> list[Refusal]:
        """What this release refuses in one verb (empty: nothing)."""
        if isinstance(verb, Mapping):
            name = verb.get("verb")
            if name is None and len(verb) == 1:  # {"say": {...}}
                ((name, verb),) = verb.items()
        else:
            name = getattr(type(verb), "verb_name", None)  # a verb model
        if not isinstance(name, str):
            return []
        added = COMMERCIAL_VERBS_ADDED.get(name)
        if self.version[0] != 0:
            if added is None or added <= self.version:
                return []
        elif name not in OPEN_SOURCE_REFUSED_VERBS:
            spec = _SPEC_OF_VERB.get(name, name)
            paths: list[str] = []
            if spec in OPEN_SOURCE_REFUSED_PROPERTIES or spec in _NESTED:
                _refused_properties(spec, verb, "", paths)
            return [Refusal(name, path, None) for path in paths]
        return [Refusal(name, "", None if added is None else ".".join(map(str, added)))]


def as_release(target: str | Release | None) -> Release | None:
    """``target`` as a :class:`Release` (None: no target, the whole catalogue accepted)."""
    if target is None or isinstance(target, Release):
        return target
    if isinstance(target, str):
        return _release_named(target)
    raise TypeError(f"a target is a jambonz release such as '0.9.8', not {type(target).__name__}")


@functools.lru_cache(maxsize=64)
def _release_named(name: str) -> Release:
    """The release ``name`` names, parsed once (``WebhookResponse(target="0.9.8")`` may run per request)."""
    return Release(name)


def _fields(value: Any) -> Mapping[str, Any] | None:
    """A part's properties by their JSON names: a dict as it is, a model by its set fields."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, BaseModel):
        names = type(value).model_fields
        return {
            names[field].serialization_alias or names[field].alias or jambonz_name(field): getattr(
                value, field
            )
            for field in value.model_fields_set
            if field in names and getattr(value, field) is not None
        }
    return None


def _refused_properties(spec: str, value: Any, prefix: str, found: list[str]) -> None:
    """Add to ``found`` the dotted paths under ``value`` (specs.json's ``spec``) that 0.9.8 refuses."""
    fields = _fields(value)
    if fields is None:
        return
    refused = OPEN_SOURCE_REFUSED_PROPERTIES.get(spec, frozenset())
    nested = _NESTED.get(spec, {})
    for key, item in fields.items():
        if key in refused:
            found.append(prefix + key)
        elif key in nested:
            for part in item if isinstance(item, list | tuple) else (item,):
                _refused_properties(nested[key], part, f"{prefix}{key}.", found)
