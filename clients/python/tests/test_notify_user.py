"""notify_user and ask against the real gateway, answered by real WebSocket clients, with
both clients (every test taking `caller` runs once with GatewayClient and once with
AsyncGatewayClient)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Optional

import pytest

from conftest import API_KEY, Caller, step_result, unique

from confirmation_gateway import TaskStepResult, UserConfirmation


def test_confirm_reaches_only_that_user_and_returns_the_decision(caller: Caller, users: Any) -> None:
    user_id, task_id = unique("alice"), unique("task")
    alice, bob = users(user_id), users(unique("bob"))

    waiting = caller.start("notify_user", step_result(), user_id, task_id, 1)
    prompt = alice.receive("task_step_result")
    assert prompt["user_id"] == user_id and prompt["task_id"] == task_id and prompt["step"] == 1
    assert prompt["step_name"] == "data_validation" and prompt["status"] == "completed" and prompt["completed"] is True
    assert prompt["message"] == "Validation finished with 5 errors. Continue?"
    assert prompt["result"] == {"validated_rows": 1000, "errors": 5}
    assert prompt["expires_at"] - prompt["timestamp"] == pytest.approx(300, abs=1)

    alice.confirm(prompt["callback_id"], True, "go on")
    decision = waiting.result(15)

    assert decision == UserConfirmation(proceed=True, feedback="go on", callback_id=prompt["callback_id"])
    alice.receive("confirmation_accepted", callback_id=prompt["callback_id"])
    assert bob.prompts() == []


def test_reject_returns_proceed_false_with_the_feedback(caller: Caller, users: Any) -> None:
    user_id = unique("carol")
    carol = users(user_id)

    waiting = caller.start("notify_user", step_result("Training failed. Retry?"), user_id, unique("task"), 2, timeout=60)
    prompt = carol.receive("task_step_result")
    assert prompt["message"] == "Training failed. Retry?"
    carol.confirm(prompt["callback_id"], False, "stop here")

    decision = waiting.result(15)
    assert (decision.proceed, decision.feedback, decision.timed_out, decision.cancelled) == (False, "stop here", False, False)


def test_an_unanswered_confirmation_returns_the_timeout_decision(caller: Caller, users: Any) -> None:
    user_id = unique("dave")
    dave = users(user_id)

    started = time.monotonic()
    decision = caller.call("notify_user", step_result(), user_id, unique("task"), 1, timeout=0.5)

    assert time.monotonic() - started < 5
    # The gateway's WEBSOCKET_TIMEOUT_DECISION is `proceed` by default; timed_out tells it apart.
    assert (decision.proceed, decision.timed_out, decision.cancelled) == (True, True, False)
    dave.receive("confirmation_resolved", callback_id=decision.callback_id, state="timed_out")


def test_a_user_who_cancels_the_task_settles_the_wait_and_later_asks(caller: Caller, users: Any) -> None:
    user_id, task_id = unique("erin"), unique("task")
    erin = users(user_id)
    assert caller.call("is_cancelled", task_id) is False

    waiting = caller.start("notify_user", step_result(), user_id, task_id, 1)
    erin.receive("task_step_result")
    erin.send({"action": "cancel", "task_id": task_id})

    decision = waiting.result(15)
    assert (decision.proceed, decision.cancelled, decision.timed_out) == (False, True, False)
    assert caller.call("is_cancelled", task_id) is True

    # The next step of the cancelled task is answered at once, without asking the user.
    again = caller.call("notify_user", step_result(), user_id, task_id, 2)
    assert again.cancelled is True and again.callback_id != decision.callback_id
    assert len(erin.prompts()) == 1


def test_a_long_wait_outlasts_the_http_read_timeout(client_kind: str, gateway: Any, users: Any) -> None:
    user_id = unique("frank")
    frank = users(user_id)
    caller = Caller(client_kind, gateway.url, api_key=API_KEY, request_timeout=0.5)
    try:
        waiting = caller.start("notify_user", step_result(), user_id, unique("task"), 1, timeout=30)
        prompt = frank.receive("task_step_result")
        time.sleep(2)  # four times request_timeout
        frank.confirm(prompt["callback_id"], True)
        assert waiting.result(15).proceed is True
        # One prompt: the wait was never cut short and re-sent.
        assert len(frank.prompts()) == 1
    finally:
        caller.close()


def test_ask_returns_at_once_and_the_decision_can_be_read_or_awaited_later(caller: Caller, users: Any) -> None:
    user_id, task_id = unique("grace"), unique("task")
    grace = users(user_id)

    callback_id = caller.call("ask", step_result(), user_id, task_id, 3, timeout=60, callback_id=unique("job-42.step-3"))
    pending = caller.call("get_confirmation", callback_id)
    assert pending.pending and pending.to_user_confirmation() is None
    assert (pending.user_id, pending.task_id, pending.step, pending.step_name) == (user_id, task_id, 3, "data_validation")

    prompt = grace.receive("task_step_result")
    assert prompt["callback_id"] == callback_id
    grace.confirm(callback_id, True, "fine")

    settled = caller.call("get_confirmation", callback_id, wait_seconds=10)
    assert settled.state == "confirmed" and settled.settled_at is not None
    assert settled.to_user_confirmation() == UserConfirmation(True, "fine", False, False, callback_id)
    # notify_user with that callback_id returns the same decision and asks nobody again.
    replay = caller.call("notify_user", step_result(), user_id, task_id, 3, callback_id=callback_id)
    assert replay == settled.to_user_confirmation()
    assert len(grace.prompts()) == 1


def test_a_callers_own_models_and_mappings_are_accepted(caller: Caller, users: Any) -> None:
    import pydantic

    class StepResultModel(pydantic.BaseModel):  # a task service's own copy of the original model
        step: str
        result: Any = None
        completed: bool = False
        message: str
        status: str
        error_code: Optional[str] = None
        error_message: Optional[str] = None

    @dataclass
    class StepResultRecord:
        step: str
        message: str
        status: str
        error_code: Optional[str] = None

    user_id = unique("heidi")
    heidi = users(user_id)
    given = [
        StepResultModel(step="model_training", message="GPU out of memory. Retry?", status="failed",
                        error_code="E003", error_message="GPU 内存不足"),
        StepResultRecord(step="export", message="Export?", status="completed", error_code=None),
        {"step": "report", "message": "Send the report?", "status": "completed", "result": [1, 2]},
    ]
    for step_number, value in enumerate(given):
        waiting = caller.start("notify_user", value, user_id, unique("task"), step_number)
        prompt = heidi.receive("task_step_result")
        heidi.confirm(prompt["callback_id"], True)
        assert waiting.result(15).proceed is True
        assert prompt["step"] == step_number
        assert prompt["step_name"] == (value["step"] if isinstance(value, dict) else value.step)

    first, second, third = heidi.prompts()
    assert (first["error_code"], first["error_message"], first["completed"]) == ("E003", "GPU 内存不足", False)
    assert second["result"] is None and third["result"] == [1, 2]


def test_the_design_documents_task_step_result_keeps_its_field_names() -> None:
    result = TaskStepResult(step="s", message="m", status="completed")
    assert (result.result, result.completed, result.error_code, result.error_message) == (None, False, None, None)

