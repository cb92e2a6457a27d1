"""The blocking client, for Celery tasks and other synchronous code: the same calls as
AsyncGatewayClient, method for method."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Mapping, Optional, Type

import httpx

from . import _flows
from .approvals import ApprovalRequest, ApproversLike, EscalationLike, OptionLike, RemindersLike
from ._flows import Flow, Outcome, Request, RetryPolicy, Sleep, T
from ._tracing import current_trace_headers, explicit_trace_headers
from .models import Confirmation, HeartbeatInfo, JsonObject, UserConfirmation


class Heartbeat:
    """A running heartbeat. Unlike the original's, it can be stopped."""

    def __init__(self, client: GatewayClient, info: HeartbeatInfo) -> None:
        self._client = client
        self.info = info
        self.heartbeat_id = info.heartbeat_id

    def stop(self) -> bool:
        """Stops it. False when it had already ended (duration over, replaced, task cancelled)."""
        return self._client.stop_heartbeat(self.heartbeat_id)

    def __repr__(self) -> str:
        return f"Heartbeat({self.heartbeat_id!r}, task_id={self.info.task_id!r})"


class GatewayClient:
    """Talks to the confirmation gateway from synchronous code such as Celery tasks.

    `base_url` defaults to CONFIRMATION_GATEWAY_URL (else http://localhost:8765) and
    `api_key` to CONFIRMATION_GATEWAY_API_KEY. `default_timeout` is how long a user has to
    answer when a call names no timeout; `request_timeout` bounds every other request.
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        default_timeout: float = 300.0,
        request_timeout: float = 10.0,
        retry: Optional[RetryPolicy] = None,
    ) -> None:
        self._settings = _flows.resolve_settings(base_url, api_key, default_timeout, request_timeout, retry)
        self._http = httpx.Client(
            base_url=self._settings.base_url,
            headers=self._settings.headers(),
            # Each waiting notify_user holds a connection, as many as the caller runs.
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=20),
        )

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    def __repr__(self) -> str:
        return f"GatewayClient(base_url={self.base_url!r})"

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def notify_user(
        self,
        step_result: Any,
        user_id: str,
        task_id: str,
        step: int,
        *,
        timeout: Optional[float] = None,
        callback_id: Optional[str] = None,
        traceparent: Optional[str] = None,
        tracestate: Optional[str] = None,
        callback_url: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        options: Optional[Sequence[OptionLike]] = None,
        form: Optional[Mapping[str, Any]] = None,
        approvers: Optional[ApproversLike] = None,
        policy: Optional[str] = None,
        quorum: Optional[int] = None,
        forbid_self: Optional[bool] = None,
        requested_by: Optional[str] = None,
        reminders: Optional[RemindersLike] = None,
        escalation: Optional[Sequence[EscalationLike]] = None,
    ) -> UserConfirmation:
        """Shows the step result to the user and waits for the decision.

        Returns when the user answers, the confirmation times out (`timed_out=True`, with the
        gateway's configured decision) or the task is cancelled (`cancelled=True`). Restarts of
        the gateway while waiting are retried with the same `callback_id`. Raises
        `GatewayUnavailableError` if the gateway stays unreachable past the deadline.

        `traceparent` (and `tracestate`): the W3C trace context to continue in the gateway's
        trace; without it, OpenTelemetry's current context when `opentelemetry` is installed.

        With `callback_url` (and `metadata`, a JSON object echoed back) the decision is also
        sent there as a signed webhook (docs/WEBHOOKS.md; check it with `verify_webhook`).

        Approvals (all optional; see the README): `options` (buttons, each with its own
        `proceed`), `form` (a flat JSON Schema whose defaults the user may edit; the decision's
        `data` holds the approved values), `approvers` (who may answer), `policy` ('any',
        'all' or 'quorum' with `quorum`), `forbid_self` with `requested_by`, `reminders` and
        `escalation`.
        """
        webhook = _flows.webhook_fields(callback_url, metadata)
        trace = explicit_trace_headers(traceparent, tracestate)
        approval = ApprovalRequest(options, form, approvers, policy, quorum, forbid_self, requested_by, reminders, escalation)
        return self._run(
            _flows.notify_user(self._settings, step_result, user_id, task_id, step, timeout, callback_id, webhook, trace, approval)
        )

    def ask(
        self,
        step_result: Any,
        user_id: str,
        task_id: str,
        step: int,
        *,
        timeout: Optional[float] = None,
        callback_id: Optional[str] = None,
        callback_url: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        traceparent: Optional[str] = None,
        tracestate: Optional[str] = None,
        options: Optional[Sequence[OptionLike]] = None,
        form: Optional[Mapping[str, Any]] = None,
        approvers: Optional[ApproversLike] = None,
        policy: Optional[str] = None,
        quorum: Optional[int] = None,
        forbid_self: Optional[bool] = None,
        requested_by: Optional[str] = None,
        reminders: Optional[RemindersLike] = None,
        escalation: Optional[Sequence[EscalationLike]] = None,
    ) -> str:
        """Like notify_user but returns the `callback_id` at once; read the decision later
        with `get_confirmation` (or `notify_user` with the same `callback_id`)."""
        webhook = _flows.webhook_fields(callback_url, metadata)
        trace = explicit_trace_headers(traceparent, tracestate)
        approval = ApprovalRequest(options, form, approvers, policy, quorum, forbid_self, requested_by, reminders, escalation)
        return self._run(_flows.ask(self._settings, step_result, user_id, task_id, step, timeout, callback_id, webhook, trace, approval))

    def get_confirmation(self, callback_id: str, *, wait_seconds: float = 0) -> Confirmation:
        """The confirmation's state; waits up to `wait_seconds` (at most 300) while it is pending."""
        return self._run(_flows.get_confirmation(self._settings, callback_id, wait_seconds))

    def is_cancelled(self, task_id: str) -> bool:
        """Whether a user cancelled the task (while the gateway retains the cancellation)."""
        return self._run(_flows.is_cancelled(self._settings, task_id))

    def broadcast_message(self, message: Mapping[str, Any]) -> int:
        """Sends the object to every connection; returns how many sockets were written to."""
        return self._run(_flows.broadcast_message(self._settings, message))

    def send_to_user(self, user_id: str, message: Mapping[str, Any]) -> int:
        """Sends the object (with `target_user_id` set) to that user's connections only."""
        return self._run(_flows.send_to_user(self._settings, user_id, message))

    def send_to_task(self, task_id: str, message: Mapping[str, Any]) -> int:
        """Sends the object (with `task_id` set) to the connections that follow the task
        (`subscribe` with `task_id`), e.g. progress updates the original broadcast to all."""
        return self._run(_flows.send_to_task(self._settings, task_id, message))

    def send_heartbeat(
        self,
        user_id: str,
        task_id: str,
        interval: float = 30,
        *,
        duration: Optional[float] = None,
        message: Optional[str] = None,
    ) -> Heartbeat:
        """Starts a heartbeat that the gateway sends every `interval` seconds until it is
        stopped, replaced, its task is cancelled, or `duration` (gateway default 1 h) ends."""
        info = self._run(_flows.start_heartbeat(self._settings, user_id, task_id, interval, duration, message))
        return Heartbeat(self, info)

    def stop_heartbeat(self, heartbeat_id: str) -> bool:
        return self._run(_flows.stop_heartbeat(self._settings, heartbeat_id))

    def start_server(self) -> None:
        """Does nothing but warn (DeprecationWarning): the gateway runs as its own service.
        Kept so that the original's start-up code keeps running until the call is removed."""
        _flows.warn_server_call("start_server")

    def stop_server(self) -> None:
        """Does nothing but warn (DeprecationWarning); it does not close the client
        (`close()` or the context manager does)."""
        _flows.warn_server_call("stop_server")

    def get_status(self) -> JsonObject:
        """The gateway's status: the original's keys (`running`, `host`, `port`,
        `active_connections`, `pending_callbacks`) and its counters."""
        return self._run(_flows.get_status(self._settings))

    def get_connection_count(self) -> int:
        return self._run(_flows.get_connection_count(self._settings))

    def _run(self, flow: Flow[T]) -> T:
        try:
            step = next(flow)
            while True:
                if isinstance(step, Sleep):
                    time.sleep(step.seconds)
                    step = flow.send(None)
                else:
                    step = flow.send(self._perform(step))
        except StopIteration as done:
            return done.value

    def _perform(self, request: Request) -> Outcome:
        timeout = httpx.Timeout(self._settings.request_timeout, read=request.read_timeout or self._settings.request_timeout)
        try:
            response = self._http.request(
                request.method,
                request.path,
                params=request.params,
                json=request.json,
                timeout=timeout,
                headers=request.headers if request.headers is not None else current_trace_headers(),
            )
        except httpx.TransportError as error:
            return Outcome(error=error)
        return Outcome(response=response)
