"""Safe retries: the gateway dies while notify_user waits, comes back, and the same call
returns the decision the user gives afterwards, under one callback_id throughout.

The gateway here keeps confirmations in memory, so the restart loses the pending one. The
client's retry (same callback_id, the time that is left) creates it again, and the user's
reconnecting tab is shown it once more under the same id: one prompt per gateway lifetime,
never a second id. (In cluster mode the retry finds the confirmation still pending on
another instance instead: test_cluster.py.)
"""

from __future__ import annotations

import logging
import signal
import time
from typing import Any, Iterator

import pytest
from conftest import API_KEY, Caller, GatewayProcess, free_port, step_result, unique

from confirmation_gateway import GatewayUnavailableError, RetryPolicy


@pytest.fixture
def restartable() -> Iterator[GatewayProcess]:
    process = GatewayProcess(free_port(), {"SHUTDOWN_GRACE_SECONDS": "5"})
    yield process.start()
    process.close()


@pytest.mark.parametrize(
    ("client_kind", "stop_signal"),
    [
        ("GatewayClient", signal.SIGKILL),
        ("AsyncGatewayClient", signal.SIGKILL),
        # A rolling restart: the draining gateway answers the wait with 503 and Retry-After.
        ("AsyncGatewayClient", signal.SIGTERM),
    ],
    ids=["GatewayClient-SIGKILL", "AsyncGatewayClient-SIGKILL", "AsyncGatewayClient-SIGTERM"],
)
def test_notify_user_survives_a_restart_of_the_gateway(
    client_kind: str, stop_signal: int, restartable: GatewayProcess, users: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="confirmation_gateway")
    user_id, task_id = unique("ivan"), unique("task")
    ivan = users(user_id, restartable)
    caller = Caller(client_kind, restartable.url, api_key=API_KEY)
    try:
        waiting = caller.start("notify_user", step_result(), user_id, task_id, 4, timeout=120)
        first = ivan.receive("task_step_result")

        restartable.kill(stop_signal)
        time.sleep(0.5)  # the call is now retrying against a closed port
        assert not waiting.done()
        restartable.start()

        again = ivan.receive("task_step_result", timeout=30)
        assert again["callback_id"] == first["callback_id"]
        # The re-created confirmation expires when the first one would have.
        assert again["expires_at"] == pytest.approx(first["expires_at"], abs=2)
        ivan.confirm(again["callback_id"], False, "after the restart")

        decision = waiting.result(30)
        assert (decision.proceed, decision.feedback, decision.callback_id) == (
            False,
            "after the restart",
            first["callback_id"],
        )
        assert [prompt["callback_id"] for prompt in ivan.prompts()] == [first["callback_id"]] * 2
        retries = [record.getMessage() for record in caplog.records if "retrying" in record.getMessage()]
        assert retries and all(first["callback_id"] in message for message in retries)
        if stop_signal == signal.SIGTERM:
            assert "POST /notify: HTTP 503; retrying" in retries[0]
    finally:
        caller.close()


def test_a_gateway_that_stays_away_raises_with_the_callback_id(client_kind: str) -> None:
    caller = Caller(
        client_kind, f"http://127.0.0.1:{free_port()}", retry=RetryPolicy(initial_backoff=0.05, budget=0.5)
    )
    try:
        started = time.monotonic()
        with pytest.raises(GatewayUnavailableError) as raised:
            caller.call("notify_user", step_result(), "nobody", "task", 1, timeout=0.5, callback_id="cb-unreachable")
        assert raised.value.callback_id == "cb-unreachable"
        assert "ConnectError" in str(raised.value.last_error)
        # The confirmation's 0.5 s plus the retry budget's 0.5 s, and not much more.
        assert 0.9 < time.monotonic() - started < 5

        with pytest.raises(GatewayUnavailableError):
            caller.call("broadcast_message", {"type": "notice"})
    finally:
        caller.close()
