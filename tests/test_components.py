"""The component models (synthesizer, recognizer and its vendor options, target, amd, ...) and hooks.

Each realistic instance is checked for its exact JSON and against jambonz's official schema;
typos, wrong types, values out of an enum or a bound, missing required fields and each
cross-field rule are checked to fail; and the models are walked beside the schemas, nested
objects included, so that a property, an enum value or a bound the schema adds is noticed.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
import pydantic_core
import pytest
from pydantic import BaseModel, ValidationError

from jambonz_webhooks.hooks import BasicAuth, HookContext, HookObject
from jambonz_webhooks.verbs import Redirect, Say, components, recognizer
from jambonz_webhooks.verbs.components import (
    ActionHookDelayAction,
    Amd,
    AmdTimers,
    Auth,
    FillerNoise,
    Synthesizer,
    Target,
    TargetFrom,
    Vad,
)
from jambonz_webhooks.verbs.recognizer import (
    AssemblyAiOptions,
    AwsOptions,
    AzureOptions,
    CustomOptions,
    DeepgramOptions,
    ElevenlabsOptions,
    GladiaOptions,
    GoogleOptions,
    GradiumOptions,
    GradiumTurnDetection,
    HoundifyOptions,
    IbmOptions,
    MistralOptions,
    MistralTurnDetection,
    ModulateOptions,
    NvidiaOptions,
    OpenaiOptions,
    OpenaiPromptTemplates,
    OpenaiTurnDetection,
    Recognizer,
    RecognizerHint,
    SonioxContext,
    SonioxContextEntry,
    SonioxOptions,
    SonioxStorage,
    SonioxTranslationTerm,
    SpeechmaticsAudioEventsConfig,
    SpeechmaticsAudioFilteringConfig,
    SpeechmaticsConversationConfig,
    SpeechmaticsOptions,
    SpeechmaticsPunctuationOverrides,
    SpeechmaticsReplacement,
    SpeechmaticsSpeakerDiarizationConfig,
    SpeechmaticsTranscriptFilteringConfig,
    SpeechmaticsTranscriptionConfig,
    SpeechmaticsTranslationConfig,
    XaiOptions,
    ZoomOptions,
    ZoomTurnDetection,
)
from tests.schemas import errors, schemas


def dump(model: BaseModel) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


# ---------------------------------------------------------------------------------------------
# Realistic instances and the exact JSON they give
# ---------------------------------------------------------------------------------------------

CASES: list[tuple[BaseModel, dict[str, Any]]] = [
    (Auth(username="alice", password="s3cret"), {"username": "alice", "password": "s3cret"}),
    (
        Synthesizer(
            vendor="elevenlabs",
            label="prod",
            language="en-US",
            voice="EXAVITQu4vr4xnSDxMaL",
            fallback_vendor="google",
            fallback_label="backup",
            fallback_language="en-GB",
            fallback_voice={"name": "en-GB-Wavenet-A"},
            engine="neural",
            gender="FEMALE",
            options={"model_id": "eleven_turbo_v2", "stability": 0.5},
        ),
        {
            "vendor": "elevenlabs",
            "label": "prod",
            "language": "en-US",
            "voice": "EXAVITQu4vr4xnSDxMaL",
            "fallbackVendor": "google",
            "fallbackLabel": "backup",
            "fallbackLanguage": "en-GB",
            "fallbackVoice": {"name": "en-GB-Wavenet-A"},
            "engine": "neural",
            "gender": "FEMALE",
            "options": {"model_id": "eleven_turbo_v2", "stability": 0.5},
        },
    ),
    (
        Vad(
            enable=True,
            voice_ms=250,
            silence_ms=1000,
            strategy="one-shot",
            mode=2,
            vendor="silero",
            threshold=0.6,
            speech_pad_ms=30,
        ),
        {
            "enable": True,
            "voiceMs": 250,
            "silenceMs": 1000,
            "strategy": "one-shot",
            "mode": 2,
            "vendor": "silero",
            "threshold": 0.6,
            "speechPadMs": 30,
        },
    ),
    (
        Target(
            type="sip",
            sip_uri="sip:alice@example.com",
            name="Alice",
            trunk="carrier-a",
            confirm_hook=HookObject(url="/screen", method="GET"),
            method="GET",
            headers={"X-Account": "42"},
            from_=TargetFrom(user="+15085550100", host="pbx.example.com"),
            auth=Auth(username="alice", password="s3cret"),
            override_to="sip:desk@example.com",
            proxy="sip:proxy.example.com",
        ),
        {
            "type": "sip",
            "sipUri": "sip:alice@example.com",
            "name": "Alice",
            "trunk": "carrier-a",
            "confirmHook": {"url": "/screen", "method": "GET"},
            "method": "GET",
            "headers": {"X-Account": "42"},
            "from": {"user": "+15085550100", "host": "pbx.example.com"},
            "auth": {"username": "alice", "password": "s3cret"},
            "overrideTo": "sip:desk@example.com",
            "proxy": "sip:proxy.example.com",
        },
    ),
    (
        Target(type="teams", number="+15085551212", tenant="contoso.onmicrosoft.com", vmail=True),
        {"type": "teams", "number": "+15085551212", "tenant": "contoso.onmicrosoft.com", "vmail": True},
    ),
    (
        FillerNoise(enable=True, url="https://example.com/sounds/typing.wav", start_delay_secs=1.5),
        {"enable": True, "url": "https://example.com/sounds/typing.wav", "startDelaySecs": 1.5},
    ),
    (
        ActionHookDelayAction(
            enabled=True,
            no_response_timeout=3,
            no_response_give_up_timeout=30,
            retries=2,
            actions=[Say(text="One moment please")],
            give_up_actions=[{"verb": "say", "text": "Sorry, try again later"}, {"verb": "hangup"}],
        ),
        {
            "enabled": True,
            "noResponseTimeout": 3,
            "noResponseGiveUpTimeout": 30,
            "retries": 2,
            "actions": [{"verb": "say", "text": "One moment please"}],
            "giveUpActions": [{"verb": "say", "text": "Sorry, try again later"}, {"verb": "hangup"}],
        },
    ),
    (
        Amd(
            action_hook="/amd",
            threshold_word_count=6,
            digit_count=0,
            timers=AmdTimers(
                no_speech_timeout_ms=3000,
                decision_timeout_ms=10000,
                tone_timeout_ms=20000,
                greeting_completion_timeout_ms=2000,
            ),
            recognizer=Recognizer(vendor="google", language="en-US", enhanced_model=True),
        ),
        {
            "actionHook": "/amd",
            "thresholdWordCount": 6,
            "digitCount": 0,
            "timers": {
                "noSpeechTimeoutMs": 3000,
                "decisionTimeoutMs": 10000,
                "toneTimeoutMs": 20000,
                "greetingCompletionTimeoutMs": 2000,
            },
            "recognizer": {"vendor": "google", "language": "en-US", "enhancedModel": True},
        },
    ),
    (
        Recognizer(
            vendor="deepgram",
            label="main",
            language="en-US",
            fallback_vendor="google",
            fallback_label="backup",
            fallback_language="en-GB",
            vad=Vad(enable=True, vendor="webrtc", mode=3),
            autogenerate_prompt=False,
            hints=["jambonz", RecognizerHint(phrase="drachtio", boost=10)],
            hints_boost=20,
            alt_languages=["es-ES", "fr-FR"],
            profanity_filter=True,
            interim=True,
            single_utterance=False,
            dual_channel=True,
            separate_recognition_per_channel=True,
            punctuation=True,
            enhanced_model=True,
            words=True,
            diarization=True,
            diarization_min_speakers=1,
            diarization_max_speakers=2,
            interaction_type="phone_call",
            naics_code=522110,
            identify_channels=True,
            vocabulary_name="banking",
            vocabulary_filter_name="swears",
            filter_method="mask",
            model="nova-2",
            output_format="detailed",
            profanity_option="masked",
            request_snr=True,
            initial_speech_timeout_ms=5000,
            azure_service_endpoint="https://westus.stt.speech.microsoft.com",
            azure_stt_endpoint_id="abc-123",
            asr_dtmf_termination_digit="#",
            asr_timeout=10,
            fast_recognition_timeout=1.5,
            min_confidence=0.4,
            deepgram_options=DeepgramOptions(model="nova-2", smart_formatting=True, endpointing=500),
            assembly_ai_options=AssemblyAiOptions(service_version="v3"),
        ),
        {
            "vendor": "deepgram",
            "label": "main",
            "language": "en-US",
            "fallbackVendor": "google",
            "fallbackLabel": "backup",
            "fallbackLanguage": "en-GB",
            "vad": {"enable": True, "vendor": "webrtc", "mode": 3},
            "autogeneratePrompt": False,
            "hints": ["jambonz", {"phrase": "drachtio", "boost": 10}],
            "hintsBoost": 20,
            "altLanguages": ["es-ES", "fr-FR"],
            "profanityFilter": True,
            "interim": True,
            "singleUtterance": False,
            "dualChannel": True,
            "separateRecognitionPerChannel": True,
            "punctuation": True,
            "enhancedModel": True,
            "words": True,
            "diarization": True,
            "diarizationMinSpeakers": 1,
            "diarizationMaxSpeakers": 2,
            "interactionType": "phone_call",
            "naicsCode": 522110,
            "identifyChannels": True,
            "vocabularyName": "banking",
            "vocabularyFilterName": "swears",
            "filterMethod": "mask",
            "model": "nova-2",
            "outputFormat": "detailed",
            "profanityOption": "masked",
            "requestSnr": True,
            "initialSpeechTimeoutMs": 5000,
            "azureServiceEndpoint": "https://westus.stt.speech.microsoft.com",
            "azureSttEndpointId": "abc-123",
            "asrDtmfTerminationDigit": "#",
            "asrTimeout": 10,
            "fastRecognitionTimeout": 1.5,
            "minConfidence": 0.4,
            "deepgramOptions": {"model": "nova-2", "smartFormatting": True, "endpointing": 500},
            "assemblyAiOptions": {"serviceVersion": "v3"},
        },
    ),
    (
        AssemblyAiOptions(
            api_key="aai-key",
            service_version="v3",
            speech_model="universal-3-5-pro",
            format_turns=True,
            end_of_turn_confidence_threshold=0.7,
            min_end_of_turn_silence_when_confident=400,
            max_turn_silence=1280,
            min_turn_silence=160,
            keyterms=["jambonz"],
            prompt="A support call",
            language_detection=True,
            vad_threshold=0.4,
            inactivity_timeout=30,
            language_codes=["en", "es"],
            voice_focus="near-field",
        ),
        {
            "apiKey": "aai-key",
            "serviceVersion": "v3",
            "speechModel": "universal-3-5-pro",
            "formatTurns": True,
            "endOfTurnConfidenceThreshold": 0.7,
            "minEndOfTurnSilenceWhenConfident": 400,
            "maxTurnSilence": 1280,
            "minTurnSilence": 160,
            "keyterms": ["jambonz"],
            "prompt": "A support call",
            "languageDetection": True,
            "vadThreshold": 0.4,
            "inactivityTimeout": 30,
            "languageCodes": ["en", "es"],
            "voiceFocus": "near-field",
        },
    ),
    (
        AwsOptions(
            access_key="AKIA",
            secret_key="secret",
            security_token="token",
            region="us-east-1",
            vocabulary_name="banking",
            vocabulary_filter_name="swears",
            vocabulary_filter_method="tag",
            language_model_name="clm-1",
            pii_entity_types=["BANK_ACCOUNT_NUMBER"],
            pii_identify_entities=True,
        ),
        {
            "accessKey": "AKIA",
            "secretKey": "secret",
            "securityToken": "token",
            "region": "us-east-1",
            "vocabularyName": "banking",
            "vocabularyFilterName": "swears",
            "vocabularyFilterMethod": "tag",
            "languageModelName": "clm-1",
            "piiEntityTypes": ["BANK_ACCOUNT_NUMBER"],
            "piiIdentifyEntities": True,
        },
    ),
    (
        AzureOptions(
            speech_segmentation_silence_timeout_ms=800,
            post_processing="TrueText",
            audio_logging=False,
            language_id_mode="Continuous",
            speech_recognition_mode="CONVERSATION",
        ),
        {
            "speechSegmentationSilenceTimeoutMs": 800,
            "postProcessing": "TrueText",
            "audioLogging": False,
            "languageIdMode": "Continuous",
            "speechRecognitionMode": "CONVERSATION",
        },
    ),
    (
        CustomOptions(auth_token="t0k", uri="wss://stt.example.com", sample_rate=16000, options={"beam": 4}),
        {"authToken": "t0k", "uri": "wss://stt.example.com", "sampleRate": 16000, "options": {"beam": 4}},
    ),
    (
        DeepgramOptions(
            deepgram_stt_uri="dg.example.com",
            deepgram_stt_use_tls=True,
            api_key="dg-key",
            tier="nova",
            model="nova-2",
            custom_model="cm-1",
            version="latest",
            punctuate=True,
            smart_formatting=True,
            no_delay=True,
            profanity_filter=False,
            redact="pci",
            diarize=True,
            diarize_version="2021-07-14.0",
            ner=True,
            multichannel=False,
            alternatives=2,
            numerals=True,
            search=["refund"],
            replace=["foo:bar"],
            keywords=["jambonz:2"],
            keyterms=["drachtio"],
            endpointing=True,
            utterance_end_ms=1000,
            short_utterance=False,
            vad_turnoff=500,
            tag="support",
            filler_words=True,
            eot_threshold=0.7,
            eot_timeout_ms=5000,
            mip_opt_out=True,
            entity_prompt="account numbers",
            eager_eot_threshold=0.5,
            language_hints=["en", "es"],
        ),
        {
            "deepgramSttUri": "dg.example.com",
            "deepgramSttUseTls": True,
            "apiKey": "dg-key",
            "tier": "nova",
            "model": "nova-2",
            "customModel": "cm-1",
            "version": "latest",
            "punctuate": True,
            "smartFormatting": True,
            "noDelay": True,
            "profanityFilter": False,
            "redact": "pci",
            "diarize": True,
            "diarizeVersion": "2021-07-14.0",
            "ner": True,
            "multichannel": False,
            "alternatives": 2,
            "numerals": True,
            "search": ["refund"],
            "replace": ["foo:bar"],
            "keywords": ["jambonz:2"],
            "keyterms": ["drachtio"],
            "endpointing": True,
            "utteranceEndMs": 1000,
            "shortUtterance": False,
            "vadTurnoff": 500,
            "tag": "support",
            "fillerWords": True,
            "eotThreshold": 0.7,
            "eotTimeoutMs": 5000,
            "mipOptOut": True,
            "entityPrompt": "account numbers",
            "eagerEotThreshold": 0.5,
            "languageHints": ["en", "es"],
        },
    ),
    (
        ElevenlabsOptions(
            include_timestamps=True,
            commit_strategy="vad",
            vad_silence_threshold_secs=1.5,
            vad_threshold=0.4,
            min_speech_duration_ms=100,
            min_silence_duration_ms=300,
            enable_logging=False,
        ),
        {
            "includeTimestamps": True,
            "commitStrategy": "vad",
            "vadSilenceThresholdSecs": 1.5,
            "vadThreshold": 0.4,
            "minSpeechDurationMs": 100,
            "minSilenceDurationMs": 300,
            "enableLogging": False,
        },
    ),
    (
        GladiaOptions.model_validate(
            {"language_config": {"languages": ["en", "fr"], "code_switching": True}, "endpointing": 0.3}
        ),
        {"language_config": {"languages": ["en", "fr"], "code_switching": True}, "endpointing": 0.3},
    ),
    (
        GoogleOptions(
            mode="SMART",
            custom_vocabulary=["jambonz", "drachtio"],
            service_version="v2",
            recognizer_id="support-recognizer",
            parent_path="projects/acme/locations/global",
            speech_start_timeout_ms=5000,
            speech_end_timeout_ms=800,
            enable_voice_activity_events=True,
            transcript_normalization=[{"search": "jam bones", "replace": "jambonz", "caseSensitive": False}],
        ),
        {
            "mode": "SMART",
            "customVocabulary": ["jambonz", "drachtio"],
            "serviceVersion": "v2",
            "recognizerId": "support-recognizer",
            "parentPath": "projects/acme/locations/global",
            "speechStartTimeoutMs": 5000,
            "speechEndTimeoutMs": 800,
            "enableVoiceActivityEvents": True,
            "transcriptNormalization": [
                {"search": "jam bones", "replace": "jambonz", "caseSensitive": False}
            ],
        },
    ),
    (
        GradiumOptions(
            api_key="gd-key",
            model="default",
            delay_in_frames=10,
            temp=0,
            padding_bonus=-1.5,
            keywords=["jambonz"],
            keyword_boost=3,
            keyword_boost_id="dict-1",
            turn_detection=GradiumTurnDetection(threshold=0.4, horizon=1),
            gradium_stt_uri="eu.api.gradium.ai",
            gradium_stt_use_tls=True,
        ),
        {
            "apiKey": "gd-key",
            "model": "default",
            "delayInFrames": 10,
            "temp": 0,
            "paddingBonus": -1.5,
            "keywords": ["jambonz"],
            "keywordBoost": 3,
            "keywordBoostId": "dict-1",
            "turn_detection": {"threshold": 0.4, "horizon": 1},
            "gradiumSttUri": "eu.api.gradium.ai",
            "gradiumSttUseTls": True,
        },
    ),
    (
        HoundifyOptions(
            request_info={"ClientID": "abc"},
            sample_rate=8000,
            latitude=37.77,
            longitude=-122.42,
            city="San Francisco",
            state="CA",
            country="US",
            time_zone="America/Los_Angeles",
            domain="weather",
            audio_endpoint="wss://houndify.example.com",
            max_silence_seconds=5,
            max_silence_after_full_query_seconds=1,
            max_silence_after_partial_query_seconds=1.5,
            vad_sensitivity=0.5,
            vad_timeout=300,
            vad_mode="aggressive",
            vad_voice_ms=200,
            vad_silence_ms=500,
            vad_debug=False,
            audio_format="audio/wav",
            enable_noise_reduction=True,
            enable_profanity_filter=True,
            enable_punctuation=True,
            enable_capitalization=True,
            confidence_threshold=0.6,
            enable_disfluency_filter=True,
            max_results=1,
            enable_word_timestamps=False,
            max_alternatives=3,
            partial_transcript_interval=250,
            session_timeout=60,
            connection_timeout=10,
            custom_vocabulary=["jambonz"],
            language_model="general",
            audio_query_absolute_timeout=30,
            eoq_threshold=0.8,
            vad_stop_threshold=0.05,
        ),
        {
            "requestInfo": {"ClientID": "abc"},
            "sampleRate": 8000,
            "latitude": 37.77,
            "longitude": -122.42,
            "city": "San Francisco",
            "state": "CA",
            "country": "US",
            "timeZone": "America/Los_Angeles",
            "domain": "weather",
            "audioEndpoint": "wss://houndify.example.com",
            "maxSilenceSeconds": 5,
            "maxSilenceAfterFullQuerySeconds": 1,
            "maxSilenceAfterPartialQuerySeconds": 1.5,
            "vadSensitivity": 0.5,
            "vadTimeout": 300,
            "vadMode": "aggressive",
            "vadVoiceMs": 200,
            "vadSilenceMs": 500,
            "vadDebug": False,
            "audioFormat": "audio/wav",
            "enableNoiseReduction": True,
            "enableProfanityFilter": True,
            "enablePunctuation": True,
            "enableCapitalization": True,
            "confidenceThreshold": 0.6,
            "enableDisfluencyFilter": True,
            "maxResults": 1,
            "enableWordTimestamps": False,
            "maxAlternatives": 3,
            "partialTranscriptInterval": 250,
            "sessionTimeout": 60,
            "connectionTimeout": 10,
            "customVocabulary": ["jambonz"],
            "languageModel": "general",
            "audioQueryAbsoluteTimeout": 30,
            "eoqThreshold": 0.8,
            "vadStopThreshold": 0.05,
        },
    ),
    (
        IbmOptions(
            stt_api_key="ibm-stt",
            stt_region="us-south",
            tts_api_key="ibm-tts",
            tts_region="us-east",
            instance_id="inst-1",
            model="en-US_Telephony",
            language_customization_id="lc-1",
            acoustic_customization_id="ac-1",
            base_model_version="2023-01-01",
            watson_metadata="customer_id=42",
            watson_learning_opt_out=True,
        ),
        {
            "sttApiKey": "ibm-stt",
            "sttRegion": "us-south",
            "ttsApiKey": "ibm-tts",
            "ttsRegion": "us-east",
            "instanceId": "inst-1",
            "model": "en-US_Telephony",
            "languageCustomizationId": "lc-1",
            "acousticCustomizationId": "ac-1",
            "baseModelVersion": "2023-01-01",
            "watsonMetadata": "customer_id=42",
            "watsonLearningOptOut": True,
        },
    ),
    (
        MistralOptions(
            api_key="ms-key",
            model="voxtral-mini-transcribe-realtime-3",
            streaming_delay_ms=480,
            verbatim=False,
            context_bias=["jambonz"],
            turn_detection=MistralTurnDetection(
                start_threshold=0.6,
                eager_end_threshold=0.5,
                end_threshold=0.3,
                min_silence_ms=500,
                end_timeout_ms=3000,
            ),
            mistral_stt_uri="mistral.example.com",
        ),
        {
            "apiKey": "ms-key",
            "model": "voxtral-mini-transcribe-realtime-3",
            "streamingDelayMs": 480,
            "verbatim": False,
            "contextBias": ["jambonz"],
            "turnDetection": {
                "startThreshold": 0.6,
                "eagerEndThreshold": 0.5,
                "endThreshold": 0.3,
                "minSilenceMs": 500,
                "endTimeoutMs": 3000,
            },
            "mistralSttUri": "mistral.example.com",
        },
    ),
    (
        MistralOptions(diarize=True, speaker_references=[{"name": "Alice", "audio": "https://x/a.wav"}]),
        {"diarize": True, "speakerReferences": [{"name": "Alice", "audio": "https://x/a.wav"}]},
    ),
    (
        ModulateOptions(
            api_key="mod-key",
            endpointing=False,
            emotion_signal=True,
            accent_signal=True,
            deepfake_signal=True,
            pii_phi_tagging=True,
            modulate_stt_uri="modulate.example.com",
            modulate_stt_use_tls=False,
        ),
        {
            "apiKey": "mod-key",
            "endpointing": False,
            "emotionSignal": True,
            "accentSignal": True,
            "deepfakeSignal": True,
            "piiPhiTagging": True,
            "modulateSttUri": "modulate.example.com",
            "modulateSttUseTls": False,
        },
    ),
    (
        NvidiaOptions(
            riva_uri="riva.example.com:50051",
            max_alternatives=2,
            profanity_filter=True,
            punctuation=True,
            word_time_offsets=True,
            verbatim_transcripts=False,
            custom_configuration={"enable_vad_endpointing": "true"},
        ),
        {
            "rivaUri": "riva.example.com:50051",
            "maxAlternatives": 2,
            "profanityFilter": True,
            "punctuation": True,
            "wordTimeOffsets": True,
            "verbatimTranscripts": False,
            "customConfiguration": {"enable_vad_endpointing": "true"},
        },
    ),
    (
        OpenaiOptions(
            api_key="sk-test",
            model="gpt-4o-transcribe",
            prompt="A call to a bank",
            prompt_templates=OpenaiPromptTemplates(
                hints_template="Words: {{hints}}", conversation_history_template="{{turns}}"
            ),
            language="en",
            keywords=["jambonz"],
            delay="low",
            input_audio_noise_reduction="near_field",
            turn_detection=OpenaiTurnDetection(
                type="server_vad", threshold=0.5, prefix_padding_ms=300, silence_duration_ms=500
            ),
            vad_mode=2,
            vad_silence_ms=600,
            vad_voice_ms=200,
        ),
        {
            "apiKey": "sk-test",
            "model": "gpt-4o-transcribe",
            "prompt": "A call to a bank",
            "promptTemplates": {
                "hintsTemplate": "Words: {{hints}}",
                "conversationHistoryTemplate": "{{turns}}",
            },
            "language": "en",
            "keywords": ["jambonz"],
            "delay": "low",
            "input_audio_noise_reduction": "near_field",
            "turn_detection": {
                "type": "server_vad",
                "threshold": 0.5,
                "prefix_padding_ms": 300,
                "silence_duration_ms": 500,
            },
            "vadMode": 2,
            "vadSilenceMs": 600,
            "vadVoiceMs": 200,
        },
    ),
    (
        OpenaiOptions(
            languages=["en", "fr"], turn_detection=OpenaiTurnDetection(type="semantic_vad", eagerness="auto")
        ),
        {"languages": ["en", "fr"], "turn_detection": {"type": "semantic_vad", "eagerness": "auto"}},
    ),
    (
        SonioxOptions(
            api_key="sx-key",
            model="stt-rt-v5",
            language_hints=["en", "es"],
            enable_language_identification=True,
            enable_speaker_diarization=True,
            endpoint_detection=True,
            endpoint_sensitivity=-0.5,
            max_endpoint_delay_ms=2000,
            max_non_final_tokens_duration_ms=1500,
            profanity_filter=False,
            context=SonioxContext(
                general=[SonioxContextEntry(key="domain", value="banking")],
                text="Earlier the caller asked about a refund.",
                terms=["chargeback"],
                translation_terms=[SonioxTranslationTerm(source="refund", target="reembolso")],
            ),
            speech_context="banking support",
            client_request_reference="call-42",
            storage=SonioxStorage(
                id="st-1",
                title="Call 42",
                disable_store_audio=True,
                disable_store_transcript=False,
                disable_search=True,
                metadata={"team": "support"},
            ),
        ),
        {
            "apiKey": "sx-key",
            "model": "stt-rt-v5",
            "languageHints": ["en", "es"],
            "enableLanguageIdentification": True,
            "enableSpeakerDiarization": True,
            "endpointDetection": True,
            "endpointSensitivity": -0.5,
            "maxEndpointDelayMs": 2000,
            "maxNonFinalTokensDurationMs": 1500,
            "profanityFilter": False,
            "context": {
                "general": [{"key": "domain", "value": "banking"}],
                "text": "Earlier the caller asked about a refund.",
                "terms": ["chargeback"],
                "translation_terms": [{"source": "refund", "target": "reembolso"}],
            },
            "speechContext": "banking support",
            "clientRequestReference": "call-42",
            "storage": {
                "id": "st-1",
                "title": "Call 42",
                "disableStoreAudio": True,
                "disableStoreTranscript": False,
                "disableSearch": True,
                "metadata": {"team": "support"},
            },
        },
    ),
    (
        SpeechmaticsOptions(
            host="eu2.rt.speechmatics.com",
            profile="adaptive",
            transcription_config=SpeechmaticsTranscriptionConfig(
                language="en",
                domain="finance",
                additional_vocab=["jambonz", {"content": "drachtio", "sounds_like": ["drac tio"]}],
                diarization="speaker",
                speaker_diarization_config=SpeechmaticsSpeakerDiarizationConfig(
                    speaker_sensitivity=0.6, max_speakers=2
                ),
                conversation_config=SpeechmaticsConversationConfig(end_of_utterance_silence_trigger=0.8),
                enable_partials=True,
                max_delay=2,
                max_delay_mode="flexible",
                output_locale="en-US",
                punctuation_overrides=SpeechmaticsPunctuationOverrides(
                    permitted_marks=[",", "."], sensitivity=0.4
                ),
                operating_point="enhanced",
                model="enhanced",
                enable_entities=True,
                audio_filtering_config=SpeechmaticsAudioFilteringConfig(volume_threshold=3.4),
                transcript_filtering_config=SpeechmaticsTranscriptFilteringConfig(
                    remove_disfluencies=True,
                    replacements=[SpeechmaticsReplacement(from_="/jam ?bones/", to="jambonz")],
                ),
            ),
            translation_config=SpeechmaticsTranslationConfig(
                target_languages=["es", "fr"], enable_partials=True
            ),
            audio_events_config=SpeechmaticsAudioEventsConfig(types=["music", "laughter"]),
        ),
        {
            "host": "eu2.rt.speechmatics.com",
            "profile": "adaptive",
            "transcription_config": {
                "language": "en",
                "domain": "finance",
                "additional_vocab": ["jambonz", {"content": "drachtio", "sounds_like": ["drac tio"]}],
                "diarization": "speaker",
                "speaker_diarization_config": {"speaker_sensitivity": 0.6, "max_speakers": 2},
                "conversation_config": {"end_of_utterance_silence_trigger": 0.8},
                "enable_partials": True,
                "max_delay": 2,
                "max_delay_mode": "flexible",
                "output_locale": "en-US",
                "punctuation_overrides": {"permitted_marks": [",", "."], "sensitivity": 0.4},
                "operating_point": "enhanced",
                "model": "enhanced",
                "enable_entities": True,
                "audio_filtering_config": {"volume_threshold": 3.4},
                "transcript_filtering_config": {
                    "remove_disfluencies": True,
                    "replacements": [{"from": "/jam ?bones/", "to": "jambonz"}],
                },
            },
            "translation_config": {"target_languages": ["es", "fr"], "enable_partials": True},
            "audio_events_config": {"types": ["music", "laughter"]},
        },
    ),
    (
        XaiOptions(
            api_key="xai-key",
            model="grok-voice-transcribe-2.0",
            endpointing=800,
            diarize=False,
            filler_words=True,
            keyterms=["jambonz"],
            smart_turn=0.6,
            smart_turn_timeout=2000,
        ),
        {
            "apiKey": "xai-key",
            "model": "grok-voice-transcribe-2.0",
            "endpointing": 800,
            "diarize": False,
            "fillerWords": True,
            "keyterms": ["jambonz"],
            "smartTurn": 0.6,
            "smartTurnTimeout": 2000,
        },
    ),
    (
        ZoomOptions(
            api_key="zm-key",
            turn_detection=ZoomTurnDetection(threshold=0.5, prefix_padding_ms=300, silence_duration_ms=700),
            zoom_stt_uri="zoom.example.com",
            zoom_stt_use_tls=True,
        ),
        {
            "apiKey": "zm-key",
            "turn_detection": {"threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 700},
            "zoomSttUri": "zoom.example.com",
            "zoomSttUseTls": True,
        },
    ),
]

CASE_IDS = [f"{type(model).__name__}-{index}" for index, (model, _) in enumerate(CASES)]


@pytest.mark.parametrize(("model", "expected"), CASES, ids=CASE_IDS)
def test_exact_json(model: BaseModel, expected: dict[str, Any]) -> None:
    assert dump(model) == expected
    # The same through the package's encoder, which writes answers to jambonz.
    assert pydantic_core.from_json(pydantic_core.to_json(model, by_alias=True, exclude_none=True)) == expected


@pytest.mark.parametrize(("model", "expected"), CASES, ids=CASE_IDS)
def test_json_passes_the_official_schema(model: BaseModel, expected: dict[str, Any]) -> None:
    schema_id: str = type(model).schema_id  # type: ignore[attr-defined]
    assert errors(schema_id, dump(model)) == []


@pytest.mark.parametrize(("model", "expected"), CASES, ids=CASE_IDS)
def test_jambonz_spelling_reads_back(model: BaseModel, expected: dict[str, Any]) -> None:
    again = type(model).model_validate(expected)
    assert dump(again) == expected


# gladiaOptions is free-form by its schema: see test_gladia_options_take_any_key.
CLOSED = [
    (case, case_id)
    for case, case_id in zip(CASES, CASE_IDS, strict=True)
    if not isinstance(case[0], GladiaOptions)
]


@pytest.mark.parametrize(
    ("model", "expected"), [case for case, _ in CLOSED], ids=[case_id for _, case_id in CLOSED]
)
def test_unknown_field_is_rejected(model: BaseModel, expected: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        type(model).model_validate({**expected, "lenguage": "en-US"})


def test_every_option_block_goes_in_the_recognizer_under_its_own_key() -> None:
    for model, expected in CASES:
        schema_id: str = type(model).schema_id  # type: ignore[attr-defined]
        if not schema_id.startswith("components/recognizer-"):
            continue
        key = schema_id.removeprefix("components/recognizer-")
        data = dump(Recognizer.model_validate({"vendor": "any", key: model}))
        assert data == {"vendor": "any", key: expected}
        assert errors("components/recognizer", data) == []


# ---------------------------------------------------------------------------------------------
# The schemas' own examples
# ---------------------------------------------------------------------------------------------

EXAMPLE_MODELS: dict[str, type[BaseModel]] = {
    "components/amd": Amd,
    "components/recognizer": Recognizer,
    "components/synthesizer": Synthesizer,
    "components/target": Target,
}
EXAMPLES = [
    (model, example)
    for schema_id, model in EXAMPLE_MODELS.items()
    for example in schemas()[schema_id]["examples"]
]


def test_examples_are_found() -> None:
    with_examples = {schema_id for schema_id in OWNED if "examples" in schemas()[schema_id]}
    assert with_examples == set(EXAMPLE_MODELS)
    assert len(EXAMPLES) == 10


@pytest.mark.parametrize(("model", "example"), EXAMPLES)
def test_schema_examples_round_trip(model: type[BaseModel], example: dict[str, Any]) -> None:
    assert dump(model.model_validate(example)) == example


def test_recognizer_hint_examples() -> None:
    for hints in schemas()["components/recognizer"]["properties"]["hints"]["examples"]:
        data = {"vendor": "google", "hints": hints}
        assert dump(Recognizer.model_validate(data)) == data


# ---------------------------------------------------------------------------------------------
# Wrong values, missing fields
# ---------------------------------------------------------------------------------------------

BAD: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (Auth, {"username": 7, "password": "p"}),
    (Synthesizer, {"vendor": "google", "engine": "turbo"}),
    (Synthesizer, {"vendor": "google", "gender": "female"}),
    (Synthesizer, {"vendor": "google", "voice": 5}),
    (Synthesizer, {"vendor": ["google"]}),
    (Vad, {"mode": 4}),
    (Vad, {"mode": -1}),
    (Vad, {"threshold": 1.5}),
    (Vad, {"vendor": "krisp"}),
    (Vad, {"enable": "sometimes"}),
    (Target, {"type": "pstn", "number": "+15085551212"}),
    (Target, {"type": "phone", "number": "+15085551212", "method": "PUT"}),
    (Target, {"type": "phone", "number": "+15085551212", "headers": {"X-Count": 1}}),
    (Target, {"type": "phone", "number": "+15085551212", "from": {"user": "a", "port": 5060}}),
    (Target, {"type": "phone", "number": "+15085551212", "auth": {"username": "a"}}),
    (FillerNoise, {"enable": "maybe"}),
    (FillerNoise, {"enable": True, "startDelaySecs": "soon"}),
    (ActionHookDelayAction, {"actions": "say"}),
    (ActionHookDelayAction, {"actions": ["say"]}),
    (ActionHookDelayAction, {"retries": "many"}),
    (Amd, {"actionHook": "/amd", "timers": {"noSpeechTimeoutMs": "soon"}}),
    (Amd, {"actionHook": "/amd", "timers": {"noSpeechTimeout": 3000}}),
    (Amd, {"actionHook": 42}),
    (Amd, {"actionHook": "/amd", "recognizer": {"language": "en-US"}}),
    (Recognizer, {"vendor": "google", "minConfidence": 1.2}),
    (Recognizer, {"vendor": "google", "minConfidence": -0.1}),
    (Recognizer, {"vendor": "google", "interactionType": "chat"}),
    (Recognizer, {"vendor": "google", "outputFormat": "full"}),
    (Recognizer, {"vendor": "google", "profanityOption": "hidden"}),
    (Recognizer, {"vendor": "google", "filterMethod": "drop"}),
    (Recognizer, {"vendor": "google", "hints": [{"boost": 2}]}),
    (Recognizer, {"vendor": "google", "hints": [{"phrase": "a", "weight": 2}]}),
    (Recognizer, {"vendor": "google", "vad": {"mode": 9}}),
    (Recognizer, {"vendor": "deepgram", "deepgramOptions": {"smartFormating": True}}),
    (Recognizer, {"vendor": "google", "googleOptions": "v2"}),
    (AssemblyAiOptions, {"serviceVersion": "v4"}),
    (AssemblyAiOptions, {"voiceFocus": "mid-field"}),
    (AssemblyAiOptions, {"keyterms": "jambonz"}),
    (AwsOptions, {"vocabularyFilterMethod": "hide"}),
    (AzureOptions, {"languageIdMode": "atStart"}),
    (AzureOptions, {"speechRecognitionMode": "conversation"}),
    (CustomOptions, {"options": "x"}),
    (DeepgramOptions, {"redact": "all"}),
    (DeepgramOptions, {"endpointing": "soon"}),
    (DeepgramOptions, {"eotThreshold": 2}),
    (ElevenlabsOptions, {"commitStrategy": "auto"}),
    (GoogleOptions, {"customVocabulary": ["word"] * 1001}),
    (GoogleOptions, {"serviceVersion": "v3"}),
    (GoogleOptions, {"mode": "verbatim"}),
    (GoogleOptions, {"transcriptNormalization": {"a": 1}}),
    (GradiumOptions, {"delayInFrames": 6}),
    (GradiumOptions, {"delayInFrames": 57}),
    (GradiumOptions, {"delayInFrames": 10.5}),
    (GradiumOptions, {"temp": 1.6}),
    (GradiumOptions, {"paddingBonus": -4.5}),
    (GradiumOptions, {"keywords": ["w"] * 501}),
    (GradiumOptions, {"turn_detection": {"threshold": 1}}),
    (GradiumOptions, {"turn_detection": {"threshold": 0}}),
    (GradiumOptions, {"turn_detection": {"horizon": 0}}),
    (GradiumOptions, {"turnDetection": {"horizon": 1}}),
    (HoundifyOptions, {"eoqThreshold": 1.1}),
    (HoundifyOptions, {"vadStopThreshold": -0.1}),
    (HoundifyOptions, {"requestInfo": "x"}),
    (IbmOptions, {"watsonLearningOptOut": "nope"}),
    (MistralOptions, {"contextBias": ["w"] * 101}),
    (MistralOptions, {"diarize": True, "speakerReferences": [{}] * 9}),
    (MistralOptions, {"streamingDelayMs": 500.5}),
    (MistralOptions, {"turnDetection": {"startThreshold": 1.2}}),
    (MistralOptions, {"turnDetection": {"minSilenceMs": -1}}),
    (MistralOptions, {"turnDetection": {"endTimeoutMs": 1.5}}),
    (ModulateOptions, {"emotionSignal": "loud"}),
    (NvidiaOptions, {"customConfiguration": [1]}),
    (OpenaiOptions, {"languages": []}),
    (OpenaiOptions, {"delay": "max"}),
    (OpenaiOptions, {"vadMode": 4}),
    (OpenaiOptions, {"vadSilenceMs": 0}),
    (OpenaiOptions, {"vadVoiceMs": 0}),
    (OpenaiOptions, {"turn_detection": {"type": "client_vad"}}),
    (OpenaiOptions, {"turn_detection": {"type": "server_vad", "eagerness": "eager"}}),
    (OpenaiOptions, {"turn_detection": {"type": "server_vad", "threshold": 2}}),
    (OpenaiOptions, {"input_audio_noise_reduction": "nearField"}),
    (OpenaiOptions, {"inputAudioNoiseReduction": "near_field"}),
    (OpenaiOptions, {"promptTemplates": {"hints": "x"}}),
    (SonioxOptions, {"endpointSensitivity": 1.5}),
    (SonioxOptions, {"maxEndpointDelayMs": 499}),
    (SonioxOptions, {"maxEndpointDelayMs": 3001}),
    (SonioxOptions, {"maxNonFinalTokensDurationMs": -1}),
    (SonioxOptions, {"context": {"translationTerms": []}}),
    (SonioxOptions, {"storage": {"disableSearch": "nope"}}),
    (SpeechmaticsOptions, {"profile": "fast"}),
    (SpeechmaticsOptions, {"transcriptionConfig": {}}),
    (SpeechmaticsOptions, {"transcription_config": {"max_delay_mode": "auto"}}),
    (SpeechmaticsOptions, {"transcription_config": {"enablePartials": True}}),
    (SpeechmaticsOptions, {"audio_events_config": {"types": ["cough"]}}),
    (XaiOptions, {"endpointing": 5001}),
    (XaiOptions, {"endpointing": 1.5}),
    (XaiOptions, {"smartTurn": 1.5}),
    (XaiOptions, {"smartTurnTimeout": 0}),
    (ZoomOptions, {"turn_detection": {"threshold": 0.1}}),
    (ZoomOptions, {"turn_detection": {"threshold": 0.95}}),
    (ZoomOptions, {"turn_detection": {"silence_duration_ms": 200}}),
    (ZoomOptions, {"turn_detection": {"prefix_padding_ms": -1}}),
]


@pytest.mark.parametrize(("model", "data"), BAD, ids=[f"{m.__name__}-{i}" for i, (m, _) in enumerate(BAD)])
def test_wrong_value_is_rejected(model: type[BaseModel], data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(data)


MISSING: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (Auth, {"username": "alice"}),
    (Auth, {"password": "s3cret"}),
    (Synthesizer, {"language": "en-US"}),
    (Recognizer, {"language": "en-US"}),
    (RecognizerHint, {"boost": 5}),
    (Target, {"number": "+15085551212"}),
    (FillerNoise, {"url": "https://example.com/typing.wav"}),
    (Amd, {"thresholdWordCount": 6}),
    (OpenaiTurnDetection, {"eagerness": "low"}),
    (SonioxContextEntry, {"key": "domain"}),
    (SonioxTranslationTerm, {"target": "reembolso"}),
    (SpeechmaticsAudioFilteringConfig, {}),
    (SpeechmaticsReplacement, {"to": "jambonz"}),
    (SpeechmaticsTranslationConfig, {"enable_partials": True}),
    (BasicAuth, {"username": "u"}),
    (HookObject, {"method": "POST"}),
]


@pytest.mark.parametrize(
    ("model", "data"), MISSING, ids=[f"{m.__name__}-{i}" for i, (m, _) in enumerate(MISSING)]
)
def test_missing_required_field_is_rejected(model: type[BaseModel], data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="Field required"):
        model.model_validate(data)


def test_snake_case_keys_of_vendor_blocks_stay_as_the_vendor_writes_them() -> None:
    # jambonz's camelCase is right almost everywhere, but these keys are passed to the vendor.
    options = OpenaiOptions.model_validate({"turn_detection": {"type": "none"}})
    assert dump(options) == {"turn_detection": {"type": "none"}}
    mistral = MistralOptions.model_validate({"turn_detection": {"min_silence_ms": 600}})  # Python names
    assert dump(mistral) == {"turnDetection": {"minSilenceMs": 600}}
    with pytest.raises(ValidationError):
        SpeechmaticsOptions.model_validate({"transcription_config": {"additionalVocab": []}})


def test_gladia_options_take_any_key() -> None:
    data = {
        "pre_processing": {"audio_enhancer": True},
        "realtime_processing": {"words_accurate_timestamps": True},
    }
    options = GladiaOptions.model_validate(data)
    assert dump(options) == data
    assert errors("components/recognizer-gladiaOptions", dump(options)) == []
    with pytest.raises(ValidationError):
        Recognizer.model_validate({"vendor": "gladia", "gladiaOptions": ["not", "an", "object"]})


# ---------------------------------------------------------------------------------------------
# Cross-field rules
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "needed"),
    [
        ({"type": "phone"}, "number"),
        ({"type": "phone", "name": "bob"}, "number"),
        ({"type": "sip", "number": "+15085551212"}, "sip_uri"),
        ({"type": "user", "sipUri": "sip:bob@example.com"}, "name"),
        ({"type": "teams", "tenant": "contoso.onmicrosoft.com"}, "number"),
    ],
)
def test_target_needs_the_address_of_its_type(target: dict[str, Any], needed: str) -> None:
    with pytest.raises(ValidationError, match=f"target: a '{target['type']}' target needs {needed}"):
        Target.model_validate(target)


@pytest.mark.parametrize(
    "target",
    [
        {"type": "phone", "number": "+15085551212"},
        {"type": "sip", "sipUri": "sip:alice@example.com"},
        {"type": "user", "name": "bob"},
        {"type": "teams", "number": "+15085551212"},  # the tenant defaults to the account's
    ],
)
def test_target_with_its_address_passes(target: dict[str, Any]) -> None:
    assert dump(Target.model_validate(target)) == target
    assert errors("components/target", target) == []


@pytest.mark.parametrize("delay", [80, 480, 1200, 2400])
def test_mistral_streaming_delay_in_range(delay: int) -> None:
    data = {"streamingDelayMs": delay}
    assert dump(MistralOptions.model_validate(data)) == data
    assert errors("components/recognizer-mistralOptions", data) == []


@pytest.mark.parametrize("delay", [79, 1201, 2000, 2401])
def test_mistral_streaming_delay_out_of_range(delay: int) -> None:
    with pytest.raises(ValidationError, match="streaming_delay_ms must be 80 to 1200, or 2400"):
        MistralOptions(streaming_delay_ms=delay)
    assert errors("components/recognizer-mistralOptions", {"streamingDelayMs": delay}) != []


def test_mistral_speaker_references_need_diarize() -> None:
    with pytest.raises(ValidationError, match="speaker_references needs diarize=True"):
        MistralOptions(speaker_references=[{"name": "Alice"}])
    with pytest.raises(ValidationError, match="speaker_references needs diarize=True"):
        MistralOptions(speaker_references=[{"name": "Alice"}], diarize=False)
    assert MistralOptions(speaker_references=[{"name": "Alice"}], diarize=True).diarize is True


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"start_threshold": 0.4, "eager_end_threshold": 0.5},
            "start_threshold must be >= eager_end_threshold",
        ),
        ({"eager_end_threshold": 0.3, "end_threshold": 0.3}, "eager_end_threshold must be > end_threshold"),
        ({"start_threshold": 0.3, "end_threshold": 0.4}, "start_threshold must be > end_threshold"),
        ({"min_silence_ms": 800, "end_timeout_ms": 700}, "end_timeout_ms must be >= min_silence_ms"),
    ],
)
def test_mistral_turn_detection_order_broken(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MistralTurnDetection(**fields)


@pytest.mark.parametrize(
    "fields",
    [
        {"start_threshold": 0.5, "eager_end_threshold": 0.5, "end_threshold": 0.33},
        {"start_threshold": 0.9, "end_threshold": 0.1},
        {"eager_end_threshold": 0.2},
        {"min_silence_ms": 800, "end_timeout_ms": 800},
    ],
)
def test_mistral_turn_detection_order_kept(fields: dict[str, Any]) -> None:
    data = dump(MistralOptions(turn_detection=MistralTurnDetection(**fields)))
    assert errors("components/recognizer-mistralOptions", data) == []


def test_openai_language_or_languages() -> None:
    with pytest.raises(ValidationError, match="openaiOptions: give language or languages, not both"):
        OpenaiOptions(language="en", languages=["en", "fr"])
    assert dump(OpenaiOptions(language="en")) == {"language": "en"}
    assert dump(OpenaiOptions(languages=["en"])) == {"languages": ["en"]}


# ---------------------------------------------------------------------------------------------
# Hook objects (components/actionHook) and the verbs inside actionHookDelayAction
# ---------------------------------------------------------------------------------------------


def test_hook_object_with_basic_auth() -> None:
    amd = Amd(
        action_hook=HookObject(url="/amd", method="post", basic_auth=BasicAuth(username="u", password="p"))
    )
    written = pydantic_core.to_json(amd, by_alias=True, exclude_none=True, context=HookContext(prefix="/v"))
    hook = pydantic_core.from_json(written)
    assert hook["actionHook"] == {
        "url": "/v/amd",
        "method": "POST",
        "basicAuth": {"username": "u", "password": "p"},
    }
    assert errors("components/actionHook", hook["actionHook"]) == []
    assert errors("components/amd", {"actionHook": hook["actionHook"]}) == []


def test_hook_object_with_username_and_password() -> None:
    data = dump(Amd(action_hook={"url": "https://example.com/amd", "username": "u", "password": "p"}))
    assert data == {"actionHook": {"url": "https://example.com/amd", "username": "u", "password": "p"}}
    assert errors("components/actionHook", data["actionHook"]) == []


def test_hook_object_reads_the_schema_spelling() -> None:
    hook = HookObject.model_validate({"url": "/m", "basicAuth": {"username": "u", "password": "p"}})
    assert hook.basic_auth == BasicAuth(username="u", password="p")
    with pytest.raises(ValidationError):
        HookObject.model_validate({"url": "/m", "basicAuth": {"username": "u", "pass": "p"}})
    with pytest.raises(ValidationError):
        HookObject.model_validate({"url": "/m", "method": "PUT"})


@pytest.mark.parametrize(
    "fields",
    [
        {"username": "u"},
        {"password": "p"},
        {"username": "u", "password": "p", "basic_auth": {"username": "u", "password": "p"}},
    ],
)
def test_hook_object_credentials_rules(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="hook: "):
        HookObject.model_validate({"url": "/m", **fields})


def test_delay_actions_are_whole_verbs_with_hooks_resolved() -> None:
    delay = ActionHookDelayAction(
        actions=[Say(text="Hold on")], give_up_actions=[Redirect(action_hook="/busy")]
    )
    data = pydantic_core.from_json(
        pydantic_core.to_json(delay, by_alias=True, exclude_none=True, context=HookContext(prefix="/voice"))
    )
    assert data == {
        "actions": [{"verb": "say", "text": "Hold on"}],
        "giveUpActions": [{"verb": "redirect", "actionHook": "/voice/busy"}],
    }
    assert errors("components/actionHookDelayAction", data) == []


def test_recognizer_still_importable_from_components() -> None:
    assert components.Recognizer is recognizer.Recognizer
    assert components.RecognizerHint is recognizer.RecognizerHint


# ---------------------------------------------------------------------------------------------
# The models beside the schemas, nested objects included
# ---------------------------------------------------------------------------------------------

OWNED = [
    "components/actionHook",
    "components/actionHookDelayAction",
    "components/amd",
    "components/auth",
    "components/fillerNoise",
    "components/recognizer",
    "components/synthesizer",
    "components/target",
    "components/vad",
    *(schema_id for schema_id in schemas() if schema_id.startswith("components/recognizer-")),
]
MODELS: dict[str, type[BaseModel]] = {
    model.schema_id: model  # type: ignore[attr-defined]
    for module in (components, recognizer)
    for model in vars(module).values()
    if isinstance(model, type) and issubclass(model, BaseModel) and "schema_id" in model.__dict__
}
MODELS["components/actionHook"] = HookObject

# Properties the models have beyond the schema, on purpose (a hook's retry policy is written in its url).
EXTRA_PROPERTIES: set[tuple[type[BaseModel], str]] = {
    (HookObject, "username"),
    (HookObject, "password"),
    (HookObject, "retry"),
}
# Enum values the models accept beyond the schema (and write in the schema's spelling).
EXTRA_ENUM: dict[tuple[type[BaseModel], str], set[str]] = {(HookObject, "method"): {"get", "post"}}

_BOUNDS = {
    "minimum": (annotated_types.Ge, "ge"),
    "maximum": (annotated_types.Le, "le"),
    "exclusiveMinimum": (annotated_types.Gt, "gt"),
    "exclusiveMaximum": (annotated_types.Lt, "lt"),
    "minItems": (annotated_types.MinLen, "min_length"),
    "maxItems": (annotated_types.MaxLen, "max_length"),
}


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = schemas()["components/" + schema["$ref"]]
    return schema


def _object_with_properties(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The object schema with declared properties in ``schema``: itself, its items, or a branch."""
    schema = _resolve(schema)
    if "properties" in schema:
        return schema
    if isinstance(schema.get("items"), dict):
        return _object_with_properties(schema["items"])
    for key in ("oneOf", "anyOf"):
        for branch in schema.get(key, []):
            found = _object_with_properties(branch)
            if found is not None:
                return found
    return None


def _flat(annotation: Any) -> list[Any]:
    """The members of a union, Annotated unwrapped."""
    if get_origin(annotation) is Annotated:
        return _flat(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        return [member for arg in get_args(annotation) for member in _flat(arg)]
    return [annotation]


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    for member in _flat(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            found.append(member)
        else:
            for arg in get_args(member):
                found.extend(_models_in(arg))
    return found


def _literals_in(annotation: Any) -> set[Any]:
    values: set[Any] = set()
    for member in _flat(annotation):
        if get_origin(member) is Literal:
            values |= set(get_args(member))
        else:
            for arg in get_args(member):
                values |= _literals_in(arg)
    return values


def _kinds(annotation: Any) -> set[str]:
    """The JSON types a field's annotation takes (top level of the union)."""
    kinds: set[str] = set()
    for member in _flat(annotation):
        origin = get_origin(member) or member
        if origin is Literal:
            kinds |= {"string" if isinstance(v, str) else "number" for v in get_args(member)}
        elif (isinstance(origin, type) and issubclass(origin, BaseModel)) or origin is dict:
            kinds.add("object")
        elif origin is list:
            kinds.add("array")
        elif origin is bool:
            kinds.add("boolean")
        elif origin is int:
            kinds.add("integer")
        elif origin is float:
            kinds.add("number")
        elif origin is str:
            kinds.add("string")
    return kinds


def _item_annotation(annotation: Any) -> Any:
    for member in _flat(annotation):
        if get_origin(member) is list:
            return get_args(member)[0]
    raise AssertionError(f"no list in {annotation}")


def _compare(model: type[BaseModel], schema: dict[str, Any], path: str, seen: set[Any]) -> list[str]:
    if (model, path) in seen:
        return []
    seen.add((model, path))
    problems: list[str] = []
    properties: dict[str, Any] = schema.get("properties", {})
    fields = {(field.alias or name): field for name, field in model.model_fields.items()}
    for name in sorted(set(properties) - set(fields)):
        problems.append(f"{path}.{name}: missing from {model.__name__}")
    for name in sorted(set(fields) - set(properties)):
        if (model, name) not in EXTRA_PROPERTIES:
            problems.append(f"{path}.{name}: {model.__name__} has it, the schema does not")
    required = {name for name, field in fields.items() if field.is_required()}
    if required != set(schema.get("required", [])):
        problems.append(f"{path}: required {sorted(required)} != schema {sorted(schema.get('required', []))}")
    for name, prop in properties.items():
        if name not in fields:
            continue
        field, where = fields[name], f"{path}.{name}"
        target = _resolve(prop)
        if "$ref" in prop:
            (ref_model,) = _models_in(field.annotation)
            expected_id = "components/" + prop["$ref"]
            if getattr(ref_model, "schema_id", None) != expected_id:
                problems.append(f"{where}: {ref_model.__name__} is not the model of {expected_id}")
        # Types (the items' too).
        declared = target.get("type")
        if isinstance(declared, str | list):
            ours = _kinds(field.annotation)
            for kind in [declared] if isinstance(declared, str) else declared:
                if kind not in ours or (kind == "integer" and "number" in ours):
                    problems.append(f"{where}: schema type {kind}, model {sorted(ours)}")
            items = target.get("items", {})
            if "type" in items and items["type"] not in _kinds(_item_annotation(field.annotation)):
                problems.append(f"{where}[]: schema type {items['type']}")
        # Enums, of the value or of its items.
        enum = target.get("enum") or target.get("items", {}).get("enum")
        if enum is not None:
            extra = EXTRA_ENUM.get((model, name), set())
            if _literals_in(field.annotation) != set(enum) | extra:
                problems.append(f"{where}: enum {sorted(enum)} != {sorted(_literals_in(field.annotation))}")
        # Bounds and item counts.
        for keyword, (kind, attribute) in _BOUNDS.items():
            if keyword in target and not any(
                isinstance(meta, kind) and getattr(meta, attribute) == target[keyword]
                for meta in field.metadata
            ):
                problems.append(f"{where}: {keyword} {target[keyword]} not enforced")
        # Nested objects with declared properties have a model of their own.
        nested = _object_with_properties(target)
        if nested is not None:
            found = _models_in(field.annotation)
            if not found:
                problems.append(f"{where}: no model for a nested object")
            else:
                problems.extend(_compare(found[0], nested, where, seen))
    return problems


def test_each_owned_schema_has_its_model() -> None:
    assert sorted(MODELS) == sorted(OWNED)
    assert len([sid for sid in OWNED if sid.startswith("components/recognizer-")]) == 19


@pytest.mark.parametrize("schema_id", OWNED)
def test_model_agrees_with_schema(schema_id: str) -> None:
    schema = _object_with_properties(schemas()[schema_id]) or schemas()[schema_id]
    assert _compare(MODELS[schema_id], schema, schema_id, set()) == []


def test_the_comparison_notices_a_difference() -> None:
    schema = {
        "properties": {
            "apiKey": {"type": "string"},
            "turn_detection": {
                "type": "object",
                "properties": {"threshold": {"type": "number", "minimum": 0.1}},
            },
            "newThing": {"type": "boolean"},
            "vadMode": {"type": "integer", "minimum": 0, "maximum": 3, "enum": [0, 1]},
        },
        "required": ["apiKey"],
    }
    problems = _compare(ZoomOptions, schema, "x", set())
    assert "x.newThing: missing from ZoomOptions" in problems
    assert "x.zoomSttUri: ZoomOptions has it, the schema does not" in problems
    assert "x: required [] != schema ['apiKey']" in problems
    assert "x.turn_detection.threshold: minimum 0.1 not enforced" in problems
