"""A guard around one kombu 5.7.0 bug that stopped Celery workers when Redis restarted.

With late acknowledgement a running task is an unacknowledged message. When the
worker loses Redis, Celery closes the dead connection; closing its channel gives
unacknowledged messages back, which needs a Redis client, and kombu builds the
client's pool from the connection it has just detached:
``conninfo.hostname`` on ``None`` raised AttributeError. Only connection errors are
expected there, so the worker logged "Unrecoverable error" and stopped consuming:
the risk monitor, position marks and feed checks then never ran again.

Here a channel whose connection is detached fails the way it does when Redis is
unreachable, with a Redis ``ConnectionError``, which kombu ignores on close. The
messages stay in Redis's unacknowledged set and kombu's visibility timeout
delivers them again, as for any lost connection. A worker outliving a Redis
restart with a task in flight is tested in ``tests/ops/test_broker_restart.py``.
"""

from __future__ import annotations

import kombu
import redis
from kombu.transport import redis as kombu_redis

AFFECTED = ("5.7.0",)


def apply() -> bool:
    if kombu.__version__ not in AFFECTED or getattr(kombu_redis.Channel._connparams, "guarded", False):
        return False
    original = kombu_redis.Channel._connparams

    def _connparams(self, asynchronous=False):
        if self.connection is None or self.connection.client is None:
            raise redis.exceptions.ConnectionError("the broker connection is closed")
        return original(self, asynchronous=asynchronous)

    _connparams.guarded = True
    kombu_redis.Channel._connparams = _connparams
    return True
