"""The W3C trace context the client sends: an explicit `traceparent=` on notify_user and
ask, else OpenTelemetry's current context. Checked where it matters, in the gateway's own
spans: the gateway runs with tracing on and its console exporter, so its output shows the
spans of the trace the client continued."""

from __future__ import annotations

import secrets
import sys
import time
import types
from typing import Any, Dict, Iterator

import pytest

from conftest import API_KEY, Caller, GatewayProcess, free_port, step_result, unique

from confirmation_gateway import _tracing


@pytest.fixture(scope="module")
def traced_gateway() -> Iterator[GatewayProcess]:
    process = GatewayProcess(free_port(), {"OTEL_TRACES_EXPORTER": "console", "OTEL_BSP_SCHEDULE_DELAY": "50"}).start()
    yield process
    process.close()


@pytest.fixture
def traced_caller(client_kind: str, traced_gateway: GatewayProcess) -> Iterator[Caller]:
    instance = Caller(client_kind, traced_gateway.url, api_key=API_KEY)
    yield instance
    instance.close()


@pytest.fixture
def fake_opentelemetry(monkeypatch: pytest.MonkeyPatch) -> Dict[str, str]:
    """`opentelemetry.propagate` as the package provides it (it cannot be installed here):
    inject() writes the current context's headers into the carrier."""
    current: Dict[str, str] = {}
    package = types.ModuleType("opentelemetry")
    propagate = types.ModuleType("opentelemetry.propagate")
    propagate.inject = lambda carrier: carrier.update(current)  # type: ignore[attr-defined]
    package.propagate = propagate  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "opentelemetry", package)
    monkeypatch.setitem(sys.modules, "opentelemetry.propagate", propagate)
    monkeypatch.setattr(_tracing, "_looked_up", False)
    return current


def new_trace() -> Dict[str, str]:
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    return {"trace_id": trace_id, "parent_id": parent_id, "traceparent": f"00-{trace_id}-{parent_id}-01"}


def wait_for_span(gateway: GatewayProcess, trace_id: str, name: str, timeout: float = 15.0) -> str:
    """The gateway's output once a span of that name in that trace has been exported."""
    deadline = time.monotonic() + timeout
    while True:
        output = gateway.output()
        for block in output.split("\n}\n"):
            if f"traceId: '{trace_id}'" in block and f"name: '{name}'" in block:
                return block
        if time.monotonic() > deadline:
            raise AssertionError(f"no span {name!r} in trace {trace_id} in the gateway's output:\n{output[-3000:]}")
        time.sleep(0.1)


def test_an_explicit_traceparent_is_continued_by_the_gateway(traced_caller: Caller, traced_gateway: GatewayProcess) -> None:
    trace = new_trace()
    callback_id = traced_caller.call(
        "ask", step_result(), unique("alice"), unique("task"), 1, traceparent=trace["traceparent"], tracestate="vendor=opaque"
    )
    http = wait_for_span(traced_gateway, trace["trace_id"], "POST /notify")
    # The gateway's HTTP span is the child of the span the client named.
    assert f"spanId: '{trace['parent_id']}'" in http
    create = wait_for_span(traced_gateway, trace["trace_id"], "create confirmation")
    assert f"'confirmation.callback_id': '{callback_id}'" in create
    assert "vendor=opaque" in create or "vendor" in http


def test_notify_user_sends_the_explicit_traceparent_on_every_attempt(
    traced_caller: Caller, traced_gateway: GatewayProcess, users: Any
) -> None:
    trace = new_trace()
    user_id = unique("bob")
    bob = users(user_id, traced_gateway)
    waiting = traced_caller.start("notify_user", step_result(), user_id, unique("task"), 2, traceparent=trace["traceparent"])
    prompt = bob.receive("task_step_result")
    bob.confirm(prompt["callback_id"], True)
    assert waiting.result(15).proceed is True
    # The answer, given over the user's WebSocket, joins the caller's trace too.
    answer = wait_for_span(traced_gateway, trace["trace_id"], "answer confirmation")
    assert "'confirmation.state': 'confirmed'" in answer


def test_without_an_argument_the_current_opentelemetry_context_is_sent(
    traced_caller: Caller, traced_gateway: GatewayProcess, fake_opentelemetry: Dict[str, str]
) -> None:
    trace = new_trace()
    fake_opentelemetry["traceparent"] = trace["traceparent"]
    callback_id = traced_caller.call("ask", step_result(), unique("carol"), unique("task"), 1)
    create = wait_for_span(traced_gateway, trace["trace_id"], "create confirmation")
    assert f"'confirmation.callback_id': '{callback_id}'" in create


def test_trace_headers_come_from_the_argument_else_the_current_context(fake_opentelemetry: Dict[str, str]) -> None:
    trace = new_trace()
    assert _tracing.current_trace_headers() is None  # no active span: nothing to send
    fake_opentelemetry.update(traceparent=trace["traceparent"], tracestate="a=1")
    assert _tracing.current_trace_headers() == {"traceparent": trace["traceparent"], "tracestate": "a=1"}
    assert _tracing.explicit_trace_headers(None, None) is None
    assert _tracing.explicit_trace_headers(trace["traceparent"], None) == {"traceparent": trace["traceparent"]}
    assert _tracing.explicit_trace_headers(trace["traceparent"], "b=2") == {"traceparent": trace["traceparent"], "tracestate": "b=2"}


def test_without_opentelemetry_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # import fails, as when it is not installed
    monkeypatch.setattr(_tracing, "_looked_up", False)
    assert _tracing.current_trace_headers() is None


@pytest.mark.parametrize(
    "traceparent, tracestate",
    [
        ("not-a-traceparent", None),
        (f"00-{'0' * 32}-{'1' * 16}-01", None),  # all-zero trace id
        (f"00-{'1' * 32}-{'0' * 16}-01", None),  # all-zero parent id
        (f"00-{'A' * 32}-{'1' * 16}-01", None),  # upper case
        (None, "vendor=x"),  # tracestate alone
        (f"00-{'1' * 32}-{'1' * 16}-01", "a=1\nb=2"),
    ],
)
def test_a_malformed_trace_context_is_refused_before_any_request(traceparent: Any, tracestate: Any) -> None:
    with pytest.raises(ValueError):
        _tracing.explicit_trace_headers(traceparent, tracestate)
