"""Fixtures: the real built gateway (`node dist/main.js`) on a free port, users played by real
`ws` clients (tests/user_agent.mjs), and each client run in the background so that a test
can answer as the user while a call waits."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import httpx
import pytest

from confirmation_gateway import AsyncGatewayClient, GatewayClient, TaskStepResult

REPO_ROOT = Path(__file__).resolve().parents[3]
MAIN = REPO_ROOT / "dist" / "main.js"
USER_AGENT = Path(__file__).resolve().parent / "user_agent.mjs"
API_KEY = "python-client-test-key"
# Generous: several services may be starting at once on a small, busy CI machine.
START_TIMEOUT = 60.0


def under_ci() -> bool:
    """Any CI value but unset, empty, 0 or false: pipelines set true, 1 or yes, and under CI
    a missing system dependency fails instead of skipping."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def node_binary() -> str:
    node = os.environ.get("NODE") or shutil.which("node")
    if not node:
        raise RuntimeError("node is not on PATH; the tests start the built gateway with it")
    return node


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class GatewayProcess:
    """One gateway process. It runs outside the repository so that a developer's .env
    cannot change the service under test."""

    def __init__(self, port: int, env: Dict[str, str]) -> None:
        self.port = port
        self.env = env
        self.url = f"http://127.0.0.1:{port}"
        self.process: Optional[subprocess.Popen] = None
        self._log = tempfile.NamedTemporaryFile(prefix="gateway-", suffix=".log", delete=False)

    def ws_url(self, user_id: str) -> str:
        return f"ws://127.0.0.1:{self.port}/?user_id={user_id}"

    def start(self) -> GatewayProcess:
        if not MAIN.exists():
            raise RuntimeError(f"{MAIN} is missing: run `npm run build` first (npm test does)")
        env = {
            "PATH": os.environ.get("PATH", ""),
            "NODE_ENV": "test",
            "WEBSOCKET_HOST": "127.0.0.1",
            "WEBSOCKET_PORT": str(self.port),
            "AUTH_MODE": "none",
            "API_KEYS": API_KEY,
            "LOG_LEVEL": "warn",
            "NO_COLOR": "1",
            **self.env,
        }
        self.process = subprocess.Popen(
            [node_binary(), str(MAIN)], cwd=tempfile.gettempdir(), env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the gateway was not ready within {START_TIMEOUT} s:\n{self.output()}")

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 15.0) -> None:
        """Sends the signal and waits until the process is gone."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def output(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def close(self) -> None:
        self.kill(signal.SIGTERM)
        self._log.close()
        os.unlink(self._log.name)


class UserAgent:
    """A user's browser tab: a `ws` client that reconnects after every close, and a mailbox
    of the frames it received, from which a test takes the frames it expects."""

    def __init__(self, ws_url: str) -> None:
        self.frames: List[Dict[str, Any]] = []
        self._inbox: List[Dict[str, Any]] = []
        self._opened = 0
        self._changed = threading.Condition()
        self._process = subprocess.Popen(
            [node_binary(), str(USER_AGENT), ws_url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            event = json.loads(line)
            with self._changed:
                if event["event"] == "frame":
                    self.frames.append(event["frame"])
                    self._inbox.append(event["frame"])
                self._changed.notify_all()

    def receive(self, frame_type: str, timeout: float = 15.0, **fields: Any) -> Dict[str, Any]:
        """Takes the first frame of that type (and those field values) from the mailbox,
        waiting for it if need be."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for index, frame in enumerate(self._inbox):
                    if frame.get("type") == frame_type and all(frame.get(k) == v for k, v in fields.items()):
                        return self._inbox.pop(index)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {frame_type} frame {fields or ''} within {timeout} s; received {self.frames}")
                self._changed.wait(left)

    def connected(self) -> Dict[str, Any]:
        return self.receive("connected")

    def prompts(self) -> List[Dict[str, Any]]:
        """Every confirmation request this tab was shown."""
        with self._changed:
            return [frame for frame in self.frames if frame.get("type") == "task_step_result"]

    def send(self, frame: Dict[str, Any]) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(frame) + "\n")
        self._process.stdin.flush()

    def confirm(self, callback_id: str, proceed: bool, feedback: Optional[str] = None) -> None:
        self.send({"action": "confirm", "callback_id": callback_id, "proceed": proceed, "feedback": feedback})

    def close(self) -> None:
        if self._process.stdin is not None and not self._process.stdin.closed:
            self._process.stdin.close()
        try:
            self._process.wait(5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


class Caller:
    """Runs one client's calls in the background and hands back futures, so a test can play
    the user while a call waits. The async client runs on its own event loop thread."""

    def __init__(self, kind: str, base_url: str, **options: Any) -> None:
        self.kind = kind
        if kind == "GatewayClient":
            self.client: Any = GatewayClient(base_url, **options)
            self._executor: Optional[ThreadPoolExecutor] = ThreadPoolExecutor(max_workers=8)
            self._loop: Optional[asyncio.AbstractEventLoop] = None
        else:
            self._executor = None
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
            self._thread.start()
            self.client = self._on_loop(self._make_async_client(base_url, options)).result(5)

    @staticmethod
    async def _make_async_client(base_url: str, options: Dict[str, Any]) -> AsyncGatewayClient:
        return AsyncGatewayClient(base_url, **options)

    def _on_loop(self, coroutine: Any) -> Future:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def start(self, method: str, *args: Any, **kwargs: Any) -> Future:
        function: Callable[..., Any] = getattr(self.client, method)
        if self._executor is not None:
            return self._executor.submit(function, *args, **kwargs)
        return self._on_loop(function(*args, **kwargs))

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.start(method, *args, **kwargs).result(60)

    def resolve(self, value: Any) -> Any:
        """The value of a handle's method: awaited on the loop for the async client."""
        if asyncio.iscoroutine(value):
            return self._on_loop(value).result(60)
        return value

    def close(self) -> None:
        if self._executor is not None:
            self.client.close()
            self._executor.shutdown(wait=True)
            return
        assert self._loop is not None
        self._on_loop(self.client.aclose()).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


@pytest.fixture(scope="session")
def gateway() -> Iterator[GatewayProcess]:
    process = GatewayProcess(free_port(), {}).start()
    yield process
    process.close()


@pytest.fixture
def users(gateway: GatewayProcess) -> Iterator[Callable[..., UserAgent]]:
    """users("alice") opens a tab for alice on the shared gateway (connected frame taken)."""
    opened: List[UserAgent] = []

    def open_tab(user_id: str, target: Optional[GatewayProcess] = None) -> UserAgent:
        agent = UserAgent((target or gateway).ws_url(user_id))
        opened.append(agent)
        agent.connected()
        return agent

    yield open_tab
    for agent in opened:
        agent.close()


@pytest.fixture(params=["GatewayClient", "AsyncGatewayClient"])
def client_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def caller(client_kind: str, gateway: GatewayProcess) -> Iterator[Caller]:
    instance = Caller(client_kind, gateway.url, api_key=API_KEY)
    yield instance
    instance.close()


def unique(prefix: str) -> str:
    """Ids no other test uses, since the tests share one gateway."""
    return f"{prefix}-{os.urandom(4).hex()}"


def step_result(message: str = "Validation finished with 5 errors. Continue?") -> TaskStepResult:
    return TaskStepResult(
        step="data_validation",
        result={"validated_rows": 1000, "errors": 5},
        completed=True,
        message=message,
        status="completed",
    )
