"""Base of every model of what jambonz sends: the call information all hooks carry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from .control import CallControl

__all__ = ["PAYLOAD_CONFIG", "CallInfo", "CallStatusValue", "Direction", "Payload", "prepare"]

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
    trace_id: str | None = None
    originating_sip_ip: str | None = None
    originating_sip_trunk_name: str | None = None
    api_base_url: str | None = None
    customer_data: dict[str, Any] | None = Field(default=None, alias="customerData")

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


def prepare(model: type[BaseModel]) -> None:
    """Build ``model``'s validator now rather than at its first use (a handler names it)."""
    if not model.__pydantic_complete__:
        model.model_rebuild(force=True)
