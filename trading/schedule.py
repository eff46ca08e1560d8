"""Periodic tasks of the trading app (synced into django-celery-beat by ``setup --init-db``)."""

PERIODIC_TASKS = [
    # Restarts the node supervisor when nothing holds its lock (worker restarted, task lost).
    {"name": "trading: ensure the node runs", "task": "trading.ensure_node", "every": 5},
    # Turns stale or bad feeds into data-quality alerts (and resolves them when clean).
    {"name": "trading: check market data feeds", "task": "trading.check_feeds", "every": 5},
    # Re-sends approved orders whose dispatch to the node may have been lost; rejects them past the deadline.
    {"name": "trading: re-dispatch undelivered orders", "task": "trading.redispatch_orders", "every": 2},
]
