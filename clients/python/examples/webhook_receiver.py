"""A receiver for the gateway's decision webhooks (docs/WEBHOOKS.md), on the standard library.

    WEBHOOK_SECRETS=whsec_... python3 webhook_receiver.py --port 8080

It verifies each webhook's signature (every secret in WEBHOOK_SECRETS, comma-separated, so
a rotation needs no downtime), drops repeats by `webhook-id` (delivery is at least once),
acts on the event, and answers 204. A bad signature gets 401, which the gateway retries
until its WEBHOOK_RETRY_FOR_SECONDS: fix the secret and the webhook still arrives. Answer
410 to stop the gateway retrying a webhook you will never accept.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List

from confirmation_gateway import WebhookVerificationError, verify_webhook

MAX_BODY_BYTES = 1024 * 1024
SEEN_IDS_KEPT = 10_000

Handler = Callable[[Dict[str, Any]], None]


def print_event(payload: Dict[str, Any]) -> None:
    data = payload["data"]
    if payload["type"] == "decision":
        print(f"{data['callback_id']}: {data['state']} (proceed={data['proceed']}, feedback={data['feedback']!r}, metadata={data['metadata']})")
    else:
        print(f"{data['callback_id']}: {payload['type']} {json.dumps(data)}")


def make_server(secrets: List[str], host: str = "127.0.0.1", port: int = 8080, on_event: Handler = print_event) -> ThreadingHTTPServer:
    """An HTTP server that hands each verified, not yet seen webhook's payload to `on_event`."""
    seen: "OrderedDict[str, None]" = OrderedDict()
    lock = threading.Lock()

    class WebhookHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY_BYTES:
                return self._answer(413)
            body = self.rfile.read(length)
            try:
                payload = verify_webhook(body, dict(self.headers.items()), secrets)
            except WebhookVerificationError as err:
                self.log_message("refused: %s", err)
                return self._answer(401)
            webhook_id = self.headers["webhook-id"]
            with lock:
                repeat = webhook_id in seen
                seen[webhook_id] = None
                while len(seen) > SEEN_IDS_KEPT:
                    seen.popitem(last=False)
            if not repeat:
                on_event(payload)
            self._answer(204)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            if os.environ.get("WEBHOOK_RECEIVER_QUIET") != "1":
                super().log_message(format, *args)

    return ThreadingHTTPServer((host, port), WebhookHandler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    secrets = [s.strip() for s in os.environ.get("WEBHOOK_SECRETS", "").split(",") if s.strip()]
    if not secrets:
        raise SystemExit("Set WEBHOOK_SECRETS to the gateway's secret(s), comma-separated")
    server = make_server(secrets, args.host, args.port)
    print(f"Listening on http://{args.host}:{args.port}/")
    server.serve_forever()


if __name__ == "__main__":
    main()
