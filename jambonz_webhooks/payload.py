"""Base of every model of what jambonz sends: the call information all hooks carry."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from .control import CallControl

__all__ = [
    "PAYLOAD_CONFIG",
    "CallInfo",
    "CallStatusValue",
    "Direction",
    "Payload",
    "SipReason",
    "jambonz_key",
    "parse_sip_reason",
    "prepare",
    "sip_header",
]

Direction = Literal["inbound", "outbound"]
CallStatusValue = Literal[
    "trying", "ringing", "early-media", "in-progress", "completed", "failed", "busy", "no-answer", "queued"
]


PAYLOAD_CONFIG = ConfigDict(
    extra="allow",  # jambonz adds fields over time: kept, readable
    validate_by_name=True,
    validate_by_alias=True,
    frozen=True,
    # Built when first used, or at registration by prepare(): an app reads few of the payloads.
    defer_build=True,
    # Errors name fields, never values: a payload is the caller's data.
    hide_input_in_errors=True,
)
"""The settings of every model of what jambonz sends, and of the objects nested in them."""


class Payload(BaseModel):
    """A payload jambonz sends. Unknown keys are kept: jambonz adds fields over time.

    Keys jambonz sends but this model does not name are readable as attributes, through
    :meth:`get`, or in ``model_extra``.
    """

    model_config = PAYLOAD_CONFIG

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value jambonz sent under ``key`` (its JSON name), or ``default``."""
        extra = self.__pydantic_extra__
        if extra and key in extra:
            return extra[key]
        name = _python_names(type(self)).get(key)
        if name is None:
            return default
        value = getattr(self, name)
        return default if value is None else value


_NAME_CACHE: dict[type[BaseModel], dict[str, str]] = {}


def _python_names(model: type[BaseModel]) -> dict[str, str]:
    names = _NAME_CACHE.get(model)
    if names is None:
        names = {(info.alias or name): name for name, info in model.model_fields.items()}
        names.update({name: name for name in model.model_fields})
        _NAME_CACHE[model] = names
    return names


class CallInfo(Payload):
    """The call information every hook payload carries (jambonz's ``callbacks/base`` schema).

    Only ``call_sid`` is required here; :class:`~jambonz_webhooks.CallSession` is stricter.
    """

    schema_id: ClassVar[str] = "callbacks/base"

    call_sid: str
    account_sid: str | None = None
    application_sid: str | None = None
    direction: Direction | None = None
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    call_id: str | None = None
    sbc_callid: str | None = None
    call_status: CallStatusValue | str | None = None
    sip_status: int | None = None
    sip_reason: str | None = None
    sip_reason_header: str | None = None
    """The SIP ``Reason`` header of the message that changed the call's status (RFC 3326: why a
    call failed or ended, e.g. ``Q.850;cause=16``), as jambonz received it; several values are
    comma-separated. :attr:`sip_reasons` parses it."""
    trace_id: str | None = None
    originating_sip_ip: str | None = None
    originating_sip_trunk_name: str | None = None
    api_base_url: str | None = None
    customer_data: dict[str, Any] | None = Field(default=None, alias="customerData")

    @property
    def sip_reasons(self) -> tuple[SipReason, ...]:
        """``sip_reason_header`` parsed: one :class:`SipReason` per value, in order (none if absent)."""
        return parse_sip_reason(self.sip_reason_header)

    @property
    def client(self) -> CallControl:
        """The call's live control: ``await call.client.redirect(menu)``.

        Over WebSocket, commands on the call's socket; over HTTP, the REST API (the app's own
        client, see :mod:`jambonz_webhooks.rest.access`, for the account of this payload; the
        API key from ``JAMBONZ_API_KEY``). Call it inside a hook (it needs the running loop).

        Raises:
            ValueError: over HTTP, no API key.
            UntrustedAddressError: over HTTP, the app has no API address it may send the key to.

        """
        from .control import CallControl

        control = CallControl.of(self)
        if control.transport == "http":
            control.client  # noqa: B018 - built now, so that a missing key is said here
        return control


class SipReason(NamedTuple):
    """One value of a SIP ``Reason`` header (RFC 3326): ``Q.850;cause=16;text="Normal call clearing"``."""

    protocol: str
    """``Q.850`` (an ISDN cause), ``SIP`` (a SIP status), or another token, as sent."""
    cause: int | None
    """The ``cause`` parameter, when it is a number."""
    text: str | None
    """The ``text`` parameter, unquoted."""


def parse_sip_reason(value: str | None) -> tuple[SipReason, ...]:
    """Parse a SIP ``Reason`` header's text into its values, tolerantly.

    Repeated headers arrive joined by commas (``SIP;cause=486;text="Busy", Q.850;cause=17``);
    spaces around ``;`` and ``=`` are allowed; a value without a protocol is skipped, and a
    ``cause`` that is not a number is None. Never raises for any text.
    """
    if not value:
        return ()
    reasons: list[SipReason] = []
    for item in _split_outside_quotes(value, ","):
        parts = _split_outside_quotes(item, ";")
        protocol = parts[0].strip()
        if not protocol or '"' in protocol:  # no value, or a broken quote: no protocol token
            continue
        cause: int | None = None
        text: str | None = None
        for param in parts[1:]:
            name, _, given = param.partition("=")
            name = name.strip().lower()
            given = given.strip()
            if name == "cause" and given.isascii() and given.isdigit():
                cause = int(given)
            elif name == "text":
                text = _unquote(given)
        reasons.append(SipReason(protocol, cause, text))
    return tuple(reasons)


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    """Split at ``separator`` where it is not inside a quoted string (where a backslash escapes)."""
    parts: list[str] = []
    start = 0
    quoted = escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text.strip('"')


def jambonz_key(name: str) -> str:
    """``name`` as jambonz writes a key in a payload: snake_cased (``X-Reason`` -> ``x_reason``).

    jambonz snake-cases every key but those under ``sip``, ``customerData``, ``env_vars`` and
    ``args``, so the SIP headers of a status's ``headers`` and of an in-dialog request's
    ``sip_headers`` arrive renamed (fs 0.9.8 lib/utils/snakecase-keys.js, npm to-snake-case).
    """
    if _SEPARATED.search(name) is None and _CAMEL.search(name) is not None:
        name = _CAMEL_SPLIT.sub(lambda match: match[1] + " " + " ".join(match[2].lower()), name)
    return _NON_WORD.sub(" ", name.lower()).strip().replace(" ", "_")


_SEPARATED = re.compile(r"[\s_\-.:]")
_CAMEL = re.compile(r"[a-z][A-Z]|[A-Z][a-z]")
_CAMEL_SPLIT = re.compile(r"(.)([A-Z]+)")
_NON_WORD = re.compile(r"[\W_]+")


def sip_header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """The value of the SIP header ``name`` in ``headers``, whatever case or snake-casing it came in.

    ``sip_header(status.headers, "X-Reason")`` finds ``x_reason`` (as jambonz sends it),
    ``X-Reason`` or ``x-reason``. None when absent or not text.
    """
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        # Header names are case-insensitive; lower case first, as drachtio gives all but X- and
        # P- names, so that CSeq is cseq (to-snake-case alone would split it: c_seq).
        wanted = jambonz_key(name.lower())
        value = next((given for key, given in headers.items() if jambonz_key(key.lower()) == wanted), None)
    return value if isinstance(value, str) else None


def prepare(model: type[BaseModel]) -> None:
    """Build ``model``'s validator now rather than at its first use (a handler names it)."""
    if not model.__pydantic_complete__:
        model.model_rebuild(force=True)
