"""The ``recognizer`` component and the option block of every speech-to-text vendor it can carry.

Field names and rules follow jambonz's schemas (``components/recognizer*.schema.json``). Most
option blocks are camelCase like the rest of jambonz; a few keys are written the way the vendor's
own API spells them (``turn_detection``, Speechmatics' ``transcription_config``), and those keep
their snake_case on the wire.
"""

from typing import ClassVar, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from ._base import Component, JsonList, JsonObject, Part
from .components import Number, Vad

__all__ = [
    "AssemblyAiOptions",
    "AwsOptions",
    "AzureOptions",
    "CustomOptions",
    "DeepgramOptions",
    "ElevenlabsOptions",
    "GladiaOptions",
    "GoogleOptions",
    "GradiumOptions",
    "GradiumTurnDetection",
    "HoundifyOptions",
    "IbmOptions",
    "MistralOptions",
    "MistralTurnDetection",
    "ModulateOptions",
    "NvidiaOptions",
    "OpenaiOptions",
    "OpenaiPromptTemplates",
    "OpenaiTurnDetection",
    "Recognizer",
    "RecognizerHint",
    "SonioxContext",
    "SonioxContextEntry",
    "SonioxOptions",
    "SonioxStorage",
    "SonioxTranslationTerm",
    "SpeechmaticsAudioEventsConfig",
    "SpeechmaticsAudioFilteringConfig",
    "SpeechmaticsConversationConfig",
    "SpeechmaticsOptions",
    "SpeechmaticsPunctuationOverrides",
    "SpeechmaticsReplacement",
    "SpeechmaticsSpeakerDiarizationConfig",
    "SpeechmaticsTranscriptFilteringConfig",
    "SpeechmaticsTranscriptionConfig",
    "SpeechmaticsTranslationConfig",
    "XaiOptions",
    "ZoomOptions",
    "ZoomTurnDetection",
]


def _vendor_name(name: str) -> str:
    # ``from_`` is the only Python name here that is not the JSON key itself.
    return name.removesuffix("_")


class _VendorSpelled(Component):
    """Base of the blocks whose JSON keys are the vendor's snake_case, written as they are in Python."""

    # validate_by_name is inherited; it is repeated for the mypy plugin, which does not see it.
    model_config = ConfigDict(alias_generator=_vendor_name, validate_by_name=True)


# Vendor option blocks, one per schema file, in the order of the files.


class AssemblyAiOptions(Component):
    """Settings for AssemblyAI streaming recognition (vendor ``assemblyai``)."""

    schema_id: ClassVar[str] = "components/recognizer-assemblyAiOptions"

    api_key: str | None = None
    service_version: Literal["v2", "v3"] | None = None
    speech_model: str | None = None
    format_turns: bool | None = None
    end_of_turn_confidence_threshold: Number | None = None
    min_end_of_turn_silence_when_confident: Number | None = None
    max_turn_silence: Number | None = None
    min_turn_silence: Number | None = None
    keyterms: list[str] | None = None
    prompt: str | None = None
    language_detection: bool | None = None
    vad_threshold: Number | None = None
    inactivity_timeout: Number | None = None
    language_codes: list[str] | None = None
    voice_focus: Literal["near-field", "far-field"] | None = None


class AwsOptions(Component):
    """Settings for Amazon Transcribe: credentials, region, vocabularies and PII tagging."""

    schema_id: ClassVar[str] = "components/recognizer-awsOptions"

    access_key: str | None = None
    secret_key: str | None = None
    security_token: str | None = None
    region: str | None = None
    vocabulary_name: str | None = None
    vocabulary_filter_name: str | None = None
    vocabulary_filter_method: Literal["remove", "mask", "tag"] | None = None
    language_model_name: str | None = None
    pii_entity_types: list[str] | None = None
    pii_identify_entities: bool | None = None


class AzureOptions(Component):
    """Settings for Microsoft Azure speech recognition (vendor ``microsoft``)."""

    schema_id: ClassVar[str] = "components/recognizer-azureOptions"

    speech_segmentation_silence_timeout_ms: Number | None = None
    post_processing: str | None = None
    audio_logging: bool | None = None
    language_id_mode: Literal["AtStart", "Continuous"] | None = None
    speech_recognition_mode: Literal["CONVERSATION", "DICTATION", "INTERACTIVE"] | None = None


class CustomOptions(Component):
    """Connection settings for a self-hosted speech recognizer (vendor ``custom``)."""

    schema_id: ClassVar[str] = "components/recognizer-customOptions"

    auth_token: str | None = None
    uri: str | None = None
    sample_rate: Number | None = None
    options: JsonObject | None = None


class DeepgramOptions(Component):
    """Settings for Deepgram recognition: model, formatting, endpointing, redaction and more."""

    schema_id: ClassVar[str] = "components/recognizer-deepgramOptions"

    deepgram_stt_uri: str | None = None
    deepgram_stt_use_tls: bool | None = None
    api_key: str | None = None
    tier: str | None = None
    model: str | None = None
    custom_model: str | None = None
    version: str | None = None
    punctuate: bool | None = None
    smart_formatting: bool | None = None
    no_delay: bool | None = None
    profanity_filter: bool | None = None
    redact: Literal["pci", "numbers", "true", "ssn"] | None = None
    diarize: bool | None = None
    diarize_version: str | None = None
    ner: bool | None = None
    multichannel: bool | None = None
    alternatives: Number | None = None
    numerals: bool | None = None
    search: list[str] | None = None
    replace: list[str] | None = None
    keywords: list[str] | None = None
    keyterms: list[str] | None = None
    # True/False switches endpointing on or off; a number is the silence in milliseconds.
    endpointing: bool | Number | None = None
    utterance_end_ms: Number | None = None
    short_utterance: bool | None = None
    vad_turnoff: Number | None = None
    tag: str | None = None
    filler_words: bool | None = None
    eot_threshold: Number | None = Field(default=None, ge=0, le=1)
    eot_timeout_ms: Number | None = None
    mip_opt_out: bool | None = None
    entity_prompt: str | None = None
    eager_eot_threshold: Number | None = None
    language_hints: list[str] | None = None


class ElevenlabsOptions(Component):
    """Settings for ElevenLabs recognition: commit strategy, VAD tuning, timestamps."""

    schema_id: ClassVar[str] = "components/recognizer-elevenlabsOptions"

    include_timestamps: bool | None = None
    commit_strategy: Literal["manual", "vad"] | None = None
    vad_silence_threshold_secs: Number | None = None
    vad_threshold: Number | None = None
    min_speech_duration_ms: Number | None = None
    min_silence_duration_ms: Number | None = None
    enable_logging: bool | None = None


class GladiaOptions(Component):
    """Gladia session settings, passed to Gladia as given (any keys, in Gladia's own spelling)."""

    schema_id: ClassVar[str] = "components/recognizer-gladiaOptions"

    # The schema declares no properties and allows any: keys are kept and written verbatim.
    model_config = ConfigDict(extra="allow")


class GoogleOptions(Component):
    """Settings for Google Cloud Speech-to-Text (v1/v2 recognizers and the gemini models)."""

    schema_id: ClassVar[str] = "components/recognizer-googleOptions"

    mode: Literal["VERBATIM", "SMART"] | None = None
    custom_vocabulary: list[str] | None = Field(default=None, max_length=1000)
    service_version: Literal["v1", "v2"] | None = None
    recognizer_id: str | None = None
    parent_path: str | None = None
    speech_start_timeout_ms: Number | None = None
    speech_end_timeout_ms: Number | None = None
    enable_voice_activity_events: bool | None = None
    transcript_normalization: JsonList | None = None


class GradiumTurnDetection(_VendorSpelled):
    """When Gradium closes a turn: an inactivity probability read at a prediction horizon."""

    threshold: Number | None = Field(default=None, gt=0, lt=1)
    horizon: Number | None = Field(default=None, gt=0)


class GradiumOptions(Component):
    """Settings for Gradium streaming recognition: look-ahead, keywords and turn detection."""

    schema_id: ClassVar[str] = "components/recognizer-gradiumOptions"

    api_key: str | None = None
    model: str | None = None
    delay_in_frames: int | None = Field(default=None, ge=7, le=56)
    temp: Number | None = Field(default=None, ge=0, le=1.5)
    padding_bonus: Number | None = Field(default=None, ge=-4, le=4)
    keywords: list[str] | None = Field(default=None, max_length=500)
    keyword_boost: Number | None = None
    keyword_boost_id: str | None = None
    turn_detection: Part[GradiumTurnDetection] | None = Field(default=None, alias="turn_detection")
    gradium_stt_uri: str | None = None
    gradium_stt_use_tls: bool | None = None


class HoundifyOptions(Component):
    """Settings for Houndify recognition: location context, silence and VAD tuning, formatting."""

    schema_id: ClassVar[str] = "components/recognizer-houndifyOptions"

    request_info: JsonObject | None = None
    sample_rate: Number | None = None
    latitude: Number | None = None
    longitude: Number | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    time_zone: str | None = None
    domain: str | None = None
    audio_endpoint: str | None = None
    max_silence_seconds: Number | None = None
    max_silence_after_full_query_seconds: Number | None = None
    max_silence_after_partial_query_seconds: Number | None = None
    vad_sensitivity: Number | None = None
    vad_timeout: Number | None = None
    vad_mode: str | None = None
    vad_voice_ms: Number | None = None
    vad_silence_ms: Number | None = None
    vad_debug: bool | None = None
    audio_format: str | None = None
    enable_noise_reduction: bool | None = None
    enable_profanity_filter: bool | None = None
    enable_punctuation: bool | None = None
    enable_capitalization: bool | None = None
    confidence_threshold: Number | None = None
    enable_disfluency_filter: bool | None = None
    max_results: Number | None = None
    enable_word_timestamps: bool | None = None
    max_alternatives: Number | None = None
    partial_transcript_interval: Number | None = None
    session_timeout: Number | None = None
    connection_timeout: Number | None = None
    custom_vocabulary: list[str] | None = None
    language_model: str | None = None
    audio_query_absolute_timeout: Number | None = None
    eoq_threshold: Number | None = Field(default=None, ge=0, le=1)
    vad_stop_threshold: Number | None = Field(default=None, ge=0, le=1)


class IbmOptions(Component):
    """Settings for IBM Watson Speech-to-Text: credentials, region and customizations."""

    schema_id: ClassVar[str] = "components/recognizer-ibmOptions"

    stt_api_key: str | None = None
    stt_region: str | None = None
    tts_api_key: str | None = None
    tts_region: str | None = None
    instance_id: str | None = None
    model: str | None = None
    language_customization_id: str | None = None
    acoustic_customization_id: str | None = None
    base_model_version: str | None = None
    watson_metadata: str | None = None
    watson_learning_opt_out: bool | None = None


class MistralTurnDetection(Component):
    """When Voxtral ends a turn: speech-probability thresholds and silence limits."""

    start_threshold: Number | None = Field(default=None, ge=0, le=1)
    eager_end_threshold: Number | None = Field(default=None, ge=0, le=1)
    end_threshold: Number | None = Field(default=None, ge=0, le=1)
    min_silence_ms: int | None = Field(default=None, ge=0)
    end_timeout_ms: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _check_order(self) -> Self:
        # The schema states these orderings in prose; only the values given can be compared.
        start, eager, end = self.start_threshold, self.eager_end_threshold, self.end_threshold
        if start is not None and eager is not None and start < eager:
            raise ValueError("mistralOptions.turnDetection: start_threshold must be >= eager_end_threshold")
        if eager is not None and end is not None and eager <= end:
            raise ValueError("mistralOptions.turnDetection: eager_end_threshold must be > end_threshold")
        if start is not None and end is not None and start <= end:
            raise ValueError("mistralOptions.turnDetection: start_threshold must be > end_threshold")
        if (
            self.min_silence_ms is not None
            and self.end_timeout_ms is not None
            and self.end_timeout_ms < self.min_silence_ms
        ):
            raise ValueError("mistralOptions.turnDetection: end_timeout_ms must be >= min_silence_ms")
        return self


class MistralOptions(Component):
    """Settings for Mistral's Voxtral realtime recognition: delay, biasing, diarization, turns."""

    schema_id: ClassVar[str] = "components/recognizer-mistralOptions"

    api_key: str | None = None
    model: str | None = None
    streaming_delay_ms: int | None = None
    verbatim: bool | None = None
    context_bias: list[str] | None = Field(default=None, max_length=100)
    diarize: bool | None = None
    speaker_references: list[JsonObject] | None = Field(default=None, max_length=8)
    # Spelled out: other vendors write this key turn_detection, and names are shared package-wide.
    turn_detection: Part[MistralTurnDetection] | None = Field(default=None, alias="turnDetection")
    mistral_stt_uri: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        delay = self.streaming_delay_ms
        if delay is not None and not (80 <= delay <= 1200 or delay == 2400):
            raise ValueError("mistralOptions: streaming_delay_ms must be 80 to 1200, or 2400")
        if self.speaker_references is not None and self.diarize is not True:
            raise ValueError("mistralOptions: speaker_references needs diarize=True")
        return self


class ModulateOptions(Component):
    """Settings for Modulate recognition: endpointing and the per-utterance voice signals."""

    schema_id: ClassVar[str] = "components/recognizer-modulateOptions"

    api_key: str | None = None
    endpointing: bool | None = None
    emotion_signal: bool | None = None
    accent_signal: bool | None = None
    deepfake_signal: bool | None = None
    pii_phi_tagging: bool | None = None
    modulate_stt_uri: str | None = None
    modulate_stt_use_tls: bool | None = None


class NvidiaOptions(Component):
    """Settings for NVIDIA Riva recognition."""

    schema_id: ClassVar[str] = "components/recognizer-nvidiaOptions"

    riva_uri: str | None = None
    max_alternatives: Number | None = None
    profanity_filter: bool | None = None
    punctuation: bool | None = None
    word_time_offsets: bool | None = None
    verbatim_transcripts: bool | None = None
    custom_configuration: JsonObject | None = None


class OpenaiPromptTemplates(Component):
    """Templates jambonz fills in to build the OpenAI transcription prompt."""

    hints_template: str | None = None
    conversation_history_template: str | None = None


class OpenaiTurnDetection(_VendorSpelled):
    """OpenAI Realtime turn detection: the strategy and its tuning."""

    type: Literal["none", "server_vad", "semantic_vad"]
    eagerness: Literal["low", "medium", "high", "auto"] | None = None
    threshold: Number | None = Field(default=None, ge=0, le=1)
    prefix_padding_ms: Number | None = None
    silence_duration_ms: Number | None = None


class OpenaiOptions(Component):
    """Settings for OpenAI transcription: model, prompt, languages, turn detection, local VAD."""

    schema_id: ClassVar[str] = "components/recognizer-openaiOptions"

    api_key: str | None = None
    model: str | None = None
    prompt: str | None = None
    prompt_templates: Part[OpenaiPromptTemplates] | None = None
    language: str | None = None
    languages: list[str] | None = Field(default=None, min_length=1)
    keywords: list[str] | None = None
    delay: Literal["minimal", "low", "medium", "high", "xhigh"] | None = None
    input_audio_noise_reduction: Literal["near_field", "far_field"] | None = Field(
        default=None, alias="input_audio_noise_reduction"
    )
    turn_detection: Part[OpenaiTurnDetection] | None = Field(default=None, alias="turn_detection")
    vad_mode: int | None = Field(default=None, ge=0, le=3)
    vad_silence_ms: int | None = Field(default=None, ge=1)
    vad_voice_ms: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.language is not None and self.languages is not None:
            raise ValueError("openaiOptions: give language or languages, not both")
        return self


class SonioxContextEntry(_VendorSpelled):
    """One key/value fact of a Soniox context (domain, topic, participant, ...)."""

    key: str
    value: str


class SonioxTranslationTerm(_VendorSpelled):
    """How a source term is to be translated."""

    source: str
    target: str


class SonioxContext(_VendorSpelled):
    """Background that helps Soniox recognize a call: facts, free text, terms, translations."""

    general: list[Part[SonioxContextEntry]] | None = None
    text: str | None = None
    terms: list[str] | None = None
    translation_terms: list[Part[SonioxTranslationTerm]] | None = None


class SonioxStorage(Component):
    """What Soniox may keep of the session, and under which id and title."""

    id: str | None = None
    title: str | None = None
    disable_store_audio: bool | None = None
    disable_store_transcript: bool | None = None
    disable_search: bool | None = None
    metadata: JsonObject | None = None


class SonioxOptions(Component):
    """Settings for Soniox recognition: model, language hints, endpointing, context, storage."""

    schema_id: ClassVar[str] = "components/recognizer-sonioxOptions"

    api_key: str | None = None
    model: str | None = None
    language_hints: list[str] | None = None
    enable_language_identification: bool | None = None
    enable_speaker_diarization: bool | None = None
    endpoint_detection: bool | None = None
    endpoint_sensitivity: Number | None = Field(default=None, ge=-1, le=1)
    max_endpoint_delay_ms: int | None = Field(default=None, ge=500, le=3000)
    max_non_final_tokens_duration_ms: int | None = Field(default=None, ge=0)
    profanity_filter: bool | None = None
    context: Part[SonioxContext] | None = None
    speech_context: str | None = None
    client_request_reference: str | None = None
    storage: Part[SonioxStorage] | None = None


class SpeechmaticsSpeakerDiarizationConfig(_VendorSpelled):
    """Speechmatics speaker diarization tuning."""

    speaker_sensitivity: Number | None = None
    max_speakers: Number | None = None


class SpeechmaticsConversationConfig(_VendorSpelled):
    """Speechmatics end-of-utterance detection."""

    end_of_utterance_silence_trigger: Number | None = None


class SpeechmaticsPunctuationOverrides(_VendorSpelled):
    """Which punctuation marks Speechmatics may add, and how readily."""

    permitted_marks: list[str] | None = None
    sensitivity: Number | None = None


class SpeechmaticsAudioFilteringConfig(_VendorSpelled):
    """Speechmatics' filter of quiet audio."""

    volume_threshold: Number


class SpeechmaticsReplacement(_VendorSpelled):
    """A word (or ``/regex/``) of the transcript and what to write instead."""

    from_: str
    to: str


class SpeechmaticsTranscriptFilteringConfig(_VendorSpelled):
    """Clean-ups Speechmatics applies to the transcript text."""

    remove_disfluencies: bool | None = None
    replacements: list[Part[SpeechmaticsReplacement]] | None = None


class SpeechmaticsTranscriptionConfig(_VendorSpelled):
    """Speechmatics' own ``transcription_config``: language, model, partials, diarization, filters."""

    language: str | None = None
    domain: str | None = None
    additional_vocab: JsonList | None = None
    diarization: str | None = None
    speaker_diarization_config: Part[SpeechmaticsSpeakerDiarizationConfig] | None = None
    conversation_config: Part[SpeechmaticsConversationConfig] | None = None
    enable_partials: bool | None = None
    max_delay: Number | None = None
    max_delay_mode: Literal["fixed", "flexible"] | None = None
    output_locale: str | None = None
    punctuation_overrides: Part[SpeechmaticsPunctuationOverrides] | None = None
    operating_point: str | None = None
    model: str | None = None
    enable_entities: bool | None = None
    audio_filtering_config: Part[SpeechmaticsAudioFilteringConfig] | None = None
    transcript_filtering_config: Part[SpeechmaticsTranscriptFilteringConfig] | None = None


class SpeechmaticsTranslationConfig(_VendorSpelled):
    """Languages Speechmatics translates the transcript into."""

    target_languages: list[str]
    enable_partials: bool | None = None


class SpeechmaticsAudioEventsConfig(_VendorSpelled):
    """Non-speech sounds Speechmatics should report."""

    types: list[Literal["applause", "music", "laughter"]] | None = None


class SpeechmaticsOptions(_VendorSpelled):
    """Settings for Speechmatics recognition, in Speechmatics' own snake_case."""

    schema_id: ClassVar[str] = "components/recognizer-speechmaticsOptions"

    host: str | None = None
    profile: Literal["adaptive", "agile", "smart", "external"] | None = None
    transcription_config: Part[SpeechmaticsTranscriptionConfig] | None = None
    translation_config: Part[SpeechmaticsTranslationConfig] | None = None
    audio_events_config: Part[SpeechmaticsAudioEventsConfig] | None = None


class XaiOptions(Component):
    """Settings for xAI (Grok) transcription: model, endpointing, smart turn, key terms."""

    schema_id: ClassVar[str] = "components/recognizer-xaiOptions"

    api_key: str | None = None
    model: str | None = None
    # The ranges below are stated in the schema's descriptions rather than as bounds.
    endpointing: int | None = Field(default=None, ge=0, le=5000)
    diarize: bool | None = None
    filler_words: bool | None = None
    keyterms: list[str] | None = None
    smart_turn: Number | None = Field(default=None, ge=0, le=1)
    smart_turn_timeout: int | None = Field(default=None, ge=1, le=5000)


class ZoomTurnDetection(_VendorSpelled):
    """Zoom's silence-based turn detection."""

    threshold: Number | None = Field(default=None, ge=0.2, le=0.9)
    prefix_padding_ms: int | None = Field(default=None, ge=0)
    silence_duration_ms: int | None = Field(default=None, gt=200)


class ZoomOptions(Component):
    """Settings for Zoom Scribe live recognition."""

    schema_id: ClassVar[str] = "components/recognizer-zoomOptions"

    api_key: str | None = None
    turn_detection: Part[ZoomTurnDetection] | None = Field(default=None, alias="turn_detection")
    zoom_stt_uri: str | None = None
    zoom_stt_use_tls: bool | None = None


# The recognizer itself.


class RecognizerHint(Component):
    """A phrase for the recognizer to favor, with a boost of its own."""

    phrase: str
    boost: Number | None = None


class Recognizer(Component):
    """Speech-to-text settings: vendor, language, fallback, tuning, and per-vendor options."""

    schema_id: ClassVar[str] = "components/recognizer"

    vendor: str
    label: str | None = None
    language: str | None = None
    fallback_vendor: str | None = None
    fallback_label: str | None = None
    fallback_language: str | None = None
    vad: Part[Vad] | None = None
    autogenerate_prompt: bool | None = None
    hints: list[str | Part[RecognizerHint]] | None = None
    hints_boost: Number | None = None
    alt_languages: list[str] | None = None
    profanity_filter: bool | None = None
    interim: bool | None = None
    single_utterance: bool | None = None
    dual_channel: bool | None = None
    separate_recognition_per_channel: bool | None = None
    punctuation: bool | None = None
    enhanced_model: bool | None = None
    words: bool | None = None
    diarization: bool | None = None
    diarization_min_speakers: Number | None = None
    diarization_max_speakers: Number | None = None
    interaction_type: (
        Literal[
            "unspecified",
            "discussion",
            "presentation",
            "phone_call",
            "voicemail",
            "voice_search",
            "voice_command",
            "dictation",
        ]
        | None
    ) = None
    naics_code: Number | None = None
    identify_channels: bool | None = None
    vocabulary_name: str | None = None
    vocabulary_filter_name: str | None = None
    filter_method: Literal["remove", "mask", "tag"] | None = None
    model: str | None = None
    output_format: Literal["simple", "detailed"] | None = None
    profanity_option: Literal["masked", "removed", "raw"] | None = None
    request_snr: bool | None = None
    initial_speech_timeout_ms: Number | None = None
    azure_service_endpoint: str | None = None
    azure_stt_endpoint_id: str | None = None
    asr_dtmf_termination_digit: str | None = None
    asr_timeout: Number | None = None
    fast_recognition_timeout: Number | None = None
    min_confidence: Number | None = Field(default=None, ge=0, le=1)
    deepgram_options: Part[DeepgramOptions] | None = None
    google_options: Part[GoogleOptions] | None = None
    aws_options: Part[AwsOptions] | None = None
    azure_options: Part[AzureOptions] | None = None
    ibm_options: Part[IbmOptions] | None = None
    nvidia_options: Part[NvidiaOptions] | None = None
    soniox_options: Part[SonioxOptions] | None = None
    xai_options: Part[XaiOptions] | None = None
    modulate_options: Part[ModulateOptions] | None = None
    zoom_options: Part[ZoomOptions] | None = None
    gradium_options: Part[GradiumOptions] | None = None
    mistral_options: Part[MistralOptions] | None = None
    assembly_ai_options: Part[AssemblyAiOptions] | None = None
    speechmatics_options: Part[SpeechmaticsOptions] | None = None
    openai_options: Part[OpenaiOptions] | None = None
    houndify_options: Part[HoundifyOptions] | None = None
    gladia_options: Part[GladiaOptions] | None = None
    elevenlabs_options: Part[ElevenlabsOptions] | None = None
    custom_options: Part[CustomOptions] | None = None
