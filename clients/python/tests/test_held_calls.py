"""notify_user across a gateway that holds one HTTP call at most NOTIFY_MAX_WAIT_SECONDS
(here 1 s): the gateway answers 202, and the client keeps waiting by long polls until the
user decides, with both clients."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator, List, Optional

import httpx
import pytest

from conftest import API_KEY, Caller, GatewayProcess, UserAgent, free_port, step_result, unique

from confirmation_gateway import UserConfirmation


@pytest.fixture(scope="module")
def impatient_gateway() -> Iterator[GatewayProcess]:
    process = GatewayProcess(free_port(), {"NOTIFY_MAX_WAIT_SECONDS": "1"}).start()
    yield process
    process.close()


@pytest.fixture
def impatient_caller(client_kind: str, impatient_gateway: GatewayProcess) -> Iterator[Caller]:
    instance = Caller(client_kind, impatient_gateway.url, api_key=API_KEY)
    yield instance
    instance.close()


@pytest.fixture
def tabs(impatient_gateway: GatewayProcess) -> Iterator[Callable[[str], UserAgent]]:
    opened: List[UserAgent] = []

    def open_tab(user_id: str) -> UserAgent:
        agent = UserAgent(impatient_gateway.ws_url(user_id))
        opened.append(agent)
        agent.connected()
        return agent

    yield open_tab
    for agent in opened:
        agent.close()


def test_the_gateway_itself_answers_202_with_location_after_one_second(impatient_gateway: GatewayProcess) -> None:
    callback_id = unique("raw")
    body = {"user_id": unique("raw-user"), "task_id": unique("task"), "step": 1, "callback_id": callback_id,
            "step_result": {"step": "s", "message": "m", "status": "completed"}, "timeout_seconds": 30}
    started = time.monotonic()
    response = httpx.post(f"{impatient_gateway.url}/notify", json=body, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10)
    assert time.monotonic() - started >= 0.9
    assert response.status_code == 202
    assert response.headers["location"] == f"/confirmations/{callback_id}"
    assert response.json()["state"] == "pending"


def test_notify_user_waits_across_202s_until_the_user_decides(impatient_caller: Caller, tabs: Any) -> None:
    user_id = unique("patience")
    tab = tabs(user_id)
    started = time.monotonic()
    waiting = impatient_caller.start("notify_user", step_result(), user_id, unique("task"), 1, timeout=60)
    prompt = tab.receive("task_step_result")
    # Several of the gateway's 1 s holds pass before the answer.
    time.sleep(3.5)
    assert not waiting.done()
    tab.confirm(prompt["callback_id"], True, "finally")
    decision = waiting.result(15)
    assert time.monotonic() - started >= 3.5
    assert decision == UserConfirmation(proceed=True, feedback="finally", callback_id=prompt["callback_id"])


def test_notify_user_gets_the_timeout_decision_after_several_holds(impatient_caller: Caller, tabs: Any) -> None:
    user_id = unique("nobody")
    tabs(user_id)
    decision: Optional[UserConfirmation] = impatient_caller.call("notify_user", step_result(), user_id, unique("task"), 1, timeout=2.5)
    assert decision is not None
    assert (decision.proceed, decision.timed_out, decision.cancelled) == (True, True, False)
