"""Reads about the graph store itself (for the page, the API and operators)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from portfolio.graph.connection import GraphUnavailable, graph_query, redacted


def graph_status() -> dict[str, Any]:
    """Whether Neo4j answers, what it holds, and how many book changes wait for projection."""
    from portfolio.graph.changes import graph_dirty_count

    url = settings.NEO4J_BOLT_URL
    out: dict[str, Any] = {
        "configured": bool(url),
        "address": redacted(url) if url else None,
        "available": False,
        "reason": "",
        "nodes": {},
        "pending_changes": None,
    }
    try:
        out["pending_changes"] = graph_dirty_count()
    except Exception:
        out["pending_changes"] = None
    try:
        out["nodes"] = {
            label: count
            for label, count in graph_query("MATCH (n) RETURN labels(n)[0] AS label, count(*) ORDER BY label")
        }
        out["correlations"] = graph_query("MATCH ()-[e:CORRELATED_WITH]->() RETURN count(e)")[0][0]
        out["available"] = True
    except GraphUnavailable as exc:
        out["reason"] = exc.message
    return out
