"""The test run's own Neo4j, like its own Redis (see tests/services.py).

Loaded as a plugin by tests/services.py, before Django reads its settings: it
picks a free loopback port and points ``NEO4J_BOLT_URL`` at it, so nothing in
the test run talks to the Neo4j ``make run`` uses. The JVM is only started when
a collected test asks for the ``neo4j_server`` fixture (it takes tens of seconds
and a few hundred MB), and then in the background right after collection, so
it boots while pytest-django creates the test database.
"""

from __future__ import annotations

import atexit
import os

import pytest

from portfolio.graph.local_server import LocalNeo4j, launcher_build

NEO4J = LocalNeo4j()
os.environ["NEO4J_BOLT_URL"] = NEO4J.url
atexit.register(NEO4J.close)


def pytest_collection_finish(session: pytest.Session) -> None:
    if any("neo4j_server" in getattr(item, "fixturenames", ()) for item in session.items):
        launcher_build()
        NEO4J.spawn()


@pytest.fixture(scope="session")
def neo4j_server() -> LocalNeo4j:
    """The running private Neo4j; tests may stop and start it (same port, same data)."""
    if not NEO4J.running:
        NEO4J.start()
    else:
        NEO4J.wait_ready()
    return NEO4J
