"""Exceptions. Every refusal of the gateway carries its stable `code` (docs/PROTOCOL.md §5)."""

from __future__ import annotations

from typing import Any, Dict, Optional, Type


class GatewayError(Exception):
    """Base class of everything this client raises."""


class ConfigurationError(GatewayError, ValueError):
    """A constructor argument (or the environment variable standing in for it) is unusable,
    for example an API key that cannot be sent in an HTTP header. Raised when the client is
    created, before any request; the message names the argument or variable."""


class GatewayUnavailableError(GatewayError):
    """The gateway could not be reached, or kept answering 502/503/504, until the call's
    deadline. For `notify_user` and `ask` the confirmation may still exist: read it later
    with `get_confirmation(error.callback_id)` or retry with the same `callback_id`."""

    def __init__(self, message: str, *, callback_id: Optional[str] = None, last_error: Optional[str] = None) -> None:
        super().__init__(message)
        self.callback_id = callback_id
        self.last_error = last_error


class GatewayResponseError(GatewayError):
    """The gateway refused the request. `code` is the service's error code."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        retry_after: Optional[float] = None,
        body: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__(f"{status_code} {code}: {message}")
        self.status_code = status_code
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.body = body or {}


class InvalidRequestError(GatewayResponseError):
    """400 invalid_message, 413 payload_too_large, 415 unsupported_media_type."""


class UnauthorizedError(GatewayResponseError):
    """401: the API key is missing or wrong."""


class NotFoundError(GatewayResponseError):
    """404 not_found: unknown task, heartbeat, grant or route."""


class CallbackNotFoundError(NotFoundError):
    """404 callback_not_found: no confirmation with that id (never existed, or past retention)."""


class ConflictError(GatewayResponseError):
    """409."""


class CallbackConflictError(ConflictError):
    """409 callback_conflict: the callback_id belongs to another user or task."""


class TaskCancelledError(ConflictError):
    """409 task_cancelled: a heartbeat for a task the user cancelled."""


class RateLimitedError(GatewayResponseError):
    """429 too_many_pending or capacity_exceeded; `retry_after` says when to try again."""


class ServerError(GatewayResponseError):
    """500 internal_error, or another 5xx that is not retried."""


_BY_CODE: Dict[str, Type[GatewayResponseError]] = {
    "callback_not_found": CallbackNotFoundError,
    "callback_conflict": CallbackConflictError,
    "task_cancelled": TaskCancelledError,
}

_BY_STATUS: Dict[int, Type[GatewayResponseError]] = {
    400: InvalidRequestError,
    401: UnauthorizedError,
    404: NotFoundError,
    409: ConflictError,
    413: InvalidRequestError,
    415: InvalidRequestError,
    429: RateLimitedError,
}


def error_class_for(status_code: int, code: str) -> Type[GatewayResponseError]:
    if code in _BY_CODE:
        return _BY_CODE[code]
    if status_code in _BY_STATUS:
        return _BY_STATUS[status_code]
    return ServerError if status_code >= 500 else GatewayResponseError
