"""Who may call the hooks: jambonz's request signature and HTTP basic auth.

jambonz signs each webhook with the account's webhook secret (jambonz-feature-server 0.9.8,
``lib/utils/base-requestor.js`` ``_computeSignature``, ``_generateSigHeader``)::

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
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import HookError

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
ENV_INSECURE = "JAMBONZ_WEBHOOK_INSECURE"

CLOSED_MESSAGE = "hooks are closed: this server has no webhook secret or basic auth configured"
"""The answer (503) to every hook of an app that is neither protected nor explicitly opened."""

# A header with many v1 entries makes the server compute as many comparisons: bound it.
MAX_SIGNATURES = 16
MAX_SIGNATURE_HEADER = 2048
"""Characters of a ``Jambonz-Signature`` header read at most: 16 signatures and a timestamp fit."""


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
    future scheme can be sent beside v1. A header longer than :data:`MAX_SIGNATURE_HEADER` is
    refused before it is split.

    Raises:
        SignatureError: no timestamp, a timestamp that is not a number, no v1 signature, too
            many, or an entry that is not ``key=value``.

    """
    if len(value) > MAX_SIGNATURE_HEADER:
        raise SignatureError("malformed Jambonz-Signature header: too long")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in value.split(","):
        key, sep, item = part.strip().partition("=")
        if not sep:
            raise SignatureError("malformed Jambonz-Signature header")
        if key == "t":
            if timestamp is not None:
                raise SignatureError("malformed Jambonz-Signature header: two timestamps")
            # isdigit() alone takes other scripts' digits ("١٢"); the timestamp is ASCII.
            if not (0 < len(item) <= 15 and item.isascii() and item.isdigit()):
                raise SignatureError("malformed Jambonz-Signature header: the timestamp is not a number")
            timestamp = int(item)
        elif key == "v1":
            if len(signatures) == MAX_SIGNATURES:
                raise SignatureError("malformed Jambonz-Signature header: too many signatures")
            if not _is_hex_sha256(item):
                raise SignatureError("malformed Jambonz-Signature header: v1 is not a SHA-256 hex digest")
            signatures.append(item.lower())
    if timestamp is None:
        raise SignatureError("malformed Jambonz-Signature header: no timestamp")
    if not signatures:
        raise SignatureError("malformed Jambonz-Signature header: no v1 signature")
    return ParsedSignature(timestamp, tuple(signatures))


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _is_hex_sha256(text: str) -> bool:
    return len(text) == 64 and _HEX_DIGITS.issuperset(text)


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
    """The whole policy of who may call a hook (see :class:`~jambonz_webhooks.JambonzApp`).

    It runs in two steps, so that nothing is spent on a request that cannot be genuine:
    :meth:`authenticate` reads the headers alone (credentials, the GET rule, the signature
    header's presence, size, form and freshness) before the body is read; :meth:`verify` checks
    the signature over the exact bytes of the body once they are in. Both raise a
    :class:`~jambonz_webhooks.errors.HookError` carrying the status code to answer.
    """

    secrets: tuple[str, ...] = field(default=(), repr=False)
    """Webhook secrets; a request must be signed with one of them. Empty: no signature check."""
    tolerance: float = DEFAULT_TOLERANCE
    allow_unsigned_get: bool = False
    """With secrets set, GET hooks (which jambonz cannot sign verifiably) are refused unless True."""
    basic_auth: BasicCredentials | None = None
    insecure: bool = False
    """Serve hooks with neither a secret nor basic auth (explicitly opened). Otherwise such an
    app fails closed: it refuses to start, and answers every hook 503."""
    clock: Callable[[], float] = field(default=time.time, repr=False)
    # One HMAC per secret with its key already digested: each request copies it instead of
    # encoding the secret and hashing the key again.
    _keys: tuple[Any, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if any(not secret for secret in self.secrets):
            raise ValueError("a webhook secret cannot be empty")
        # Written so that NaN fails too: a NaN window would let any timestamp through.
        if not 0 < self.tolerance < math.inf:
            raise ValueError("the signature tolerance must be a positive number of seconds")
        keys = tuple(hmac.new(secret.encode(), digestmod=hashlib.sha256) for secret in self.secrets)
        object.__setattr__(self, "_keys", keys)

    @classmethod
    def configure(
        cls,
        *,
        webhook_secret: str | Sequence[str] | None,
        basic_auth: tuple[str, str] | BasicCredentials | None,
        tolerance: float = DEFAULT_TOLERANCE,
        allow_unsigned_get: bool = False,
        insecure: bool | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> HookSecurity:
        """Build from an app's arguments, reading the environment for those left as None.

        ``JAMBONZ_WEBHOOK_SECRET`` may hold several secrets separated by commas (rotation).
        ``JAMBONZ_WEBHOOK_USERNAME`` and ``JAMBONZ_WEBHOOK_PASSWORD`` go together.
        ``JAMBONZ_WEBHOOK_INSECURE`` (``1``/``true``/``yes``, or ``0``/``false``/``no``) opens an
        app with neither.
        """
        env = os.environ if environ is None else environ
        if insecure is None:
            insecure = env_flag(env, ENV_INSECURE)
        if webhook_secret is None:
            webhook_secret = env_secrets(env)
        secrets = (webhook_secret,) if isinstance(webhook_secret, str) else tuple(webhook_secret)
        if basic_auth is None:
            username, password = env.get(ENV_USERNAME), env.get(ENV_PASSWORD)
            if (username is None) != (password is None):
                raise ValueError(f"{ENV_USERNAME} and {ENV_PASSWORD} must be set together")
            if username is not None and password is not None:
                basic_auth = (username, password)
        credentials = BasicCredentials(*basic_auth) if isinstance(basic_auth, tuple) else basic_auth
        return cls(secrets, tolerance, allow_unsigned_get, credentials, insecure)

    @property
    def signed(self) -> bool:
        """Whether requests must carry a valid signature."""
        return bool(self.secrets)

    @property
    def verifies_all(self) -> bool:
        """Whether every request that gets through was signed by jambonz (no unsigned GETs)."""
        return bool(self.secrets) and not self.allow_unsigned_get

    @property
    def protected(self) -> bool:
        """Whether requests must carry a valid signature or valid credentials (or both)."""
        return bool(self.secrets) or self.basic_auth is not None

    @property
    def closed(self) -> bool:
        """Whether every hook is refused: not protected, and not explicitly opened."""
        return not self.protected and not self.insecure

    def with_stand_in(self, username: str) -> HookSecurity:
        """A copy with a random secret and credentials (``username``), for an app served in process.

        A closed app refuses to start; where no network reaches it (the call simulator, the
        ``routes`` check) it runs with these instead, checking them as it would jambonz's.
        """
        return replace(
            self,
            secrets=(secrets.token_urlsafe(24),),
            basic_auth=BasicCredentials(username, secrets.token_urlsafe(24)),
        )

    def authenticate(
        self, method: str, authorization: str | None, signature: str | None
    ) -> ParsedSignature | None:
        """Check what the headers say, before the body is read; the signature to verify, if any.

        Raises:
            HookError: 401 for missing or wrong credentials, a GET hook when signatures are
                required (jambonz signs a body it does not send), or a signature header that is
                missing, too long, malformed or outside the tolerance.

        """
        credentials = self.basic_auth
        if credentials is not None and not credentials.check(authorization):
            raise HookError(401, "missing or wrong credentials", headers=WWW_AUTHENTICATE)
        if not self._keys:
            if credentials is None and not self.insecure:
                raise HookError(503, CLOSED_MESSAGE)
            return None
        if method == "GET":
            if self.allow_unsigned_get:
                return None
            raise HookError(
                401,
                "a GET hook cannot be verified (jambonz signs a body it does not send): "
                "configure this hook to use POST",
            )
        try:
            return self._fresh(signature)
        except SignatureError as exc:
            raise HookError(401, str(exc)) from None

    def admit_socket(self, authorization: str | None) -> None:
        """Check the upgrade of a jambonz WebSocket: basic auth, the one check it can carry.

        jambonz signs nothing over WebSocket, so a webhook secret does not protect one: without
        basic auth only an app opened explicitly (``insecure``) lets a socket in.

        Raises:
            HookError: 401 for missing or wrong credentials, or an app without basic auth.

        """
        credentials = self.basic_auth
        if credentials is None:
            if self.insecure:
                return
            raise HookError(
                401, "WebSocket hooks need basic auth (JAMBONZ_WEBHOOK_USERNAME and JAMBONZ_WEBHOOK_PASSWORD)"
            )
        if not credentials.check(authorization):
            raise HookError(401, "missing or wrong credentials", headers=WWW_AUTHENTICATE)

    def verify_body(self, signature: ParsedSignature, body: bytes) -> None:
        """Check an authenticated request's signature over the exact bytes of its body.

        Raises:
            HookError: 401 when no v1 signature matches any secret.

        """
        if not self._matches(signature, body):
            raise HookError(401, "the signature does not match")

    def verify(self, header: str | None, body: bytes) -> None:
        """Check a request's signature header and body in one go (see :func:`verify_signature`).

        Raises:
            SignatureError: as :func:`verify_signature`.

        """
        if not self._matches(self._fresh(header), body):
            raise SignatureError("the signature does not match")

    def _fresh(self, header: str | None) -> ParsedSignature:
        """The header's signature, present, well-formed and within the tolerance."""
        if header is None:
            raise SignatureError("missing Jambonz-Signature header")
        parsed = parse_signature_header(header)
        if abs(self.clock() - parsed.timestamp) > self.tolerance:
            raise SignatureError("the signature's timestamp is outside the tolerance")
        return parsed

    def _matches(self, signature: ParsedSignature, body: bytes) -> bool:
        prefix = b"%d." % signature.timestamp
        matched = False
        for key in self._keys:
            mac = key.copy()
            mac.update(prefix)
            mac.update(body)
            expected = mac.hexdigest()
            for candidate in signature.signatures:
                # No early exit: every pair is compared, each in constant time.
                matched |= hmac.compare_digest(expected, candidate)
        return matched


def env_secrets(environ: Mapping[str, str]) -> list[str]:
    """The webhook secrets in ``JAMBONZ_WEBHOOK_SECRET``: one, or several separated by commas.

    Several while one is rotated out; blanks around each are cut and empty entries dropped.
    """
    return [secret.strip() for secret in environ.get(ENV_SECRET, "").split(",") if secret.strip()]


def env_flag(environ: Mapping[str, str], name: str) -> bool:
    """A yes/no environment variable; anything unclear is an error rather than a guess.

    ``1``/``true``/``yes``/``on``, or ``0``/``false``/``no``/``off`` (unset: no).
    """
    value = environ.get(name, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name} must be 1 or 0 (true/false, yes/no)")


WWW_AUTHENTICATE = ((b"www-authenticate", b'Basic realm="jambonz", charset="UTF-8"'),)
