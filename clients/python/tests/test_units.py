"""The I/O-free parts: back-off, Retry-After, error mapping, settings, and the two clients'
sameness, and the retries against a scripted gateway (httpx.MockTransport) on a fake clock.
Everything else that talks to the gateway is tested against the real one elsewhere."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
import types
import warnings
from typing import Any, List, Union
from email.utils import formatdate

import httpx
import pytest

from confirmation_gateway import (
    AsyncGatewayClient,
    ConfigurationError,
    GatewayClient,
    GatewayError,
    GatewayResponseError,
    GatewayUnavailableError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    TaskStepResult,
)
from confirmation_gateway import _flows, async_client, client
from confirmation_gateway._flows import error_from, parse_retry_after, resolve_settings


def response(status: int, body: bytes = b"", headers: dict = {}) -> httpx.Response:  # noqa: B006
    return httpx.Response(status, content=body, headers=headers, request=httpx.Request("GET", "http://gw/x"))


def test_back_off_doubles_with_jitter_up_to_the_cap_and_never_undercuts_retry_after() -> None:
    policy = RetryPolicy(initial_backoff=0.2, max_backoff=1.0)
    for attempt, step in [(0, 0.2), (1, 0.4), (2, 0.8), (3, 1.0), (10, 1.0)]:
        delays = [policy.delay(attempt, None) for _ in range(200)]
        assert all(step / 2 <= delay <= step for delay in delays)
        assert len(set(delays)) > 1
    assert all(3.0 <= policy.delay(0, 3.0) <= 3.1 for _ in range(200))
    # A long wait on an unreachable gateway makes thousands of attempts.
    assert 0.5 <= policy.delay(5000, None) <= 1.0


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    assert parse_retry_after(response(503, headers={"retry-after": "1"})) == 1.0
    assert parse_retry_after(response(503, headers={"retry-after": "-3"})) == 0.0
    in_ten_seconds = parse_retry_after(response(503, headers={"retry-after": formatdate(time.time() + 10, usegmt=True)}))
    assert in_ten_seconds is not None and 8 < in_ten_seconds <= 10
    assert parse_retry_after(response(503, headers={"retry-after": "soon"})) is None
    assert parse_retry_after(response(503)) is None


def test_errors_keep_the_gateways_code_or_name_the_status() -> None:
    limited = error_from(response(429, b'{"statusCode":429,"code":"too_many_pending","message":"full"}', {"retry-after": "5"}))
    assert isinstance(limited, RateLimitedError)
    assert (limited.code, limited.message, limited.retry_after) == ("too_many_pending", "full", 5.0)

    # A proxy in front of the gateway answering with its own page.
    proxied = error_from(response(502, b"<html>Bad Gateway</html>"))
    assert isinstance(proxied, ServerError) and proxied.code == "http_502" and "Bad Gateway" in proxied.message
    assert type(error_from(response(418, b"{}"))) is GatewayResponseError


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="^base_url must start with http:// or https://"):
        resolve_settings("gateway:8765", None, 300, 10, None)
    with pytest.raises(ValueError, match="default_timeout"):
        resolve_settings(None, None, 0, 10, None)
    settings = resolve_settings("https://gw.example/", "secret", 300, 10, None)
    assert settings.base_url == "https://gw.example" and "secret" not in repr(settings)
    assert settings.headers()["Authorization"] == "Bearer secret"


@pytest.mark.parametrize("make_client", [GatewayClient, AsyncGatewayClient])
@pytest.mark.parametrize(
    ("key", "what"),
    [("\u2026", "U\\+2026"), ("key-\u00e9t\u00e9", "U\\+00E9"), ("two words", "a space"), ("key\r\nX-Injected: 1", "U\\+000D")],
)
def test_an_api_key_that_cannot_be_a_header_is_refused_at_construction_naming_the_argument(
    make_client: type, key: str, what: str
) -> None:
    # httpx raised a bare UnicodeEncodeError from deep inside for the README's old placeholder.
    with pytest.raises(ConfigurationError, match=rf"^api_key cannot be sent in an HTTP header: .*\({what}\)") as raised:
        make_client("http://localhost:8765", api_key=key)
    assert isinstance(raised.value, GatewayError) and isinstance(raised.value, ValueError)
    assert key not in str(raised.value)


def test_a_bad_key_in_the_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFIRMATION_GATEWAY_API_KEY", "s\u00e9cret")
    with pytest.raises(ConfigurationError, match="^CONFIRMATION_GATEWAY_API_KEY cannot be sent"):
        GatewayClient("http://localhost:8765")
    monkeypatch.setenv("CONFIRMATION_GATEWAY_URL", "localhost:8765")
    with pytest.raises(ConfigurationError, match="^CONFIRMATION_GATEWAY_URL must start with http"):
        GatewayClient(api_key="fine")


def test_a_printable_ascii_key_is_accepted() -> None:
    key = "replace-me.KEY_0123~!#$%&'*+/=?^`|"
    with GatewayClient("http://localhost:8765", api_key=key) as gateway:
        assert gateway._http.headers["authorization"] == f"Bearer {key}"


def test_both_clients_offer_the_same_calls_with_the_same_signatures() -> None:
    def public(cls: type) -> dict:
        return {
            name: str(inspect.signature(member)).replace("AsyncHeartbeat", "Heartbeat")
            for name, member in vars(cls).items()
            if callable(member) and not name.startswith("_") and name not in ("close", "aclose")
        }

    assert public(GatewayClient) == public(AsyncGatewayClient)
    assert {"notify_user", "broadcast_message", "send_to_user", "send_heartbeat", "get_status",
            "get_connection_count", "get_confirmation", "is_cancelled", "ask",
            "start_server", "stop_server"} <= public(GatewayClient).keys()


STATUS = {"running": True, "host": "0.0.0.0", "port": 8765, "active_connections": 3, "pending_callbacks": 1}


def status_only(request: httpx.Request) -> httpx.Response:
    assert (request.method, request.url.path) == ("GET", "/status")
    return httpx.Response(200, json=STATUS)


def test_start_server_and_stop_server_do_nothing_but_warn_so_the_originals_code_runs() -> None:
    with GatewayClient("http://gw") as gateway:
        gateway._http = httpx.Client(base_url="http://gw", transport=httpx.MockTransport(status_only))
        with pytest.warns(DeprecationWarning, match=r"start_server\(\) does nothing: .* runs as its own service") as caught:
            assert gateway.start_server() is None
        assert caught[0].filename == __file__  # points at the caller's line
        status = gateway.get_status()
        with pytest.warns(DeprecationWarning, match=r"stop_server\(\) does nothing"):
            gateway.stop_server()
        # The client stays open: stop_server() does not close it.
        assert gateway.get_connection_count() == 3 and status["running"] is True

    async def design_section_4_1() -> None:  # the design document's §4.1, with await on get_status()
        ws_manager = AsyncGatewayClient("http://gw")
        ws_manager._http = httpx.AsyncClient(base_url="http://gw", transport=httpx.MockTransport(status_only))
        await ws_manager.start_server()
        await ws_manager.stop_server()
        status = await ws_manager.get_status()
        assert (status["running"], status["active_connections"], status["pending_callbacks"]) == (True, 3, 1)
        assert await ws_manager.get_connection_count() == 3
        await ws_manager.aclose()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(design_section_4_1())
    assert [str(warning.message).split("(")[0] for warning in caught] == ["start_server", "stop_server"]
    assert all(warning.category is DeprecationWarning and warning.filename == __file__ for warning in caught)



# Retries, against a scripted gateway on a fake clock.

Answer = Union[httpx.Response, type]  # a response, or the httpx.TransportError class to raise


class FakeClock:
    """Stands in for `time` in the flows and the blocking client: a retry's wait passes at
    once, is recorded, and moves the clock the deadlines are measured on."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: List[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


class ScriptedGateway:
    """Gives each request the next answer; the last one is repeated when the script runs out."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: List[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, type):
            raise answer("scripted", request=request)
        return answer

    def bodies(self) -> List[Any]:
        return [json.loads(request.content) for request in self.requests]


DECISION = {"proceed": True, "feedback": "go on", "timed_out": False, "cancelled": False}
STEP = TaskStepResult(step="data_validation", message="Continue?", status="completed")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(_flows, "time", fake)
    monkeypatch.setattr(client, "time", fake)

    async def sleep(seconds: float) -> None:
        fake.sleep(seconds)

    monkeypatch.setattr(async_client, "asyncio", types.SimpleNamespace(sleep=sleep))
    return fake


def scripted_client(gateway: ScriptedGateway, **options: Any) -> GatewayClient:
    scripted = GatewayClient("http://gw", **options)
    scripted._http.close()
    scripted._http = httpx.Client(base_url="http://gw", transport=httpx.MockTransport(gateway))
    return scripted


def test_notify_user_retries_connection_errors_502_503_and_504_under_one_callback_id(clock: FakeClock) -> None:
    gateway = ScriptedGateway(
        httpx.ConnectError,
        httpx.Response(502),
        httpx.Response(503, headers={"retry-after": "7"}),
        httpx.ReadError,  # the gateway died while the call waited
        httpx.Response(504),
        httpx.Response(200, json=DECISION),
    )
    confirmation = scripted_client(gateway).notify_user(STEP, "user_123", "task_456", 1, timeout=60)

    assert (confirmation.proceed, confirmation.feedback) == (True, "go on")
    bodies = gateway.bodies()
    assert len(bodies) == 6 and len(clock.sleeps) == 5
    assert len({body["callback_id"] for body in bodies}) == 1
    # Doubling back-off with jitter, from 0.2 s; the wait after the 503 is at least its Retry-After.
    for attempt, slept in enumerate(clock.sleeps):
        step = 0.2 * 2**attempt
        assert (7.0 <= slept <= 7.0 + step / 2) if attempt == 2 else (step / 2 <= slept <= step)
    # Each attempt asks for the time that is left, so the deadline does not move.
    for attempt, body in enumerate(bodies):
        assert body["timeout_seconds"] == pytest.approx(60 - sum(clock.sleeps[:attempt]), abs=0.001)


@pytest.mark.parametrize(
    "answer, error_class",
    [
        (httpx.Response(500, json={"code": "internal_error", "message": "boom"}), ServerError),
        (httpx.Response(429, json={"code": "too_many_pending", "message": "full"}, headers={"retry-after": "5"}), RateLimitedError),
    ],
)
def test_500_and_429_are_raised_at_once(clock: FakeClock, answer: httpx.Response, error_class: type) -> None:
    for call in (lambda gw: gw.notify_user(STEP, "u", "t", 1, timeout=60), lambda gw: gw.get_status()):
        gateway = ScriptedGateway(answer, httpx.Response(200, json=DECISION))
        with pytest.raises(error_class) as raised:
            call(scripted_client(gateway))
        assert len(gateway.requests) == 1 and clock.sleeps == []
        assert raised.value.status_code == answer.status_code
    assert error_class is not RateLimitedError or raised.value.retry_after == 5.0


def test_a_broadcast_is_retried_only_when_the_connection_could_not_be_made(clock: FakeClock) -> None:
    delivered = httpx.Response(200, json={"delivered": 4})
    for failure in (httpx.ConnectError, httpx.ConnectTimeout):
        gateway = ScriptedGateway(failure, delivered)
        assert scripted_client(gateway).broadcast_message({"type": "system_notification"}) == 4
        assert len(gateway.requests) == 2

    # It may have reached the gateway: a repeat could deliver twice.
    for failure_or_answer in (httpx.ReadError, httpx.ReadTimeout, httpx.Response(503, headers={"retry-after": "1"})):
        gateway = ScriptedGateway(failure_or_answer, delivered)
        with pytest.raises((GatewayUnavailableError, ServerError)):
            scripted_client(gateway).broadcast_message({"type": "system_notification"})
        assert len(gateway.requests) == 1
    assert len(clock.sleeps) == 2


def test_notify_user_keeps_trying_until_its_deadline_plus_the_budget_then_names_the_callback_id(clock: FakeClock) -> None:
    gateway = ScriptedGateway(httpx.Response(503, headers={"retry-after": "1"}))
    started = clock.now
    gw = scripted_client(gateway, retry=RetryPolicy(budget=3.0))
    with pytest.raises(GatewayUnavailableError) as raised:
        gw.notify_user(STEP, "u", "t", 1, timeout=5, callback_id="job-7.step-1")

    assert raised.value.callback_id == "job-7.step-1" and raised.value.last_error == "HTTP 503"
    # The last wait is cut to the deadline, and one last attempt is made there.
    assert clock.now == pytest.approx(started + 5 + 3)
    assert all(body["callback_id"] == "job-7.step-1" for body in gateway.bodies())
    assert gateway.bodies()[-1]["timeout_seconds"] == _flows.MIN_TIMEOUT_SECONDS


def test_the_async_client_retries_the_same_way(clock: FakeClock) -> None:
    gateway = ScriptedGateway(httpx.ConnectError, httpx.Response(503, headers={"retry-after": "2"}), httpx.Response(200, json=DECISION))

    async def notify() -> Any:
        async with AsyncGatewayClient("http://gw") as gw:
            await gw._http.aclose()
            gw._http = httpx.AsyncClient(base_url="http://gw", transport=httpx.MockTransport(gateway))
            return await gw.notify_user(STEP, "u", "t", 1, timeout=60)

    assert asyncio.run(notify()).proceed is True
    assert len({body["callback_id"] for body in gateway.bodies()}) == 1 and len(gateway.requests) == 3
    assert len(clock.sleeps) == 2 and 0.1 <= clock.sleeps[0] <= 0.2 and clock.sleeps[1] >= 2.0


@pytest.mark.parametrize("value", ["true", "1", "yes", "TRUE", " True "])
def test_any_truthy_ci_value_means_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    from conftest import under_ci

    monkeypatch.setenv("CI", value)
    assert under_ci()


@pytest.mark.parametrize("value", [None, "", "0", "false", "False"])
def test_unset_empty_0_and_false_are_not_ci(monkeypatch: pytest.MonkeyPatch, value: Union[str, None]) -> None:
    from conftest import under_ci

    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    assert not under_ci()
