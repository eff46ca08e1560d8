"""The whole order path as separate processes, so each can be killed mid-flight:
daphne (web), a default-queue worker and beat (re-dispatch), and the node worker
(supervisor, event bridge and the Nautilus node it spawns)."""

from __future__ import annotations

import sys
import uuid

import httpx
import pytest

from tests.node.conftest import node_worker, pid_alive, wait_for  # noqa: F401 - shared fixtures

BURST_THREADS = 4


class Web:
    """daphne with the node worker's environment; restartable on the same port."""

    def __init__(self, env: dict[str, str]):
        from tests.services import free_port

        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self) -> Web:
        from tests.processes import ManagedProcess
        from tests.services import wait_for_port

        self.proc = ManagedProcess(
            "daphne-crash",
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "config.asgi:application"],
            env=self.env,
        ).start()
        wait_for_port(self.port, timeout=30)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()


class Beat:
    """A default-queue worker and beat on the declared schedule (re-dispatch, ensure_node)."""

    def __init__(self, env: dict[str, str]):
        from tests.processes import ManagedProcess

        self.env = env
        self.worker = None
        self.beat = ManagedProcess(
            "beat-crash",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--scheduler",
                "django_celery_beat.schedulers:DatabaseScheduler",
                "--loglevel",
                "INFO",
                "--pidfile=",
            ],
            env=env,
        )

    def start_worker(self) -> None:
        from tests.processes import start_celery_worker

        self.worker = start_celery_worker(
            "default-crash", "default", pool="threads", extra=["--concurrency", "2"], env=self.env
        )


@pytest.fixture
def desk(node_worker, role_users):  # noqa: F811
    """Every process of the order path, running, with a gate that has prices. Yields the pieces and a token."""
    from monitoring.management.commands.setup import periodic_tasks_sync
    from monitoring.roles import Role
    from monitoring.tokens import api_token_obtain
    from trading.node.status import node_status

    periodic_tasks_sync()
    web = Web(node_worker.env).start()
    background = Beat(node_worker.env)
    background.start_worker()
    background.beat.start()
    try:
        wait_for(lambda: node_status().healthy, timeout=90, what="the node running")
        token = api_token_obtain(user=role_users[Role.TRADER]).key
        desk = {"web": web, "background": background, "node_worker": node_worker, "token": token}
        # The web process's gate judges from its own snapshot: an order before it has prices is rejected NO_PRICE.
        verdicts: list[str] = []
        try:
            wait_for(lambda: gate_approves(desk, verdicts), timeout=60, what="the web gate", interval=1.0)
        except AssertionError:
            raise AssertionError(f"the web gate approved no order; last verdict: {verdicts[-1:]}") from None
        yield desk
    finally:
        background.beat.stop()
        if background.worker is not None:
            background.worker.stop()
        web.stop()


def gate_approves(desk, verdicts: list[str]) -> bool:
    """The web process's gate judges from its own snapshot: before it has prices it rejects NO_PRICE."""
    response = order_post(desk, key=f"warmup-{uuid.uuid4().hex[:8]}")
    body = response.json()
    verdicts.append(f"{response.status_code} {body.get('status')}: {body.get('status_reason') or body}")
    return body.get("status") not in (None, "REJECTED")


def order_post(desk, *, key: str, **fields: str) -> httpx.Response:
    """POST one order (a 1000 EUR/USD market buy unless ``fields`` say otherwise) with an idempotency key."""
    order = {
        "account": "SIM-001",
        "instrument": "EUR/USD.SIM",
        "side": "BUY",
        "order_type": "MARKET",
        "quantity": "1000",
        "idempotency_key": key,
        **fields,
    }
    return httpx.post(
        f"{desk['web'].url}/api/v1/orders/", json=order, headers={"Authorization": f"Token {desk['token']}"}, timeout=10
    )
