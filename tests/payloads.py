"""Realistic payloads jambonz sends, for the tests (and the benchmarks' call hook, built on them)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

SDP = (
    "v=0\r\no=- 3912345678 3912345678 IN IP4 203.0.113.10\r\ns=-\r\nc=IN IP4 203.0.113.10\r\n"
    "t=0 0\r\nm=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
)


# The INVITE's headers as a test needs them: a few, an X- header, and one with odd characters.
INVITE_HEADERS: dict[str, str] = {
    "Via": "SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK776asdhds",
    "From": '"Alice Example" <sip:+15083084809@203.0.113.10>;tag=1928301774',
    "To": "<sip:+15083728299@jambonz.example>",
    "Call-ID": "a1b2c3d4e5f6@203.0.113.10",
    "CSeq": "314159 INVITE",
    "Contact": "<sip:+15083084809@203.0.113.10:5060>",
    "Content-Type": "application/sdp",
    "X-Account-Ref": "acct-42",
    "X-Odd-Header": 'a=b; c="d e"; ünïcödé ☎',
}


def invite(headers: Mapping[str, str] = INVITE_HEADERS, **fields: Any) -> dict[str, Any]:
    """The call hook's ``sip``: the INVITE jambonz received, with ``headers`` and ``fields`` added."""
    return {
        "headers": dict(headers),
        "body": SDP,
        "method": "INVITE",
        "uri": "sip:+15083728299@jambonz.example",
        "calledNumber": "+15083728299",
        "callingNumber": "+15083084809",
        "protocol": "udp",
        "source_address": "203.0.113.10",
        "source_port": 5060,
        "type": "request",
        "source": "network",
        **fields,
    }


def call_info(**overrides: Any) -> dict[str, Any]:
    """The call information every hook carries, as jambonz sends it."""
    data: dict[str, Any] = {
        "call_sid": "b5e3f2a0-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
        "account_sid": "9351f46a-678c-43f5-b8a6-d4eb58d131af",
        "application_sid": "7087fe50-8acb-4f3b-b820-97b573723aab",
        "direction": "inbound",
        "from": "+15083084809",
        "to": "+15083728299",
        "call_id": "a1b2c3d4e5f6@203.0.113.10",
        "sbc_callid": "f6e5d4c3b2a1@198.51.100.7",
        "call_status": "in-progress",
        "sip_status": 200,
        "sip_reason": "OK",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "originating_sip_ip": "203.0.113.10",
        "originating_sip_trunk_name": "carrier-east",
        "api_base_url": "https://api.jambonz.example/v1",
    }
    data.update(overrides)
    return data


def session_new(**overrides: Any) -> dict[str, Any]:
    """A call hook payload (jambonz's ``session-new``), with its SIP INVITE."""
    data = call_info(call_status="trying", sip_status=100, sip_reason="Trying")
    data.update(
        {
            "caller_name": "Alice Example",
            "caller_id": "+15083084809",
            "service_provider_sid": "2708b1b3-2736-40ea-b502-c53d8396247f",
            "parent_call_sid": "0e1d2c3b-4a59-6877-8695-a4b3c2d1e0f9",
            "fs_sip_address": "10.0.1.5:5060",
            "fs_public_ip": "198.51.100.20",
            "sip": invite(),
            "env_vars": {"COMPANY_NAME": "Acme", "MAX_RETRIES": 3, "DEBUG": False},
            "defaults": {
                "synthesizer": {"vendor": "google", "language": "en-US", "voice": "en-US-Standard-C"},
                "recognizer": {"vendor": "deepgram", "language": "en-US"},
            },
            "customerData": {"crmId": "CRM-123", "nested": {"tier": "gold"}},
        }
    )
    data.update(overrides)
    return data


def post_as_jambonz(client: Any, path: str, payload: dict[str, Any]) -> Any:
    """POST ``payload`` as jambonz does (compact JSON, raw UTF-8); the answer's JSON, None for a 204."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code in (200, 204), response.text
    return response.json() if response.status_code == 200 else None
