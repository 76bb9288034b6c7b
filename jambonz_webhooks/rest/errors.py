"""What the REST client raises: the API's refusals, and failures to reach it."""

from __future__ import annotations

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "NotFoundError",
    "ServerError",
    "UnprocessableEntityError",
]


class APIError(Exception):
    """Anything the REST client raises about a request."""


class APIConnectionError(APIError):
    """The API server could not be reached, or the connection broke (no answer to read)."""


class APITimeoutError(APIConnectionError):
    """The API server did not answer within the client's timeout."""


class APIStatusError(APIError):
    """The API server answered with a status other than 2xx.

    Attributes:
        status_code: the HTTP status.
        message: the API's own message (its ``msg``), or the HTTP reason.
        body: the answer's body as received.

    """

    def __init__(self, status_code: int, message: str, body: bytes) -> None:
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message
        self.body = body


class BadRequestError(APIStatusError):
    """400: the request was refused as malformed."""


class AuthenticationError(APIStatusError):
    """401 or 403: the API key is missing, wrong, or not allowed this account."""


class NotFoundError(APIStatusError):
    """404: no such call (it may have ended), or no such account."""


class UnprocessableEntityError(APIStatusError):
    """422: the request was understood but cannot be carried out (a call not in progress, say)."""


class ServerError(APIStatusError):
    """5xx: the API server failed."""


def status_error(status_code: int, message: str, body: bytes) -> APIStatusError:
    """The exception for an answer with this status."""
    kind: type[APIStatusError]
    if status_code == 400:
        kind = BadRequestError
    elif status_code in (401, 403):
        kind = AuthenticationError
    elif status_code == 404:
        kind = NotFoundError
    elif status_code == 422:
        kind = UnprocessableEntityError
    elif status_code >= 500:
        kind = ServerError
    else:
        kind = APIStatusError
    return kind(status_code, message, body)
