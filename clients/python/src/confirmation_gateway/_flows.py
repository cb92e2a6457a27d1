"""What each call does, without doing I/O.

Every public call is a generator that yields `Request`s and `Sleep`s and receives an
`Outcome` for each request. The blocking client and the asyncio client only perform those
steps, so retries, deadlines and error mapping exist once for both.
"""

from __future__ import annotations

import logging
import os
import random
import time
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Dict, Generator, Mapping, Optional, Tuple, TypeVar, Union
from urllib.parse import quote

import httpx

from .approvals import ApprovalRequest
from .errors import ConfigurationError, GatewayError, GatewayUnavailableError, NotFoundError, error_class_for
from .models import Confirmation, HeartbeatInfo, JsonObject, UserConfirmation, step_result_to_json

URL_ENV = "CONFIRMATION_GATEWAY_URL"
API_KEY_ENV = "CONFIRMATION_GATEWAY_API_KEY"
DEFAULT_URL = "http://localhost:8765"
USER_AGENT = "confirmation-gateway-python/0.1.0"

RETRYABLE_STATUS = frozenset({502, 503, 504})
# The gateway's smallest accepted timeout_seconds.
MIN_TIMEOUT_SECONDS = 0.05
# The gateway settles a confirmation at most this long after it expires.
SERVER_SETTLE_SLACK_SECONDS = 1.0
# What one long poll of GET /confirmations/{id} asks for; the gateway holds it at most its
# NOTIFY_MAX_WAIT_SECONDS (default 50) and then answers the confirmation as it stands.
LONG_POLL_SECONDS = 50.0

T = TypeVar("T")

logger = logging.getLogger("confirmation_gateway")


@dataclass(frozen=True)
class RetryPolicy:
    """Back-off between attempts (doubling from `initial_backoff` up to `max_backoff`, with
    jitter, never shorter than the gateway's Retry-After) and how long to keep trying:
    `budget` seconds for a call, and for `notify_user` `budget` seconds past the
    confirmation's own deadline."""

    initial_backoff: float = 0.2
    max_backoff: float = 5.0
    budget: float = 30.0

    def delay(self, attempt: int, retry_after: Optional[float]) -> float:
        # The exponent is capped: 2**1024 does not fit a float, and a call that waits for hours
        # on an unreachable gateway makes that many attempts.
        step = min(self.max_backoff, self.initial_backoff * (2 ** min(attempt, 64)))
        jittered = step / 2 + random.uniform(0, step / 2)
        return jittered if retry_after is None else retry_after + random.uniform(0, step / 2)


@dataclass(frozen=True)
class Settings:
    base_url: str
    api_key: Optional[str] = field(repr=False)
    default_timeout: float
    request_timeout: float
    retry: RetryPolicy

    def headers(self) -> Dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers


def resolve_settings(
    base_url: Optional[str],
    api_key: Optional[str],
    default_timeout: float,
    request_timeout: float,
    retry: Optional[RetryPolicy],
) -> Settings:
    """Arguments win; otherwise CONFIRMATION_GATEWAY_URL and CONFIRMATION_GATEWAY_API_KEY.
    Raises ConfigurationError (a ValueError) naming the argument or variable at fault."""
    url_source = "base_url" if base_url else URL_ENV if os.environ.get(URL_ENV) else "the default URL"
    url = (base_url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"{url_source} must start with http:// or https://, got {url!r}")
    key_source = "api_key" if api_key is not None else API_KEY_ENV
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
    if key is not None:
        check_api_key(key, key_source)
    if default_timeout < MIN_TIMEOUT_SECONDS:
        raise ConfigurationError(f"default_timeout must be at least {MIN_TIMEOUT_SECONDS} seconds")
    if request_timeout <= 0:
        raise ConfigurationError("request_timeout must be positive")
    return Settings(url, key, default_timeout, request_timeout, retry or RetryPolicy())


def check_api_key(key: str, source: str) -> None:
    """The key travels in `Authorization: Bearer <key>`, so it must be printable ASCII without
    spaces. The message says what is wrong without repeating the key."""
    if not isinstance(key, str):
        raise ConfigurationError(f"{source} must be a string, got {type(key).__name__}")
    for position, character in enumerate(key):
        if not "!" <= character <= "~":
            raise ConfigurationError(
                f"{source} cannot be sent in an HTTP header: character {position + 1} "
                f"({_name_character(character)}) is not printable ASCII; use the key exactly as set in "
                "the gateway's API_KEYS"
            )


def _name_character(character: str) -> str:
    if character == " ":
        return "a space"
    return f"U+{ord(character):04X}"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    params: Optional[Dict[str, str]] = None
    json: Any = None
    # Seconds to wait for the response; None means the client's request_timeout.
    read_timeout: Optional[float] = None
    # Trace context given by the caller; None: OpenTelemetry's current one, if any.
    headers: Optional[Dict[str, str]] = None


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Outcome:
    response: Optional[httpx.Response] = None
    error: Optional[httpx.TransportError] = None


Step = Union[Request, Sleep]
Flow = Generator[Step, Optional[Outcome], T]


def new_callback_id() -> str:
    return str(uuid.uuid4())


def parse_retry_after(response: httpx.Response) -> Optional[float]:
    """Retry-After as seconds (delta-seconds or an HTTP date), or None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


def error_from(response: httpx.Response) -> GatewayError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("code") or f"http_{response.status_code}")
    message = str(body.get("message") or response.text[:200] or response.reason_phrase)
    error_class = error_class_for(response.status_code, code)
    return error_class(response.status_code, code, message, retry_after=parse_retry_after(response), body=body)


def _json_or_raise(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise error_from(response)
    if response.status_code == 204:
        return None
    try:
        return response.json()
    except ValueError:
        raise GatewayError(f"Expected JSON from the gateway, got HTTP {response.status_code}") from None


def _describe(outcome: Outcome) -> str:
    if outcome.error is not None:
        return f"{type(outcome.error).__name__}: {outcome.error}"
    assert outcome.response is not None
    return f"HTTP {outcome.response.status_code}"


def _send(
    make_request: Callable[[], Request],
    *,
    retry: RetryPolicy,
    until: float,
    idempotent: bool,
    callback_id: Optional[str] = None,
) -> Flow[httpx.Response]:
    """Sends until an answer that is not worth retrying, or until `until` (monotonic clock).

    An idempotent request is retried on any transport error and on 502, 503 and 504. Any
    other request only when it cannot have reached the gateway (the connection failed)."""
    attempt = 0
    while True:
        request = make_request()
        outcome = yield request
        assert outcome is not None
        retry_after: Optional[float] = None
        if outcome.error is not None:
            connection_failed = isinstance(outcome.error, (httpx.ConnectError, httpx.ConnectTimeout))
            if not (idempotent or connection_failed):
                raise GatewayUnavailableError(
                    f"The request failed and may or may not have reached the gateway ({_describe(outcome)})",
                    callback_id=callback_id,
                    last_error=_describe(outcome),
                ) from outcome.error
        else:
            assert outcome.response is not None
            if not (idempotent and outcome.response.status_code in RETRYABLE_STATUS):
                return outcome.response
            retry_after = parse_retry_after(outcome.response)
        now = time.monotonic()
        if now >= until:
            raise GatewayUnavailableError(
                f"The gateway did not answer before the deadline (last: {_describe(outcome)})",
                callback_id=callback_id,
                last_error=_describe(outcome),
            )
        delay = min(retry.delay(attempt, retry_after), until - now)
        logger.info(
            "%s %s: %s; retrying in %.2f s%s",
            request.method,
            request.path,
            _describe(outcome),
            delay,
            f" with callback_id {callback_id}" if callback_id else "",
        )
        yield Sleep(delay)
        attempt += 1


def warn_server_call(name: str) -> None:
    """start_server() and stop_server() of the original: the gateway is its own service now."""
    warnings.warn(
        f"{name}() does nothing: the confirmation gateway runs as its own service (npm start or"
        " its Docker image), so a task service no longer starts or stops a WebSocket server."
        " The call can be removed.",
        DeprecationWarning,
        # Points at the caller's line: this function, the client's method, the caller.
        stacklevel=3,
    )


def _quoted(identifier: str) -> str:
    if not isinstance(identifier, str) or not identifier:
        raise ValueError(f"An id must be a non-empty string, got {identifier!r}")
    return quote(identifier, safe="")


def _notify_request_maker(
    settings: Settings,
    step_result: Any,
    user_id: str,
    task_id: str,
    step: int,
    timeout: Optional[float],
    callback_id: str,
    webhook: Optional[Dict[str, Any]] = None,
    *,
    wait: bool,
    headers: Optional[Dict[str, str]] = None,
    approval: Optional[ApprovalRequest] = None,
) -> Tuple[Callable[[], Request], float]:
    """The request for each attempt, and when the confirmation expires (monotonic clock).
    Each attempt asks for the time that is left, so a confirmation re-created after a
    restart expires when the first one would have."""
    body = {
        "user_id": user_id,
        "task_id": task_id,
        "step": step,
        "step_result": step_result_to_json(step_result),
        "callback_id": callback_id,
        **(webhook or {}),
    }
    if approval is not None:
        body.update(approval.to_json())
    seconds = settings.default_timeout if timeout is None else timeout
    if seconds < MIN_TIMEOUT_SECONDS:
        raise ValueError(f"timeout must be at least {MIN_TIMEOUT_SECONDS} seconds, got {seconds}")
    expires = time.monotonic() + seconds

    def make_request() -> Request:
        remaining = max(expires - time.monotonic(), MIN_TIMEOUT_SECONDS)
        read_timeout = remaining + SERVER_SETTLE_SLACK_SECONDS + settings.request_timeout if wait else None
        return Request(
            "POST",
            "/notify",
            params=None if wait else {"wait": "false"},
            json={**body, "timeout_seconds": round(remaining, 3)},
            read_timeout=read_timeout,
            headers=headers,
        )

    return make_request, expires


def notify_user(
    settings: Settings,
    step_result: Any,
    user_id: str,
    task_id: str,
    step: int,
    timeout: Optional[float],
    callback_id: Optional[str],
    webhook: Optional[Dict[str, Any]] = None,
    trace_headers: Optional[Dict[str, str]] = None,
    approval: Optional[ApprovalRequest] = None,
) -> Flow[UserConfirmation]:
    callback_id = callback_id or new_callback_id()
    make_request, expires = _notify_request_maker(
        settings, step_result, user_id, task_id, step, timeout, callback_id, webhook, wait=True, headers=trace_headers, approval=approval
    )
    until = expires + settings.retry.budget
    response = yield from _send(make_request, retry=settings.retry, until=until, idempotent=True, callback_id=callback_id)
    if response.status_code == 202:
        # Still pending when the gateway stopped holding the call (NOTIFY_MAX_WAIT_SECONDS):
        # the decision is waited for by long polls, as transparently as by the first call.
        _json_or_raise(response)
        view = yield from _await_decision(settings, callback_id, expires, until)
        return UserConfirmation.from_decision(view)
    return UserConfirmation.from_decision(_json_or_raise(response))


def _await_decision(settings: Settings, callback_id: str, expires: float, until: float) -> Flow[JsonObject]:
    """Long-polls GET /confirmations/{callback_id} until the confirmation is no longer
    pending (a decision, its timeout or its cancellation), or until `until`."""
    path = f"/confirmations/{_quoted(callback_id)}"
    while True:
        # Never less than a second: the gateway settles an expired confirmation within one.
        wait = min(LONG_POLL_SECONDS, max(expires - time.monotonic() + SERVER_SETTLE_SLACK_SECONDS, 1.0))
        request = Request("GET", path, params={"wait_seconds": f"{wait:.3f}"}, read_timeout=wait + settings.request_timeout)
        response = yield from _send(lambda: request, retry=settings.retry, until=until, idempotent=True, callback_id=callback_id)
        view = _json_or_raise(response)
        if isinstance(view, dict) and view.get("state") != "pending":
            return view
        if time.monotonic() >= until:
            raise GatewayUnavailableError(
                "The confirmation was still pending at the call's deadline",
                callback_id=callback_id,
                last_error="pending",
            )


def ask(
    settings: Settings,
    step_result: Any,
    user_id: str,
    task_id: str,
    step: int,
    timeout: Optional[float],
    callback_id: Optional[str],
    webhook: Optional[Dict[str, Any]] = None,
    trace_headers: Optional[Dict[str, str]] = None,
    approval: Optional[ApprovalRequest] = None,
) -> Flow[str]:
    callback_id = callback_id or new_callback_id()
    make_request, _ = _notify_request_maker(
        settings, step_result, user_id, task_id, step, timeout, callback_id, webhook, wait=False, headers=trace_headers, approval=approval
    )
    until = time.monotonic() + settings.retry.budget
    response = yield from _send(make_request, retry=settings.retry, until=until, idempotent=True, callback_id=callback_id)
    _json_or_raise(response)
    return callback_id


def webhook_fields(callback_url: Optional[str], metadata: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    """The optional webhook fields of POST /notify, only those given (a plain call sends none)."""
    if callback_url is None and metadata is None:
        return None
    fields: Dict[str, Any] = {}
    if callback_url is not None:
        if not isinstance(callback_url, str) or not callback_url:
            raise ValueError(f"callback_url must be a non-empty string, got {callback_url!r}")
        fields["callback_url"] = callback_url
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise ValueError(f"metadata must be a mapping (a JSON object), got {type(metadata).__name__}")
        fields["metadata"] = dict(metadata)
    return fields


def get_confirmation(settings: Settings, callback_id: str, wait_seconds: float) -> Flow[Confirmation]:
    if not 0 <= wait_seconds <= 300:
        raise ValueError("wait_seconds must be between 0 and 300")
    request = Request(
        "GET",
        f"/confirmations/{_quoted(callback_id)}",
        params={"wait_seconds": str(wait_seconds)},
        read_timeout=wait_seconds + settings.request_timeout,
    )
    until = time.monotonic() + wait_seconds + settings.retry.budget
    response = yield from _send(lambda: request, retry=settings.retry, until=until, idempotent=True, callback_id=callback_id)
    return Confirmation.from_view(_json_or_raise(response))


def is_cancelled(settings: Settings, task_id: str) -> Flow[bool]:
    request = Request("GET", f"/tasks/{_quoted(task_id)}")
    response = yield from _send(lambda: request, retry=settings.retry, until=_budget_end(settings), idempotent=True)
    try:
        return bool(_json_or_raise(response)["cancelled"])
    except NotFoundError:
        # The gateway knows nothing about the task, so nobody cancelled it.
        return False


def get_status(settings: Settings) -> Flow[JsonObject]:
    request = Request("GET", "/status")
    response = yield from _send(lambda: request, retry=settings.retry, until=_budget_end(settings), idempotent=True)
    return dict(_json_or_raise(response))


def get_connection_count(settings: Settings) -> Flow[int]:
    status = yield from get_status(settings)
    return int(status["active_connections"])


def broadcast_message(settings: Settings, message: Mapping[str, Any]) -> Flow[int]:
    request = Request("POST", "/broadcast", json=_message_body(message))
    response = yield from _send(lambda: request, retry=settings.retry, until=_budget_end(settings), idempotent=False)
    return int(_json_or_raise(response)["delivered"])


def send_to_user(settings: Settings, user_id: str, message: Mapping[str, Any]) -> Flow[int]:
    request = Request("POST", f"/users/{_quoted(user_id)}/messages", json=_message_body(message))
    response = yield from _send(lambda: request, retry=settings.retry, until=_budget_end(settings), idempotent=False)
    return int(_json_or_raise(response)["delivered"])


def send_to_task(settings: Settings, task_id: str, message: Mapping[str, Any]) -> Flow[int]:
    request = Request("POST", f"/tasks/{_quoted(task_id)}/messages", json=_message_body(message))
    response = yield from _send(lambda: request, retry=settings.retry, until=_budget_end(settings), idempotent=False)
    return int(_json_or_raise(response)["delivered"])


def start_heartbeat(
    settings: Settings,
    user_id: str,
    task_id: str,
    interval: float,
    duration: Optional[float],
    message: Optional[str],
) -> Flow[HeartbeatInfo]:
    body: JsonObject = {"user_id": user_id, "task_id": task_id, "interval_seconds": interval}
    if duration is not None:
        body["duration_seconds"] = duration
    if message is not None:
        body["message"] = message
    request = Request("POST", "/heartbeats", json=body)
    response = yield from _send(lambda: request, retry=settings.retry, until=_budget_end(settings), idempotent=False)
    return HeartbeatInfo.from_view(_json_or_raise(response))


def stop_heartbeat(settings: Settings, heartbeat_id: str) -> Flow[bool]:
    request = Request("DELETE", f"/heartbeats/{_quoted(heartbeat_id)}")
    response = yield from _send(lambda: request, retry=settings.retry, until=_budget_end(settings), idempotent=True)
    try:
        _json_or_raise(response)
        return True
    except NotFoundError:
        # Already stopped, replaced, ended, or its task was cancelled.
        return False


def _budget_end(settings: Settings) -> float:
    return time.monotonic() + settings.retry.budget


def _message_body(message: Mapping[str, Any]) -> JsonObject:
    if not isinstance(message, Mapping):
        raise TypeError(f"message must be a mapping (a JSON object), got {type(message).__name__}")
    return dict(message)
