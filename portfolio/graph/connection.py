"""The process's connection to Neo4j, from ``settings.NEO4J_BOLT_URL``.

neomodel's own URL parser insists on credentials; the desk's local server runs
without authentication on loopback, so we build the driver here (credentials
are optional: ``bolt://user:password@host:7687``) and hand it to neomodel. The
timeouts are short on purpose: when Neo4j is down or slow, analytics must say
so within seconds rather than hold a web worker, and projection retries later.

Every graph call goes through ``graph_query``, which turns driver failures into
``GraphUnavailable`` with a reason a person can read.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from neo4j import GraphDatabase, Query
from neo4j.exceptions import (
    DatabaseUnavailable,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)
from neomodel import db, get_config
from rest_framework import status

from config.api import ApplicationError

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.0
# Server-side limit on one statement: a slow graph fails an analytics request
# instead of hanging it. Bulk projection batches stay well under it.
QUERY_TIMEOUT = 30.0

_lock = threading.Lock()
_configured_url: str | None = None


class GraphUnavailable(ApplicationError):
    """Neo4j cannot answer (not configured, unreachable, timed out): HTTP 503 for the API."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE

    def __init__(self, message: str):
        super().__init__(message, code="graph_unavailable")


def bolt_address(url: str) -> tuple[str, tuple[str, str] | None, str | None]:
    """Split a Bolt URL into (address, auth or None, database name or None)."""
    parts = urlsplit(url)
    auth = (unquote(parts.username), unquote(parts.password or "")) if parts.username else None
    host = parts.hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"
    address = f"{parts.scheme}://{host}:{parts.port or 7687}"
    database = parts.path.strip("/") or None
    return address, auth, database


def redacted(url: str) -> str:
    address, _auth, _db = bolt_address(url)
    return address


def _configure() -> None:
    """Point neomodel at the configured URL (again when the setting changed, as tests do)."""
    global _configured_url
    url = settings.NEO4J_BOLT_URL
    if not url:
        raise GraphUnavailable("Graph analytics are not configured: NEO4J_BOLT_URL is empty.")
    if url == _configured_url and db.driver is not None:
        return
    with _lock:
        if url == _configured_url and db.driver is not None:
            return
        address, auth, database = bolt_address(url)
        config = get_config()
        config.transaction_timeout = QUERY_TIMEOUT
        config.database_name = database
        driver = GraphDatabase.driver(
            address,
            auth=auth,
            connection_timeout=CONNECT_TIMEOUT,
            connection_acquisition_timeout=CONNECT_TIMEOUT * 2,
            max_transaction_retry_time=2.0,
            max_connection_lifetime=300,
            liveness_check_timeout=30,
            # "index already exists" and friends are not worth a log line per statement.
            notifications_min_severity="OFF",
        )
        old = db.driver
        db.set_connection(driver=driver)
        if old is not None:
            old.close()
        _configured_url = url


def graph_reset_connection() -> None:
    """Drop the driver so the next query connects afresh (after a fork or a URL change)."""
    global _configured_url
    with _lock:
        if db.driver is not None:
            db.driver.close()
        db.driver = None
        _configured_url = None


def graph_query(query: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
    """Run one Cypher statement (auto-commit) and return its rows; ``GraphUnavailable`` when Neo4j cannot answer."""
    _configure()
    try:
        rows, _meta = db.cypher_query(query, params or {})
    except (ServiceUnavailable, SessionExpired, DatabaseUnavailable, OSError) as exc:
        raise GraphUnavailable(
            f"Neo4j at {redacted(settings.NEO4J_BOLT_URL)} is unreachable ({exc.__class__.__name__}). "
            "Graph analytics are unavailable until it is back; trading is not affected."
        ) from exc
    except TransientError as exc:
        raise GraphUnavailable(f"Neo4j is busy ({exc.code}); try again shortly.") from exc
    except Neo4jError as exc:
        code = exc.code or ""
        if "Security" in code:
            raise GraphUnavailable(f"Neo4j refused our credentials ({code}); check NEO4J_BOLT_URL.") from exc
        if "TimedOut" in code or "Timeout" in code:
            raise GraphUnavailable(
                f"Neo4j did not answer within {QUERY_TIMEOUT:.0f}s: the graph is too slow right now; try again shortly."
            ) from exc
        raise
    return rows


def graph_ping() -> None:
    """Raise ``GraphUnavailable`` unless Neo4j answers a trivial query."""
    graph_query("RETURN 1")


def graph_write(query: str, params: dict[str, Any] | None = None) -> int:
    """Run one write statement (auto-commit); return how many things it changed.

    Changes are the server's own counters: nodes and relationships created or
    deleted and properties set — zero when the graph already was as asked.
    """
    _configure()
    assert db.driver is not None
    try:
        with db.driver.session(database=db._database_name) as session:
            counters = session.run(Query(query, timeout=QUERY_TIMEOUT), params or {}).consume().counters
    except (ServiceUnavailable, SessionExpired, DatabaseUnavailable, OSError) as exc:
        raise GraphUnavailable(
            f"Neo4j at {redacted(settings.NEO4J_BOLT_URL)} is unreachable ({exc.__class__.__name__}); "
            "the projection will catch up when it is back."
        ) from exc
    except TransientError as exc:
        raise GraphUnavailable(f"Neo4j is busy ({exc.code}); the projection will retry.") from exc
    return (
        counters.nodes_created
        + counters.nodes_deleted
        + counters.relationships_created
        + counters.relationships_deleted
        + counters.properties_set
    )
