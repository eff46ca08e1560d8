"""Celery tasks of the graph projection: thin, idempotent, safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="portfolio.graph_project", ignore_result=True)
def graph_project() -> dict:
    """Project the rows changed since the last run; on a Neo4j outage keep them for the next run."""
    from portfolio.graph.changes import graph_return_dirty, graph_take_dirty, parse_entries
    from portfolio.graph.connection import GraphUnavailable
    from portfolio.graph.projection import graph_project_changes

    entries = graph_take_dirty()
    if not entries:
        return {"entries": 0, "changes": 0}
    try:
        changes = graph_project_changes(changes=parse_entries(entries))
    except GraphUnavailable as exc:
        graph_return_dirty(entries=entries)
        logger.warning("graph projection deferred (%d pending): %s", len(entries), exc.message)
        return {"entries": len(entries), "deferred": True}
    except Exception:
        graph_return_dirty(entries=entries)
        raise
    return {"entries": len(entries), "changes": changes}


@shared_task(name="portfolio.graph_resync", ignore_result=True)
def graph_resync() -> dict:
    """Full rebuild from the book (repairs drift and catches up after an outage), then the pending batch."""
    from portfolio.graph.connection import GraphUnavailable
    from portfolio.graph.projection import graph_resync_full

    try:
        counts = graph_resync_full()
    except GraphUnavailable as exc:
        logger.warning("graph resync skipped: %s", exc.message)
        return {"skipped": exc.message}
    # Whatever was pending is now in the graph too; the next projection finds it already there.
    graph_project.delay()
    return counts
