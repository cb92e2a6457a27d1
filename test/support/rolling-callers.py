"""Task services waiting on decisions, for test/rolling-deploy.e2e-spec.ts.

Each of `users` workers asks its user one step after another with the Python client's
notify_user (a fixed callback_id per step, so the client's retries across a restarting
gateway ask the same question again) until standard input closes. One JSON line per event
on stdout: {"event": "asked"|"decided"|"failed", ...}.

Usage: rolling-callers.py <base_url> <users> <user_prefix>
"""

import asyncio
import json
import os
import random
import sys
import time

from confirmation_gateway import AsyncGatewayClient


def emit(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


async def ask_until_stopped(client: AsyncGatewayClient, user_id: str, stop: asyncio.Event) -> None:
    step = 0
    while not stop.is_set():
        callback_id = f"{user_id}-step-{step}"
        emit("asked", callback_id=callback_id, user_id=user_id)
        started = time.monotonic()
        try:
            decision = await client.notify_user(
                {"step": "rolling", "message": f"Step {step} done. Continue?", "status": "completed"},
                user_id,
                f"{user_id}-task",
                step,
                timeout=60,
                callback_id=callback_id,
            )
        except Exception as error:  # reported, and the test fails on it
            emit("failed", callback_id=callback_id, error=f"{type(error).__name__}: {error}")
        else:
            emit(
                "decided",
                callback_id=callback_id,
                proceed=decision.proceed,
                feedback=decision.feedback,
                timed_out=decision.timed_out,
                cancelled=decision.cancelled,
                seconds=round(time.monotonic() - started, 3),
            )
        step += 1
        await asyncio.sleep(random.uniform(0.2, 0.6))


async def main() -> None:
    base_url, users, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Standard input closing is the signal to finish the asks in flight and exit.
    def on_input() -> None:
        if not os.read(sys.stdin.fileno(), 4096):
            loop.remove_reader(sys.stdin.fileno())
            stop.set()

    loop.add_reader(sys.stdin.fileno(), on_input)
    async with AsyncGatewayClient(base_url) as client:
        await asyncio.gather(*(ask_until_stopped(client, f"{prefix}{i}", stop) for i in range(users)))
    emit("done")


asyncio.run(main())
