"""Webhook verification: signatures made by the reference Standard Webhooks library (Node),
the rules (tolerance, rotation, tampering), and the example receiver against a real gateway."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

import httpx
import pytest

from confirmation_gateway import GatewayClient, WebhookVerificationError, sign_webhook, verify_webhook

from conftest import API_KEY, REPO_ROOT, GatewayProcess, free_port, node_binary, step_result, unique

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
OLD_SECRET = "whsec_" + base64.b64encode(bytes(range(100, 124))).decode()
OTHER = "whsec_" + base64.b64encode(b"x" * 32).decode()
BODY = json.dumps({"type": "decision", "timestamp": "2026-01-01T00:00:00.000Z", "data": {"callback_id": "cb-1", "feedback": "ok ✓"}}, ensure_ascii=False)


def reference_signature(secret: str, webhook_id: str, timestamp: int, body: str) -> str:
    """Signed by the `standardwebhooks` npm package, an implementation independent of this one."""
    script = (
        "const { Webhook } = require('standardwebhooks');"
        "const [secret, id, ts, body] = process.argv.slice(1);"
        "process.stdout.write(new Webhook(secret).sign(id, new Date(Number(ts) * 1000), body));"
    )
    return subprocess.run(
        [node_binary(), "-e", script, secret, webhook_id, str(timestamp), body], cwd=REPO_ROOT, check=True, capture_output=True, text=True
    ).stdout


def headers(webhook_id: str, timestamp: int, signature: str) -> Dict[str, str]:
    return {"Webhook-Id": webhook_id, "Webhook-Timestamp": str(timestamp), "Webhook-Signature": signature}


def test_verifies_what_the_reference_library_signed_and_signs_alike() -> None:
    now = int(time.time())
    signature = reference_signature(SECRET, "msg_1", now, BODY)
    assert sign_webhook(SECRET, "msg_1", now, BODY) == signature
    assert verify_webhook(BODY.encode(), headers("msg_1", now, signature), SECRET) == json.loads(BODY)


def test_accepts_either_signature_of_a_rotation_with_either_secret() -> None:
    now = int(time.time())
    both = f"{sign_webhook(SECRET, 'msg_2', now, BODY)} {sign_webhook(OLD_SECRET, 'msg_2', now, BODY)}"
    assert verify_webhook(BODY, headers("msg_2", now, both), [OLD_SECRET])["data"]["callback_id"] == "cb-1"
    assert verify_webhook(BODY, headers("msg_2", now, both), [OTHER, SECRET])["type"] == "decision"
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        verify_webhook(BODY, headers("msg_2", now, both), OTHER)


def test_refuses_tampering_missing_headers_and_timestamps_outside_the_tolerance() -> None:
    now = int(time.time())
    good = sign_webhook(SECRET, "msg_3", now, BODY)
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        verify_webhook(BODY.replace("ok", "no"), headers("msg_3", now, good), SECRET)
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        verify_webhook(BODY, headers("msg_4", now, good), SECRET)
    with pytest.raises(WebhookVerificationError, match="missing"):
        verify_webhook(BODY, {"webhook-id": "msg_3", "webhook-timestamp": str(now)}, SECRET)
    old = now - 301
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_webhook(BODY, headers("msg_3", old, sign_webhook(SECRET, "msg_3", old, BODY)), SECRET)
    assert verify_webhook(BODY, headers("msg_3", old, sign_webhook(SECRET, "msg_3", old, BODY)), SECRET, tolerance_seconds=600)
    with pytest.raises(WebhookVerificationError, match="not a number"):
        verify_webhook(BODY, headers("msg_3", now, good) | {"Webhook-Timestamp": "soon"}, SECRET)
    with pytest.raises(ValueError, match="base64"):
        verify_webhook(BODY, headers("msg_3", now, good), "whsec_not base64!")


def load_example() -> Any:
    path = Path(__file__).resolve().parents[1] / "examples" / "webhook_receiver.py"
    spec = importlib.util.spec_from_file_location("webhook_receiver", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_receiver_gets_a_real_decision_once_with_its_metadata() -> None:
    os.environ["WEBHOOK_RECEIVER_QUIET"] = "1"
    events: List[Dict[str, Any]] = []
    server = load_example().make_server([OLD_SECRET], "127.0.0.1", free_port(), events.append)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    gateway = GatewayProcess(free_port(), {"WEBHOOK_SECRETS": f"{SECRET},{OLD_SECRET}", "WEBHOOK_ALLOW_PRIVATE": "true"}).start()
    try:
        callback_id = unique("py-webhook")
        with GatewayClient(gateway.url, api_key=API_KEY) as client:
            decision = client.notify_user(
                step_result("Continue?"),
                "py-alice",
                "py-task",
                1,
                timeout=0.2,
                callback_id=callback_id,
                callback_url=f"http://127.0.0.1:{server.server_address[1]}/hook",
                metadata={"run": 7},
            )
            assert decision.timed_out
            with pytest.raises(ValueError, match="metadata must be a mapping"):
                client.ask(step_result(), "py-alice", "py-task", 2, metadata=[1, 2])  # type: ignore[arg-type]
        deadline = time.monotonic() + 10
        while not events and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [(e["type"], e["data"]["callback_id"], e["data"]["metadata"]) for e in events] == [("decision", callback_id, {"run": 7})]
        attempts = httpx.get(f"{gateway.url}/confirmations/{callback_id}/deliveries", headers={"authorization": f"Bearer {API_KEY}"}).json()["attempts"]
        assert [(a["status_code"], a["outcome"]) for a in attempts] == [(204, "delivered")]
    finally:
        gateway.close()
        server.shutdown()
        server.server_close()
