"""Data-quality alerts from the feed state in Redis (run by the ``trading.check_feeds`` beat task).

One incident is one row: each (source, problem) has a ``dedup_key`` and the
database allows a single unresolved alert per key, so a feed that stays stale
for an hour is still one alert. When the problem clears, the open alert is
resolved by the system.

No alerting service existed in ``monitoring`` when this was written, so the
rows are created here with the same constraint the model enforces; when the
alerting engine lands, ``_raise``/``_clear`` should call it instead.
"""

from __future__ import annotations

import json
import time

from django.db import IntegrityError, transaction
from django.utils import timezone

from monitoring.broadcast import publish_on_commit
from monitoring.models import Alert
from monitoring.redis_client import redis_client
from trading.market_data.quotes import FEEDS_KEY, QUOTES_KEY, STALE_AFTER_SECONDS

SOURCE = "market_data"
# Issue kinds reported by the node's FeedMonitor that make a feed "bad".
BAD_KINDS = {"crossed", "outlier", "out_of_order", "gap"}


def _raise(*, key: str, severity: str, title: str, message: str, details: dict) -> bool:
    if Alert.objects.filter(dedup_key=key).exclude(status=Alert.Status.RESOLVED).exists():
        return False
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                severity=severity,
                category=Alert.Category.DATA,
                title=title[:200],
                message=message,
                source=SOURCE,
                dedup_key=key,
                details=details,
            )
            publish_on_commit(
                "alerts",
                "alert_raised",
                {"id": alert.pk, "severity": severity, "title": alert.title, "status": alert.status},
            )
    except IntegrityError:
        return False  # another process raised the same incident a moment ago
    return True


def _clear(key: str) -> int:
    return (
        Alert.objects.filter(dedup_key=key, source=SOURCE)
        .exclude(status=Alert.Status.RESOLVED)
        .update(status=Alert.Status.RESOLVED, resolved_at=timezone.now())
    )


def feed_alerts_sync(*, max_age: float = STALE_AFTER_SECONDS) -> dict:
    """Raise/resolve one alert per source for staleness and one for bad data."""
    client = redis_client()
    feeds = {k.decode(): json.loads(v) for k, v in client.hgetall(FEEDS_KEY).items()}
    quotes = {k.decode(): json.loads(v) for k, v in client.hgetall(QUOTES_KEY).items()}
    now = time.time()
    sources = set(feeds) | {q.get("source", "") for q in quotes.values()}
    raised = cleared = 0
    for source in sorted(s for s in sources if s):
        feed = feeds.get(source, {})
        ts = max([feed.get("ts") or 0] + [q["ts"] for q in quotes.values() if q.get("source") == source])
        age = now - ts / 1e9 if ts else None
        stale_key = f"data:stale:{source}"
        if age is None or age > max_age:
            raised += _raise(
                key=stale_key,
                severity=Alert.Severity.CRITICAL,
                title=f"Market data feed {source} is stale",
                message=f"No update from {source} for {age:.0f}s." if age else f"No update from {source} yet.",
                details={"source": source, "age_seconds": None if age is None else round(age, 1)},
            )
        else:
            cleared += _clear(stale_key)
        bad = [i for i in feed.get("issues", []) if i.get("kind") in BAD_KINDS]
        bad_key = f"data:bad:{source}"
        if bad:
            kinds = sorted({i["kind"] for i in bad})
            raised += _raise(
                key=bad_key,
                severity=Alert.Severity.WARNING,
                title=f"Bad market data on {source}: {', '.join(kinds)}",
                message="; ".join(f"{i['instrument_id']}: {i['message']}" for i in bad[:10]),
                details={"source": source, "issues": bad[:50]},
            )
        elif age is not None and age <= max_age:
            cleared += _clear(bad_key)
    return {"raised": raised, "cleared": cleared, "sources": len(sources)}
