"""Celery tasks of the trading app: thin; the work is in trading.node and trading.market_data."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready, worker_shutting_down

logger = logging.getLogger(__name__)


@shared_task(name="trading.run_node", acks_late=False, ignore_result=True)
def run_node(trader_id: str | None = None) -> str:
    """Supervise the node process for ``trader_id`` until the worker shuts down.

    Routed to the ``node`` queue (solo pool). Acknowledged on receipt: a lost
    supervisor is replaced by ``trading.ensure_node``, not by redelivery of a
    message that would otherwise sit unacked for the task's whole life.
    """
    from trading.node.status import configured_trader_id
    from trading.node.supervisor import Supervisor

    return Supervisor(trader_id or configured_trader_id()).run()


@shared_task(name="trading.ensure_node", ignore_result=True)
def ensure_node(trader_id: str | None = None) -> str:
    from trading.node.supervision import node_ensure

    return node_ensure(trader_id=trader_id)


@shared_task(name="trading.check_feeds", ignore_result=True)
def check_feeds() -> dict:
    from trading.market_data.alerts import feed_alerts_sync

    return feed_alerts_sync()


@shared_task(name="trading.redispatch_orders", ignore_result=True)
def redispatch_orders() -> dict:
    from trading.order_entry import orders_redispatch_stale

    return orders_redispatch_stale()


@worker_ready.connect
def _start_node_on_node_worker(sender=None, **_):
    """The node worker starts the node as soon as it is ready (``make run`` needs no click)."""
    queues = {q.name for q in getattr(getattr(sender, "task_consumer", None), "queues", [])}
    if "node" in queues:
        from trading.node.supervision import node_ensure

        node_ensure()


@worker_shutting_down.connect
def _stop_node_on_shutdown(**_):
    from trading.node.supervisor import request_shutdown

    request_shutdown()
