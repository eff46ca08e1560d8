"""Fixtures that run the real node: a Celery worker on the ``node`` queue supervising a Nautilus node."""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import pytest

from tests.services import REDIS, free_port


def wait_for(predicate, *, timeout: float, what: str, interval: float = 0.1):
    """Poll ``predicate`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def node_config(tmp_path, **sections) -> str:
    """A seed-format config whose cache database is the test run's Redis."""
    doc = {
        "trader_id": "TRADER-001",
        "log_level": "WARNING",
        "cache_database": {"type": "redis", "host": "127.0.0.1", "port": REDIS.port},
        "data_engine": {
            "qsize": 100000,
            "time_bars_build_with_no_updates": False,
            "time_bars_timestamp_on_close": True,
            "validate_data_sequence": True,
        },
        "risk_engine": {
            "bypass": False,
            "max_order_submit_rate": "100/00:00:01",
            "max_order_modify_rate": "100/00:00:01",
            "max_notional_per_order": {"USD": "1_000_000"},
        },
        "exec_engine": {"qsize": 100000, "allow_cash_positions": True, "debug": False},
        "simulation": {"tick_rate": 5, "seed": 11},
        **sections,
    }
    path = tmp_path / "nautilus.json"
    path.write_text(json.dumps(doc))
    return str(path)


@pytest.fixture
def node_worker(transactional_db, tmp_path, settings):
    """Start a node worker (its worker_ready hook starts the node). Yields a controller."""
    from tests.factories import make_reference_data
    from tests.processes import ManagedProcess, child_env

    make_reference_data()
    config_path = node_config(tmp_path)
    settings.NAUTILUS_CONFIG_PATH = config_path
    closed_port = free_port()  # nothing listens here: "no network" without leaving the machine
    env = child_env(
        NAUTILUS_CONFIG_PATH=config_path,
        NAUTILUS_DATA_PATH=str(tmp_path / "catalog"),
        BINANCE_API_KEY="test-key",
        BINANCE_API_SECRET="test-secret",
        BINANCE_PROBE_HOST="127.0.0.1",
        BINANCE_PROBE_PORT=str(closed_port),
        LOG_DIR=str(tmp_path / "logs"),
    )
    # Not tests.processes.start_celery_worker: it waits for a ping, and a solo-pool
    # worker busy supervising the node (started by its worker_ready hook) cannot answer one.
    worker = ManagedProcess(
        "node-test",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "node",
            "-n",
            "node-test@%h",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
        ],
        env=env,
    ).start()
    try:
        yield worker
    finally:
        worker.stop(signal.SIGTERM, timeout=40)
    from trading.node.status import node_status

    try:
        pid = node_status().pid
    except Exception:
        pid = None
    if pid and pid_alive(pid):  # never leave a node behind, even when a test failed
        os.kill(pid, signal.SIGKILL)
