"""Verifying the gateway's webhooks (Standard Webhooks, https://www.standardwebhooks.com/).

Each webhook carries `webhook-id`, `webhook-timestamp` (Unix seconds) and
`webhook-signature`: space-separated `v1,<base64>` values, the HMAC-SHA256 of
`<webhook-id>.<webhook-timestamp>.<raw body>` keyed with a secret's decoded bytes, one per
secret the gateway signs with (two during a rotation). Verify the raw body as received,
before parsing it, then de-duplicate by `webhook-id`: delivery is at least once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Union

from .errors import GatewayError

SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_SECONDS = 300


class WebhookVerificationError(GatewayError):
    """The webhook is not from the gateway as far as the secrets tell (missing headers, a
    timestamp outside the tolerance, or no matching signature). Answer it with 4xx."""


def _key(secret: Union[str, bytes]) -> bytes:
    if isinstance(secret, bytes):
        return secret
    text = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ValueError("a webhook secret is whsec_ followed by base64") from err
    if not key:
        raise ValueError("a webhook secret cannot be empty")
    return key


def sign_webhook(secret: Union[str, bytes], webhook_id: str, timestamp: int, body: Union[str, bytes]) -> str:
    """The `v1,<base64>` signature of one webhook with one secret."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    signed = f"{webhook_id}.{timestamp}.".encode("utf-8") + raw
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify_webhook(
    body: Union[str, bytes],
    headers: Mapping[str, str],
    secrets: Union[str, bytes, Sequence[Union[str, bytes]]],
    *,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: Optional[float] = None,
) -> Dict[str, Any]:
    """Checks a webhook and returns its parsed JSON payload.

    `body` is the raw request body; `headers` any mapping of the request's headers (names in
    any case); `secrets` one `whsec_...` secret or several (during a rotation every one is
    tried, and one matching signature is enough). A timestamp more than
    `tolerance_seconds` from `now` is refused, so a captured webhook cannot be replayed
    later. Signatures are compared in constant time. Raises WebhookVerificationError.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    webhook_id = lowered.get("webhook-id")
    timestamp_text = lowered.get("webhook-timestamp")
    signature_header = lowered.get("webhook-signature")
    if not webhook_id or not timestamp_text or not signature_header:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(timestamp_text)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a number of seconds") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance (replayed, or a clock is wrong)")
    keys: Iterable[Union[str, bytes]] = [secrets] if isinstance(secrets, (str, bytes)) else secrets
    expected = [sign_webhook(secret, webhook_id, timestamp, body).encode("ascii") for secret in keys]
    if not expected:
        raise ValueError("no webhook secret given")
    given = [candidate.encode("utf-8") for candidate in signature_header.split(" ") if candidate]
    matched = False
    for candidate in given:
        for signature in expected:
            # Every pair is compared, so the time taken tells nothing about which matched.
            matched |= hmac.compare_digest(candidate, signature)
    if not matched:
        raise WebhookVerificationError("no matching signature")
    raw = body.decode("utf-8") if isinstance(body, bytes) else body
    return json.loads(raw)
