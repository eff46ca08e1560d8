"""Following the book: which rows changed since the graph was last projected.

Saves and deletes of the projected models add ``kind:pk`` to a Redis set after
the transaction commits (a rolled-back change never reaches the graph), and ask
for one projection task — at most one queued at a time, the rest of a burst
joins the set. The task takes the set, projects it, and puts it back when Neo4j
is down, so nothing is lost across an outage; Redis keeps the set across
restarts (append-only file). Bulk updates bypass signals: the periodic full
resync repairs whatever they leave behind.

These receivers are cache invalidation in the sense of the style guide (the
graph is a cache of the book), and they never let a failure reach the caller:
trading must not notice that the graph store or Redis is down.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from monitoring.redis_client import redis_client

logger = logging.getLogger(__name__)

DIRTY_KEY = "ni:graph:dirty"
# Set while a projection task is queued; a burst of saves queues one task.
QUEUED_KEY = "ni:graph:queued"
QUEUED_TTL = 30
# The projection debounces this long so a burst of fills becomes one batch.
DEBOUNCE_SECONDS = 1


def graph_mark_dirty(*, entries: Iterable[str]) -> None:
    """Record ``kind:pk`` entries and make sure a projection task is on its way. Never raises."""
    entries = list(entries)
    if not entries:
        return
    try:
        r = redis_client()
        r.sadd(DIRTY_KEY, *entries)
        if r.set(QUEUED_KEY, "1", nx=True, ex=QUEUED_TTL):
            from portfolio.graph.tasks import graph_project

            graph_project.apply_async(countdown=DEBOUNCE_SECONDS)
    except Exception:
        logger.warning(
            "graph projection not queued for %d change(s); the periodic resync will repair", len(entries), exc_info=True
        )


def graph_take_dirty(*, limit: int = 50000) -> list[str]:
    """Remove and return up to ``limit`` pending entries."""
    r = redis_client()
    r.delete(QUEUED_KEY)
    return [e.decode() for e in (r.spop(DIRTY_KEY, limit) or [])]


def graph_return_dirty(*, entries: Iterable[str]) -> None:
    """Put entries back after a failed projection, so the next run takes them again."""
    entries = list(entries)
    if entries:
        redis_client().sadd(DIRTY_KEY, *entries)


def graph_dirty_count() -> int:
    return int(redis_client().scard(DIRTY_KEY))


def parse_entries(entries: Iterable[str]) -> dict[str, set[int]]:
    out: dict[str, set[int]] = defaultdict(set)
    for entry in entries:
        kind, _, pk = entry.partition(":")
        if pk.isdigit():
            out[kind].add(int(pk))
    return dict(out)


def _entries_for(sender, instance) -> list[str]:
    kind = KIND_OF[sender]
    entries = [f"{kind}:{instance.pk}"]
    # A position moves its holders' HOLDS; a route or strategy points elsewhere.
    if kind == "position":
        entries.append(f"account:{instance.account_id}")
        if instance.strategy_id:
            entries.append(f"strategy:{instance.strategy_id}")
    return entries


def _on_change(sender, instance, **kwargs) -> None:
    if instance.pk is None:
        return
    entries = _entries_for(sender, instance)
    transaction.on_commit(lambda: graph_mark_dirty(entries=entries))


KIND_OF: dict = {}


def connect() -> None:
    from portfolio.models import Position
    from strategies.models import Strategy
    from trading.models import Account, Instrument, Sector, Venue
    from trading.signal_router.models import SignalRoute

    KIND_OF.update(
        {
            Sector: "sector",
            Venue: "venue",
            Instrument: "instrument",
            Account: "account",
            Strategy: "strategy",
            Position: "position",
            SignalRoute: "route",
        }
    )
    for model, kind in KIND_OF.items():
        post_save.connect(_on_change, sender=model, dispatch_uid=f"graph_{kind}_saved")
        post_delete.connect(_on_change, sender=model, dispatch_uid=f"graph_{kind}_deleted")
