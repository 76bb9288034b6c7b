"""The call-hook body of the load benchmark: jambonz's ``session-new`` with a realistic SIP INVITE.

It is the call hook jambonz POSTs when a call arrives, with the INVITE's headers as a carrier's
SBC sends them (Via chain, Record-Route, Allow, Supported, P-Asserted-Identity, X- headers ...)
and its SDP, encoded as compact JSON: about 2.6 KB. It is built on the tests' payloads
(``tests/payloads.py``), so both send the same call.

``python benchmarks/payload.py [PATH]`` writes the body to PATH (default ``benchmarks/out/body.json``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests, from a checkout

from tests.payloads import SDP, invite  # after the path that finds them
from tests.payloads import session_new as call_hook

DEFAULT_PATH = Path(__file__).resolve().parent / "out" / "body.json"

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
    """A call hook payload (jambonz's ``session-new``) with a carrier's whole SIP INVITE.

    The tests' call hook, with the INVITE as the SBC forwards it and the fields of a call from a
    carrier: the address jambonz received it on, and no parent call.
    """
    call = call_hook(sip=invite(SIP_HEADERS, version="2.0"), local_sip_address="10.0.1.4:5060")
    del call["parent_call_sid"]
    return call


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
