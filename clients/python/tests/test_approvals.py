"""Approvals (issue 21) against the real gateway: options and forms answered by real
WebSocket users, a quorum of two, a refused form answer, and requires_confirmation end to
end, with both clients."""

from __future__ import annotations

import asyncio
import enum
from concurrent.futures import Future
from typing import Any, Dict, List, Optional

import pytest

from conftest import Caller, step_result, unique

from confirmation_gateway import (
    ConfirmationRejected,
    ConfirmationTimedOut,
    Option,
    Reminders,
    Vote,
    requires_confirmation,
)

FORM = {
    "type": "object",
    "properties": {
        "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3},
        "region": {"type": "string", "enum": ["eu", "us"], "default": "eu"},
    },
    "required": ["replicas"],
}


def test_an_option_and_an_edited_form_come_back_in_the_decision(caller: Caller, users: Any) -> None:
    user_id = unique("olive")
    olive = users(user_id)
    options = [Option("ship", "Ship it"), Option("hold", "Hold", proceed=False, description="Wait for Monday")]

    waiting = caller.start("notify_user", step_result(), user_id, unique("task"), 1, options=options, form=FORM)
    prompt = olive.receive("task_step_result")
    assert prompt["options"] == [o.to_json() for o in options] and prompt["form"] == FORM
    olive.send({"action": "confirm", "callback_id": prompt["callback_id"], "proceed": True, "option": "ship",
                "data": {"replicas": 5, "region": "us"}})

    decision = waiting.result(15)
    assert (decision.proceed, decision.option, decision.data, decision.decided_by) == (True, "ship", {"replicas": 5, "region": "us"}, user_id)
    assert [(v.user_id, v.proceed, v.option) for v in decision.votes] in ([], [(user_id, True, "ship")])


def test_a_form_answer_out_of_bounds_is_refused_naming_its_field_and_settles_nothing(caller: Caller, users: Any) -> None:
    user_id = unique("pat")
    pat = users(user_id)
    waiting = caller.start("notify_user", step_result(), user_id, unique("task"), 1, form=FORM, timeout=60)
    callback_id = pat.receive("task_step_result")["callback_id"]

    pat.send({"action": "confirm", "callback_id": callback_id, "proceed": True, "data": {"replicas": 11}})
    refused = pat.receive("error")
    assert (refused["code"], refused["field"]) == ("invalid_answer", "replicas")
    assert not waiting.done()

    pat.send({"action": "confirm", "callback_id": callback_id, "proceed": True, "data": {"replicas": 10}})
    # A field the answer leaves out takes the form's default (the proposed value).
    assert waiting.result(15).data == {"replicas": 10, "region": "eu"}


def test_a_quorum_of_two_settles_on_the_second_approval_and_shows_the_votes(caller: Caller, users: Any) -> None:
    owner, ann_id, bob_id = unique("owner"), unique("ann"), unique("bob")
    ann, bob = users(ann_id), users(bob_id)
    waiting = caller.start(
        "notify_user", step_result(), owner, unique("task"), 1,
        approvers=[ann_id, bob_id, unique("carl")], policy="quorum", quorum=2, timeout=60,
    )
    callback_id = ann.receive("task_step_result")["callback_id"]
    bob_prompt = bob.receive("task_step_result")
    assert (bob_prompt["policy"], bob_prompt["quorum"]) == ("quorum", 2)

    ann.confirm(callback_id, True)
    vote = bob.receive("confirmation_vote", callback_id=callback_id)
    assert [v["user_id"] for v in vote["votes"]] == [ann_id] and vote["needed"] == 1
    assert not waiting.done()
    bob.confirm(callback_id, True, "fine by me")

    decision = waiting.result(15)
    assert (decision.proceed, decision.decided_by) == (True, bob_id)
    assert [(v.user_id, v.proceed) for v in decision.votes] == [(ann_id, True), (bob_id, True)]
    assert all(isinstance(v, Vote) and v.at for v in decision.votes)


def test_a_reminder_shows_the_prompt_again_marked_with_its_number(caller: Caller, users: Any) -> None:
    user_id = unique("rita")
    rita = users(user_id)
    waiting = caller.start("notify_user", step_result(), user_id, unique("task"), 1,
                           reminders=Reminders(every_seconds=1, max=2), timeout=30)
    first = rita.receive("task_step_result")
    assert "reminder" not in first
    again = rita.receive("task_step_result", callback_id=first["callback_id"], timeout=10)
    assert again["reminder"] == 1
    rita.confirm(first["callback_id"], False)
    assert waiting.result(15).proceed is False


class Region(enum.Enum):
    EU = "eu"
    US = "us"


def run_decorated(caller: Caller, function: Any, *args: Any, **kwargs: Any) -> Future:
    """Calls the decorated function in the background, on the client's own loop or thread."""
    if caller.kind == "GatewayClient":
        assert caller._executor is not None
        return caller._executor.submit(function, *args, **kwargs)
    return caller._on_loop(function(*args, **kwargs))


def decorate(caller: Caller, user_id: str, ran: List[Dict[str, Any]], **options: Any) -> Any:
    guard = requires_confirmation(caller.client, user_id=user_id, message="Scale the service?", **options)
    if caller.kind == "GatewayClient":

        def scale(service: str, replicas: int = 2, region: Region = Region.EU, dry_run: bool = False,
                  note: Optional[str] = None) -> str:
            ran.append({"service": service, "replicas": replicas, "region": region, "dry_run": dry_run})
            return f"{service}x{replicas}@{region.value}"

        return guard(scale)

    async def scale_async(service: str, replicas: int = 2, region: Region = Region.EU, dry_run: bool = False,
                          note: Optional[str] = None) -> str:
        await asyncio.sleep(0)
        ran.append({"service": service, "replicas": replicas, "region": region, "dry_run": dry_run})
        return f"{service}x{replicas}@{region.value}"

    return guard(scale_async)


def test_requires_confirmation_runs_the_function_with_the_arguments_the_user_edited(caller: Caller, users: Any) -> None:
    user_id = unique("uma")
    uma = users(user_id)
    ran: List[Dict[str, Any]] = []
    scale = decorate(caller, user_id, ran, timeout=60)

    result = run_decorated(caller, scale, "api", replicas=4)
    prompt = uma.receive("task_step_result")
    assert prompt["message"] == "Scale the service?"
    form = prompt["form"]
    assert form["properties"]["replicas"] == {"title": "Replicas", "type": "integer", "default": 4}
    assert form["properties"]["region"]["enum"] == ["eu", "us"] and form["properties"]["region"]["default"] == "eu"
    assert set(form["required"]) == {"service", "replicas", "region", "dry_run"}
    assert ran == []

    uma.send({"action": "confirm", "callback_id": prompt["callback_id"], "proceed": True,
              "data": {"service": "api", "replicas": 6, "region": "us", "dry_run": True}})
    assert result.result(15) == "apix6@us"
    assert ran == [{"service": "api", "replicas": 6, "region": Region.US, "dry_run": True}]


def test_requires_confirmation_raises_on_a_rejection_and_on_a_timeout_without_running(caller: Caller, users: Any) -> None:
    user_id = unique("vic")
    vic = users(user_id)
    ran: List[Dict[str, Any]] = []
    scale = decorate(caller, user_id, ran, timeout=60)

    result = run_decorated(caller, scale, "db")
    vic.confirm(vic.receive("task_step_result")["callback_id"], False, "not now")
    with pytest.raises(ConfirmationRejected) as rejected:
        result.result(15)
    assert (rejected.value.decision.feedback, rejected.value.decision.decided_by) == ("not now", user_id)

    # The gateway's default timeout decision is `proceed`: the decorator still refuses to run.
    hurried = decorate(caller, user_id, ran, timeout=0.5)
    with pytest.raises(ConfirmationTimedOut) as timed_out:
        run_decorated(caller, hurried, "db").result(15)
    assert timed_out.value.decision.timed_out is True
    assert ran == []
