"""The whole desk for browser tests: node worker, default worker and beat, as `make run` starts them."""

from __future__ import annotations

import sys

import pytest

from tests.node.conftest import node_worker  # noqa: F401 - the real Nautilus node under a Celery worker


@pytest.fixture
def desk_processes(node_worker):  # noqa: F811
    """Node (through ``node_worker``), a default-queue worker and beat on the declared schedule.

    Together they write every state the header reads: the node's heartbeat and
    quotes, the risk monitor's run, the F8 reconciliation's run.
    """
    from monitoring.management.commands.setup import periodic_tasks_sync
    from tests.processes import ManagedProcess, start_celery_worker

    periodic_tasks_sync()
    env = node_worker.env
    worker = start_celery_worker("default-ui", "default", pool="threads", extra=["--concurrency", "2"], env=env)
    beat = ManagedProcess(
        "beat-ui",
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
    ).start()
    try:
        yield {"node": node_worker, "worker": worker, "beat": beat}
    finally:
        beat.stop()
        worker.stop()
