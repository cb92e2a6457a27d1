"""The approvals' I/O-free parts: what notify_user sends for each new argument, how the
decision reads back, the 202 hand-over to long-polling, and the form a signature makes.
The same calls against the real gateway are in test_approvals.py."""

from __future__ import annotations

import asyncio
import datetime
import enum
import json
from typing import Any, Dict, List, Literal, Optional

import httpx
import pytest

from confirmation_gateway import (
    Approvers,
    AsyncGatewayClient,
    ConfirmationCancelled,
    ConfirmationRejected,
    ConfirmationTimedOut,
    Escalation,
    GatewayClient,
    Option,
    Reminders,
    SignatureForm,
    TaskStepResult,
    UserConfirmation,
    Vote,
    requires_confirmation,
)

STEP = TaskStepResult(step="deploy", message="Deploy?", status="completed")


class Gateway:
    """Answers POST /notify with `notify` and GET /confirmations/{id} with `views` in turn."""

    def __init__(self, notify: httpx.Response, *views: Dict[str, Any]) -> None:
        self.notify = notify
        self.views = list(views)
        self.requests: List[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "POST":
            return self.notify
        return httpx.Response(200, json=self.views.pop(0))

    def body(self) -> Dict[str, Any]:
        return json.loads(self.requests[0].content)


def sync_client(gateway: Gateway) -> GatewayClient:
    made = GatewayClient("http://gw")
    made._http.close()
    made._http = httpx.Client(base_url="http://gw", transport=httpx.MockTransport(gateway))
    return made


def async_client(gateway: Gateway) -> AsyncGatewayClient:
    made = AsyncGatewayClient("http://gw")
    made._http = httpx.AsyncClient(base_url="http://gw", transport=httpx.MockTransport(gateway))
    return made


DECIDED = {
    "callback_id": "cb-1",
    "proceed": True,
    "feedback": None,
    "timed_out": False,
    "cancelled": False,
    "option": "ship",
    "data": {"replicas": 5},
    "decided_by": "bob",
    "votes": [{"user_id": "ann", "proceed": True, "option": "ship", "at": 1.5}, {"user_id": "bob", "proceed": True, "option": None, "at": 2.5}],
}


def test_a_plain_notify_user_sends_exactly_the_fields_it_sent_before() -> None:
    gateway = Gateway(httpx.Response(200, json={"proceed": True}))
    sync_client(gateway).notify_user(STEP, "ann", "t", 1, timeout=10, callback_id="cb")
    assert set(gateway.body()) == {"user_id", "task_id", "step", "step_result", "callback_id", "timeout_seconds"}


def test_each_approval_argument_goes_out_with_the_wires_names_and_the_decision_reads_back_typed() -> None:
    gateway = Gateway(httpx.Response(200, json=DECIDED))
    form = {"type": "object", "properties": {"replicas": {"type": "integer", "default": 3}}}
    decision = sync_client(gateway).notify_user(
        STEP,
        "ann",
        "t",
        1,
        options=[Option("ship", "Ship it"), {"id": "stop", "label": "Stop", "proceed": False, "description": "no"}],
        form=form,
        approvers=["ann", "bob"],
        policy="quorum",
        quorum=2,
        forbid_self=True,
        requested_by="carl",
        reminders=Reminders(every_seconds=60, max=3),
        escalation=[Escalation(after_seconds=600, groups=("oncall",))],
    )
    body = gateway.body()
    assert body["options"] == [
        {"id": "ship", "label": "Ship it", "proceed": True},
        {"id": "stop", "label": "Stop", "proceed": False, "description": "no"},
    ]
    assert body["form"] == form and body["approvers"] == {"users": ["ann", "bob"]}
    assert (body["policy"], body["quorum"], body["forbid_self"], body["requested_by"]) == ("quorum", 2, True, "carl")
    assert body["reminders"] == {"every_seconds": 60, "max": 3}
    assert body["escalation"] == [{"after_seconds": 600, "groups": ["oncall"]}]
    assert decision == UserConfirmation(
        proceed=True,
        callback_id="cb-1",
        option="ship",
        data={"replicas": 5},
        decided_by="bob",
        votes=(Vote("ann", True, "ship", 1.5), Vote("bob", True, None, 2.5)),
    )


def test_approvers_as_a_dataclass_or_mapping_and_a_bad_policy_is_refused_before_sending() -> None:
    gateway = Gateway(httpx.Response(200, json={"proceed": False}))
    client = sync_client(gateway)
    client.notify_user(STEP, "ann", "t", 1, approvers=Approvers(users=("ann",), groups=("ops",)))
    assert gateway.body()["approvers"] == {"users": ["ann"], "groups": ["ops"]}
    with pytest.raises(ValueError, match="policy must be one of any, all, quorum"):
        client.notify_user(STEP, "ann", "t", 1, policy="most")
    with pytest.raises(TypeError, match="not a string"):
        client.notify_user(STEP, "ann", "t", 1, approvers="ann")


PENDING = {"callback_id": "cb-1", "state": "pending", "status": "pending", "expires_at": 99}
VIEW = {
    "callback_id": "cb-1", "user_id": "ann", "task_id": "t", "step": 1, "step_name": "deploy", "message": "Deploy?",
    "feedback": None, "timed_out": False, "cancelled": False, "created_at": 1.0, "expires_at": 99.0,
}


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_202_from_a_held_notify_turns_into_long_polls_until_the_decision(kind: str) -> None:
    still = {**VIEW, "state": "pending", "proceed": None, "settled_at": None, "votes": [{"user_id": "ann", "proceed": True, "at": 3}]}
    done = {**VIEW, **DECIDED, "state": "confirmed", "settled_at": 5.0}
    gateway = Gateway(httpx.Response(202, json=PENDING, headers={"location": "/confirmations/cb-1"}), still, done)
    if kind == "sync":
        decision = sync_client(gateway).notify_user(STEP, "ann", "t", 1, timeout=600, callback_id="cb-1")
    else:
        decision = asyncio.run(async_client(gateway).notify_user(STEP, "ann", "t", 1, timeout=600, callback_id="cb-1"))
    polls = gateway.requests[1:]
    assert [(r.method, r.url.path) for r in polls] == [("GET", "/confirmations/cb-1")] * 2
    assert all(float(r.url.params["wait_seconds"]) == 50 for r in polls)
    assert (decision.proceed, decision.option, decision.data, decision.decided_by) == (True, "ship", {"replicas": 5}, "bob")
    assert [vote.user_id for vote in decision.votes] == ["ann", "bob"]


# The form a signature makes.


class Env(enum.Enum):
    PROD = "prod"
    STAGING = "staging"


def deploy(
    service: str,
    replicas: int = 3,
    ratio: float = 0.5,
    dry_run: bool = False,
    env: Env = Env.STAGING,
    regions: List[Literal["eu", "us"]] = ["eu"],  # noqa: B006
    note: Optional[str] = None,
    on: datetime.date = datetime.date(2026, 1, 2),
    connection: object = None,
    *rest: Any,
    **more: Any,
) -> Dict[str, Any]:
    return {"service": service, "replicas": replicas, "ratio": ratio, "dry_run": dry_run, "env": env,
            "regions": regions, "note": note, "on": on, "connection": connection}


def test_a_signature_becomes_a_flat_form_with_the_calls_values_as_defaults() -> None:
    form = SignatureForm(deploy, constraints={"replicas": {"minimum": 1, "maximum": 10}})
    schema = form.schema({"service": "api", "replicas": 4, "ratio": 0.5, "dry_run": False, "env": Env.PROD,
                          "regions": ["eu", "us"], "note": None, "on": datetime.date(2026, 3, 4), "connection": object()})
    assert schema == {
        "type": "object",
        "properties": {
            "service": {"title": "Service", "type": "string", "default": "api"},
            "replicas": {"title": "Replicas", "type": "integer", "minimum": 1, "maximum": 10, "default": 4},
            "ratio": {"title": "Ratio", "type": "number", "default": 0.5},
            "dry_run": {"title": "Dry run", "type": "boolean", "default": False},
            "env": {"title": "Env", "type": "string", "enum": ["prod", "staging"], "default": "prod"},
            "regions": {"title": "Regions", "type": "array", "items": {"type": "string", "enum": ["eu", "us"]}, "default": ["eu", "us"]},
            "note": {"title": "Note", "type": "string"},
            "on": {"title": "On", "type": "string", "format": "date", "default": "2026-03-04"},
        },
        # Optional[...] is the only way to be optional: every other value is known at call time.
        "required": ["service", "replicas", "ratio", "dry_run", "env", "regions", "on"],
    }
    with pytest.raises(TypeError, match="connection"):
        SignatureForm(deploy, constraints={"connection": {"minimum": 1}})


def approving(data: Optional[Dict[str, Any]] = None, **decision: Any) -> Gateway:
    return Gateway(httpx.Response(200, json={"proceed": True, "data": data, "decided_by": "ann", **decision}))


def test_the_decorated_function_runs_with_the_approved_values_converted_back_to_its_types() -> None:
    gateway = approving({"replicas": 7, "ratio": 1, "env": "prod", "regions": ["us"], "on": "2026-05-06", "sneaky": 1})
    client = sync_client(gateway)
    guarded = requires_confirmation(client, user_id=lambda args: f"owner-of-{args['service']}", timeout=30)(deploy)

    result = guarded("api", connection="kept")

    body = gateway.body()
    assert body["user_id"] == "owner-of-api" and body["timeout_seconds"] == 30
    assert body["form"]["properties"]["replicas"]["default"] == 3
    assert body["step_result"]["message"] == "Run deploy?"
    assert result == {"service": "api", "replicas": 7, "ratio": 1.0, "dry_run": False, "env": Env.PROD,
                      "regions": ["us"], "note": None, "on": datetime.date(2026, 5, 6), "connection": "kept"}
    assert isinstance(result["ratio"], float)


@pytest.mark.parametrize(
    "decision, error",
    [
        ({"proceed": False, "feedback": "not today", "decided_by": "bob"}, ConfirmationRejected),
        ({"proceed": True, "timed_out": True}, ConfirmationTimedOut),
        ({"proceed": False, "cancelled": True}, ConfirmationCancelled),
    ],
)
def test_a_declined_timed_out_or_cancelled_confirmation_raises_and_the_function_never_runs(decision: Dict[str, Any], error: type) -> None:
    ran: List[int] = []
    client = sync_client(Gateway(httpx.Response(200, json=decision)))

    @requires_confirmation(client, user_id="ann")
    def act(n: int) -> None:
        ran.append(n)

    with pytest.raises(error) as raised:
        act(1)
    assert ran == [] and raised.value.decision.proceed is decision["proceed"]
    if error is ConfirmationRejected:
        assert str(raised.value) == "test_a_declined_timed_out_or_cancelled_confirmation_raises_and_the_function_never_runs.<locals>.act did not run: declined by bob: not today"


def test_an_async_function_is_awaited_with_the_approved_values_and_the_client_kind_must_match() -> None:
    gateway = approving({"count": 2})
    client = async_client(gateway)

    @requires_confirmation(client, user_id="ann", task_id="t-1", message=lambda args: f"Send {args['count']}?")
    async def send(count: int) -> int:
        return count * 10

    assert asyncio.run(send(1)) == 20
    assert gateway.body()["task_id"] == "t-1" and gateway.body()["step_result"]["message"] == "Send 1?"
    with pytest.raises(TypeError, match="decorate it with a GatewayClient"):
        requires_confirmation(client, user_id="ann")(deploy)
    with pytest.raises(TypeError, match="decorate it with an AsyncGatewayClient"):
        requires_confirmation(sync_client(gateway), user_id="ann")(send)
