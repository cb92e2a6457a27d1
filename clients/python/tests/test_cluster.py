"""Cluster mode: instances sharing one real redis-server. The instance that a notify_user
call waits on is killed; the call reaches another instance through the load balancer and
returns the answer the user gives there, and the user is asked once."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator, List

import pytest
from conftest import API_KEY, Caller, GatewayProcess, free_port, step_result, under_ci, unique

from confirmation_gateway import UserConfirmation


class RedisServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.mkdtemp(prefix="client-redis-")
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self._dir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on {self.port}") from None
                time.sleep(0.05)

    def close(self) -> None:
        self._process.kill()
        self._process.wait()
        shutil.rmtree(self._dir, ignore_errors=True)


class Forwarder:
    """Stands in for the load balancer in front of the instances: each new connection goes
    to the first instance that accepts it, and bytes are copied both ways."""

    def __init__(self, backend_ports: List[int]) -> None:
        self.backend_ports = backend_ports
        self.routed: List[int] = []  # the instance each connection went to, in order
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._open: List[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._route, args=(client,), daemon=True).start()

    def _route(self, client: socket.socket) -> None:
        for port in self.backend_ports:
            try:
                backend = socket.create_connection(("127.0.0.1", port), timeout=2)
            except OSError:
                continue
            backend.settimeout(None)
            self.routed.append(port)
            self._open += [client, backend]
            threading.Thread(target=self._pipe, args=(backend, client), daemon=True).start()
            self._pipe(client, backend)
            return
        client.close()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        for end in (source, target):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()

    def close(self) -> None:
        self._listener.close()
        for connection in self._open:
            connection.close()


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed: apt-get install redis-server"
        if under_ci():
            pytest.fail(f"{message} (required under CI)")
        pytest.skip(f"!!! SKIPPED the cluster-mode client test: {message} !!!")
    server = RedisServer()
    yield server
    server.close()


@pytest.fixture
def two_instances(redis: RedisServer) -> Iterator[List[GatewayProcess]]:
    instances = [GatewayProcess(free_port(), {"REDIS_URL": redis.url}) for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(GatewayProcess.start, instances))
    yield instances
    for instance in instances:
        instance.close()


def test_notify_user_survives_the_loss_of_the_instance_it_waits_on(
    client_kind: str, two_instances: List[GatewayProcess], users: Any
) -> None:
    a, b = two_instances
    balancer = Forwarder([a.port, b.port])
    user_id, task_id = unique("olga"), unique("task")
    tab_on_b = users(user_id, b)
    caller = Caller(client_kind, f"http://127.0.0.1:{balancer.port}", api_key=API_KEY)
    try:
        waiting = caller.start("notify_user", step_result(), user_id, task_id, 5, timeout=120)
        prompt = tab_on_b.receive("task_step_result")
        assert balancer.routed == [a.port]  # the call waits on instance A

        a.kill(signal.SIGKILL)
        time.sleep(1)  # the call reconnects through the balancer, to B
        assert not waiting.done()
        tab_on_b.confirm(prompt["callback_id"], True, "answered on B")

        decision = waiting.result(30)
        assert decision == UserConfirmation(True, "answered on B", False, False, prompt["callback_id"])
        assert balancer.routed[-1] == b.port
        # The confirmation lived in Redis: the retry found it pending and nobody was asked again.
        assert len(tab_on_b.prompts()) == 1
    finally:
        caller.close()
        balancer.close()
