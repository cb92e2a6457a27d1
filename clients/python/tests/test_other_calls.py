"""The original's other calls, the new ones, configuration and the typed errors, against the
real gateway with both clients."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from conftest import API_KEY, Caller, GatewayProcess, step_result, unique

from confirmation_gateway import (
    AsyncGatewayClient,
    CallbackConflictError,
    CallbackNotFoundError,
    GatewayClient,
    InvalidRequestError,
    TaskCancelledError,
    UnauthorizedError,
)


# The gateway adds the frame's stream position (for resuming after a reconnect) to what it relays.
STREAM_POSITIONS = {"offset", "task_offset", "broadcast_offset"}


def content_of(frame: dict) -> dict:
    """The relayed message without the stream positions the gateway adds."""
    return {key: value for key, value in frame.items() if key not in STREAM_POSITIONS}


def test_broadcast_reaches_everyone_and_send_to_user_only_that_user(caller: Caller, users: Any) -> None:
    alice_id = unique("alice")
    alice, bob = users(alice_id), users(unique("bob"))

    delivered = caller.call("broadcast_message", {"type": "system_notification", "message": "Maintenance in 5 minutes"})
    assert delivered >= 2
    for tab in (alice, bob):
        assert tab.receive("system_notification")["message"] == "Maintenance in 5 minutes"

    message = {"type": "personal_notification", "message": "Your task is done", "task_id": "task_456"}
    assert caller.call("send_to_user", alice_id, message) == 1
    assert content_of(alice.receive("personal_notification")) == {**message, "target_user_id": alice_id}
    assert caller.call("send_to_user", unique("offline"), message) == 0
    assert [frame for frame in bob.frames if frame.get("type") == "personal_notification"] == []


def test_send_to_task_reaches_the_tasks_subscribers(caller: Caller, users: Any) -> None:
    user_id, task_id = unique("jo"), unique("task")
    jo, bystander = users(user_id), users(unique("bystander"))
    caller.call("ask", step_result(), user_id, task_id, 1)  # a confirmation lets jo follow the task
    jo.send({"action": "subscribe", "task_id": task_id})
    jo.receive("subscription_confirmed", task_id=task_id)

    assert caller.call("send_to_task", task_id, {"type": "task_progress", "progress": 75}) == 1
    assert content_of(jo.receive("task_progress")) == {"type": "task_progress", "progress": 75, "task_id": task_id}
    assert [frame for frame in bystander.frames if frame.get("type") == "task_progress"] == []


def test_status_and_connection_count(caller: Caller, users: Any) -> None:
    users(unique("kim"))
    status = caller.call("get_status")
    assert {"running", "host", "port", "active_connections", "pending_callbacks"} <= status.keys()
    assert status["running"] is True
    assert caller.call("get_connection_count") >= 1


def test_a_heartbeat_beats_until_it_is_stopped(caller: Caller, users: Any) -> None:
    user_id, task_id = unique("lena"), unique("task")
    lena = users(user_id)

    heartbeat = caller.call("send_heartbeat", user_id, task_id, interval=0.2, message="still training")
    assert heartbeat.info.task_id == task_id and heartbeat.info.interval_seconds == 0.2
    for _ in range(3):
        beat = lena.receive("heartbeat", heartbeat_id=heartbeat.heartbeat_id)
        assert (beat["status"], beat["message"], beat["task_id"]) == ("heartbeat", "still training", task_id)

    assert caller.resolve(heartbeat.stop()) is True
    time.sleep(0.3)  # a beat already on its way may still arrive
    beats = len([frame for frame in lena.frames if frame.get("type") == "heartbeat"])
    time.sleep(0.6)  # three intervals
    assert len([frame for frame in lena.frames if frame.get("type") == "heartbeat"]) == beats
    assert caller.resolve(heartbeat.stop()) is False


def test_refusals_raise_typed_errors_with_the_gateways_code(caller: Caller, users: Any) -> None:
    user_id, task_id = unique("mia"), unique("task")
    mia = users(user_id)

    with pytest.raises(InvalidRequestError) as invalid:
        caller.call("notify_user", step_result(), user_id, task_id, -1)
    assert (invalid.value.status_code, invalid.value.code) == (400, "invalid_message")
    assert "step must not be less than 0" in invalid.value.message

    callback_id = caller.call("ask", step_result(), user_id, task_id, 1, callback_id=unique("taken"))
    with pytest.raises(CallbackConflictError) as conflict:
        caller.call("notify_user", step_result(), unique("other-user"), task_id, 1, callback_id=callback_id)
    assert (conflict.value.status_code, conflict.value.code) == (409, "callback_conflict")

    with pytest.raises(CallbackNotFoundError) as missing:
        caller.call("get_confirmation", unique("never-created"))
    assert (missing.value.status_code, missing.value.code) == (404, "callback_not_found")

    mia.send({"action": "cancel", "task_id": task_id})
    mia.receive("task_cancelled", task_id=task_id)
    with pytest.raises(TaskCancelledError) as cancelled:
        caller.call("send_heartbeat", user_id, task_id)
    assert cancelled.value.code == "task_cancelled"

    with pytest.raises(TypeError, match="step_result has no message, status"):
        caller.call("notify_user", {"step": "s"}, user_id, task_id, 2)
    with pytest.raises(ValueError, match="timeout must be at least 0.05 seconds"):
        caller.call("notify_user", step_result(), user_id, task_id, 2, timeout=0)
    with pytest.raises(TypeError, match="message must be a mapping"):
        caller.call("broadcast_message", ["not", "an", "object"])


def test_a_wrong_api_key_raises_unauthorized(client_kind: str, gateway: GatewayProcess) -> None:
    caller = Caller(client_kind, gateway.url, api_key="not-the-key")
    try:
        with pytest.raises(UnauthorizedError) as refused:
            caller.call("get_status")
        assert (refused.value.status_code, refused.value.code) == (401, "unauthorized")
        assert "not-the-key" not in str(refused.value)
    finally:
        caller.close()


def test_configuration_from_the_environment_and_context_managers(
    gateway: GatewayProcess, users: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONFIRMATION_GATEWAY_URL", gateway.url)
    monkeypatch.setenv("CONFIRMATION_GATEWAY_API_KEY", API_KEY)
    user_id = unique("noor")
    users(user_id)

    with GatewayClient() as client:
        assert client.base_url == gateway.url
        assert API_KEY not in repr(client)
        assert client.send_to_user(user_id, {"type": "hello"}) == 1

    async def use_async_client() -> int:
        async with AsyncGatewayClient() as client:
            assert API_KEY not in repr(client)
            return await client.get_connection_count()

    assert asyncio.run(use_async_client()) >= 1

    # Arguments win over the environment.
    with GatewayClient(gateway.url, api_key="wrong") as client, pytest.raises(UnauthorizedError):
        client.get_status()
