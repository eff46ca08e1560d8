"""The one Redis connection pool of a process, for hot state (not Celery, not Channels)."""

from __future__ import annotations

import os
from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=4)
def _client(url: str, pid: int) -> redis.Redis:
    # Keyed by pid: a forked process must not reuse its parent's sockets.
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=1.0, health_check_interval=10)


def redis_client() -> redis.Redis:
    return _client(settings.REDIS_URL, os.getpid())
