"""The call-hook body of the load benchmark: jambonz's ``session-new`` with a realistic SIP INVITE.

It is the call hook jambonz POSTs when a call arrives, with the INVITE's headers as a carrier's
SBC sends them (Via chain, Record-Route, Allow, Supported, P-Asserted-Identity, X- headers ...)
and its SDP, encoded as compact JSON: about 2.5 KB.

``python benchmarks/payload.py [PATH]`` writes the body to PATH (default ``benchmarks/out/body.json``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).resolve().parent / "out" / "body.json"

SDP = (
    "v=0\r\n"
    "o=- 3912345678 3912345678 IN IP4 203.0.113.10\r\n"
    "s=-\r\n"
    "c=IN IP4 203.0.113.10\r\n"
    "t=0 0\r\n"
    "m=audio 40000 RTP/AVP 0 8 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\n"
    "a=ptime:20\r\n"
    "a=sendrecv\r\n"
)

SIP_HEADERS: dict[str, str] = {
    "Via": (
        "SIP/2.0/UDP 10.0.1.4:5060;branch=z9hG4bK6vQ0aBS3r1a9g;rport=5060,"
        "SIP/2.0/UDP 203.0.113.10:5060;received=203.0.113.10;branch=z9hG4bK776asdhds"
    ),
    "Max-Forwards": "68",
    "Record-Route": "<sip:10.0.1.4;lr;r2=on>,<sip:198.51.100.7;lr;r2=on>",
    "From": '"Alice Example" <sip:+15083084809@203.0.113.10>;tag=1928301774',
    "To": "<sip:+15083728299@jambonz.example>",
    "Call-ID": "a1b2c3d4e5f6@203.0.113.10",
    "CSeq": "314159 INVITE",
    "Contact": "<sip:+15083084809@203.0.113.10:5060;transport=udp>",
    "Allow": "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE, REFER, NOTIFY, PRACK",
    "Supported": "replaces, timer, 100rel",
    "Session-Expires": "1800;refresher=uac",
    "User-Agent": "CarrierSBC/4.2.1",
    "P-Asserted-Identity": '"Alice Example" <sip:+15083084809@203.0.113.10;user=phone>',
    "Content-Type": "application/sdp",
    "Content-Length": str(len(SDP.encode())),
    "X-Forwarded-For": "203.0.113.10",
    "X-Originating-Carrier": "carrier-east",
    "X-Voip-Carrier-Sid": "cf1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8",
    "X-Trace-ID": "4bf92f3577b34da6a3ce929d0e0e4736",
    "X-Account-Ref": "acct-42",
    "X-Odd-Header": 'a=b; c="d e"; ünïcödé ☎',
}


def session_new() -> dict[str, Any]:
    """A call hook payload (jambonz's ``session-new``) with its SIP INVITE."""
    return {
        "call_sid": "b5e3f2a0-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
        "account_sid": "9351f46a-678c-43f5-b8a6-d4eb58d131af",
        "application_sid": "7087fe50-8acb-4f3b-b820-97b573723aab",
        "direction": "inbound",
        "from": "+15083084809",
        "to": "+15083728299",
        "call_id": "a1b2c3d4e5f6@203.0.113.10",
        "sbc_callid": "f6e5d4c3b2a1@198.51.100.7",
        "call_status": "trying",
        "sip_status": 100,
        "sip_reason": "Trying",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "originating_sip_ip": "203.0.113.10",
        "originating_sip_trunk_name": "carrier-east",
        "api_base_url": "https://api.jambonz.example/v1",
        "caller_name": "Alice Example",
        "caller_id": "+15083084809",
        "service_provider_sid": "2708b1b3-2736-40ea-b502-c53d8396247f",
        "fs_sip_address": "10.0.1.5:5060",
        "fs_public_ip": "198.51.100.20",
        "local_sip_address": "10.0.1.4:5060",
        "sip": {
            "headers": SIP_HEADERS,
            "body": SDP,
            "method": "INVITE",
            "version": "2.0",
            "uri": "sip:+15083728299@jambonz.example",
            "calledNumber": "+15083728299",
            "callingNumber": "+15083084809",
            "protocol": "udp",
            "source_address": "203.0.113.10",
            "source_port": 5060,
            "type": "request",
            "source": "network",
        },
        "env_vars": {"COMPANY_NAME": "Acme", "MAX_RETRIES": 3, "DEBUG": False},
        "defaults": {
            "synthesizer": {"vendor": "google", "language": "en-US", "voice": "en-US-Standard-C"},
            "recognizer": {"vendor": "deepgram", "language": "en-US"},
        },
        "customerData": {"crmId": "CRM-123", "nested": {"tier": "gold"}},
    }


def body() -> bytes:
    """The call hook's body as jambonz sends it: compact JSON, UTF-8."""
    return json.dumps(session_new(), separators=(",", ":"), ensure_ascii=False).encode()


def write_body(path: Path = DEFAULT_PATH) -> Path:
    """Write :func:`body` to ``path`` (its directory is made) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body())
    return path


if __name__ == "__main__":
    written = write_body(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PATH)
    print(f"{written}: {written.stat().st_size} bytes")
