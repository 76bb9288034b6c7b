"""Who may call the hooks: jambonz's request signature and HTTP basic auth.

jambonz signs each webhook with the account's webhook secret (PROTOCOL.md, section 4)::

    Jambonz-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>

The signature is checked over the exact bytes received, never over re-serialized JSON: a body
that a proxy pretty-printed must fail, and one that differs in any byte must fail too. Every
comparison of a secret-derived value is constant-time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "BasicCredentials",
    "HookSecurity",
    "SignatureError",
    "compute_signature",
    "parse_signature_header",
    "verify_signature",
]

SIGNATURE_HEADER = "Jambonz-Signature"
DEFAULT_TOLERANCE = 300.0
"""Seconds a signature's timestamp may differ from the clock, in the past or the future."""

ENV_SECRET = "JAMBONZ_WEBHOOK_SECRET"
ENV_USERNAME = "JAMBONZ_WEBHOOK_USERNAME"
ENV_PASSWORD = "JAMBONZ_WEBHOOK_PASSWORD"

# A header with many v1 entries makes the server compute as many comparisons: bound it.
MAX_SIGNATURES = 16
_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


class SignatureError(ValueError):
    """The request's signature is missing, malformed, stale or wrong; the message says which."""


@dataclass(frozen=True, slots=True)
class ParsedSignature:
    """The parts of a ``Jambonz-Signature`` header."""

    timestamp: int
    signatures: tuple[str, ...]


def parse_signature_header(value: str) -> ParsedSignature:
    """Split ``t=...,v1=...[,v1=...]`` into its timestamp and its v1 signatures.

    Other schemes (``v0=...``) are ignored, as they are by jambonz's own verifiers, so that a
    future scheme can be sent beside v1.

    Raises:
        SignatureError: no timestamp, a timestamp that is not a number, no v1 signature, or an
            entry that is not ``key=value``.

    """
    timestamp: int | None = None
    signatures: list[str] = []
    for part in value.split(","):
        key, sep, item = part.strip().partition("=")
        if not sep:
            raise SignatureError("malformed Jambonz-Signature header")
        if key == "t":
            if timestamp is not None:
                raise SignatureError("malformed Jambonz-Signature header: two timestamps")
            if not _TIMESTAMP.fullmatch(item):
                raise SignatureError("malformed Jambonz-Signature header: the timestamp is not a number")
            timestamp = int(item)
        elif key == "v1":
            if not _HEX_SHA256.fullmatch(item):
                raise SignatureError("malformed Jambonz-Signature header: v1 is not a SHA-256 hex digest")
            signatures.append(item.lower())
    if timestamp is None:
        raise SignatureError("malformed Jambonz-Signature header: no timestamp")
    if not signatures:
        raise SignatureError("malformed Jambonz-Signature header: no v1 signature")
    if len(signatures) > MAX_SIGNATURES:
        raise SignatureError("malformed Jambonz-Signature header: too many signatures")
    return ParsedSignature(timestamp, tuple(signatures))


def compute_signature(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The v1 signature jambonz sends: hex HMAC-SHA256 of ``"<timestamp>." + body``."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, b"%d." % timestamp + body, hashlib.sha256).hexdigest()


def verify_signature(
    header: str | None,
    body: bytes,
    secrets: Sequence[str | bytes],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Check a ``Jambonz-Signature`` header against the exact bytes of the body.

    Any v1 entry may match any of ``secrets`` (several secrets while one is rotated out).

    Raises:
        SignatureError: the header is missing or malformed, its timestamp is more than
            ``tolerance`` seconds away from ``now`` (past or future), or no signature matches.

    """
    if header is None:
        raise SignatureError("missing Jambonz-Signature header")
    parsed = parse_signature_header(header)
    clock = time.time() if now is None else now
    if abs(clock - parsed.timestamp) > tolerance:
        raise SignatureError("the signature's timestamp is outside the tolerance")
    matched = False
    for secret in secrets:
        expected = compute_signature(secret, parsed.timestamp, body)
        for signature in parsed.signatures:
            # No early exit: every pair is compared, each in constant time.
            matched |= hmac.compare_digest(expected, signature)
    if not matched:
        raise SignatureError("the signature does not match")


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    """The username and password jambonz sends (``Authorization: Basic ...``)."""

    username: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.username or not self.password:
            raise ValueError("basic auth needs both a username and a password")
        if ":" in self.username:
            raise ValueError("a basic auth username cannot contain ':'")

    def check(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header carries these credentials (constant-time)."""
        if authorization is None:
            return False
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        username, sep, password = decoded.partition(b":")
        # Both compared whatever the first gives, so the time says nothing about which was wrong.
        same_user = hmac.compare_digest(username, self.username.encode())
        same_password = hmac.compare_digest(password, self.password.encode())
        return bool(sep) and same_user and same_password


@dataclass(frozen=True, slots=True)
class HookSecurity:
    """What an app checks before a hook's handler runs (see :class:`~jambonz_webhooks.JambonzApp`)."""

    secrets: tuple[str, ...] = ()
    """Webhook secrets; a request must be signed with one of them. Empty: no signature check."""
    tolerance: float = DEFAULT_TOLERANCE
    allow_unsigned_get: bool = False
    """With secrets set, GET hooks (which jambonz cannot sign verifiably) are refused unless True."""
    basic_auth: BasicCredentials | None = None
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def __post_init__(self) -> None:
        if any(not secret for secret in self.secrets):
            raise ValueError("a webhook secret cannot be empty")
        # Written so that NaN fails too: a NaN window would let any timestamp through.
        if not 0 < self.tolerance < math.inf:
            raise ValueError("the signature tolerance must be a positive number of seconds")

    @classmethod
    def configure(
        cls,
        *,
        webhook_secret: str | Sequence[str] | None,
        basic_auth: tuple[str, str] | BasicCredentials | None,
        tolerance: float = DEFAULT_TOLERANCE,
        allow_unsigned_get: bool = False,
        environ: Mapping[str, str] | None = None,
    ) -> HookSecurity:
        """Build from an app's arguments, reading the environment for those left as None.

        ``JAMBONZ_WEBHOOK_SECRET`` may hold several secrets separated by commas (rotation).
        ``JAMBONZ_WEBHOOK_USERNAME`` and ``JAMBONZ_WEBHOOK_PASSWORD`` go together.
        """
        env = os.environ if environ is None else environ
        if webhook_secret is None:
            webhook_secret = [s.strip() for s in env.get(ENV_SECRET, "").split(",") if s.strip()]
        secrets = (webhook_secret,) if isinstance(webhook_secret, str) else tuple(webhook_secret)
        if basic_auth is None:
            username, password = env.get(ENV_USERNAME), env.get(ENV_PASSWORD)
            if (username is None) != (password is None):
                raise ValueError(f"{ENV_USERNAME} and {ENV_PASSWORD} must be set together")
            if username is not None and password is not None:
                basic_auth = (username, password)
        credentials = BasicCredentials(*basic_auth) if isinstance(basic_auth, tuple) else basic_auth
        return cls(secrets, tolerance, allow_unsigned_get, credentials)

    @property
    def signed(self) -> bool:
        """Whether requests must carry a valid signature."""
        return bool(self.secrets)

    def verify(self, header: str | None, body: bytes) -> None:
        """Check a request's signature (see :func:`verify_signature`)."""
        verify_signature(header, body, self.secrets, tolerance=self.tolerance, now=self.clock())
