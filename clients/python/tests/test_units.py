"""The I/O-free parts: back-off, Retry-After, error mapping, settings, and the two clients'
sameness. Everything that talks to the gateway is tested against the real one elsewhere."""

from __future__ import annotations

import asyncio
import inspect
import time
import warnings
from email.utils import formatdate

import httpx
import pytest

from confirmation_gateway import (
    AsyncGatewayClient,
    GatewayClient,
    GatewayResponseError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
)
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
    with pytest.raises(ValueError, match="http:// or https://"):
        resolve_settings("gateway:8765", None, 300, 10, None)
    with pytest.raises(ValueError, match="default_timeout"):
        resolve_settings(None, None, 0, 10, None)
    settings = resolve_settings("https://gw.example/", "secret", 300, 10, None)
    assert settings.base_url == "https://gw.example" and "secret" not in repr(settings)
    assert settings.headers()["Authorization"] == "Bearer secret"


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
