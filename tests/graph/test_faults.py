"""Neo4j down or missing: clear errors, nothing else affected, catch-up when it returns."""

from __future__ import annotations

from decimal import Decimal

from monitoring.roles import Role
from portfolio.graph.changes import graph_dirty_count
from portfolio.graph.connection import graph_query
from portfolio.graph.projection import graph_resync_full
from tests.factories import ROLE_USERNAMES, password_for
from tests.services import free_port


def _viewer(client):
    name = ROLE_USERNAMES[Role.VIEWER]
    assert client.login(username=name, password=password_for(name))
    return client


def test_unreachable_neo4j_is_a_503_with_a_reason_not_a_500(client, db, role_users, settings):
    from portfolio.graph.connection import graph_reset_connection

    settings.NEO4J_BOLT_URL = f"bolt://127.0.0.1:{free_port()}"
    graph_reset_connection()
    c = _viewer(client)
    for url in (
        "/api/v1/graph/clusters/",
        "/api/v1/graph/exposure/",
        "/api/v1/graph/elements/",
        "/api/v1/graph/contagion/?instrument=X.SIM",
        "/api/v1/graph/strategy-overlap/",
        "/api/v1/graph/status/",
    ):
        response = c.get(url)
        assert response.status_code == 503, url
        body = response.json()
        assert "unreachable" in (body.get("detail") or body.get("reason")), body
    page = c.get("/portfolio/graph/")
    assert page.status_code == 503
    assert "Graph analytics are unavailable" in page.content.decode()


def test_empty_bolt_url_says_graph_analytics_are_not_configured(client, db, role_users, settings):
    settings.NEO4J_BOLT_URL = ""
    response = _viewer(client).get("/api/v1/graph/clusters/")
    assert response.status_code == 503
    assert response.json()["detail"] == "Graph analytics are not configured: NEO4J_BOLT_URL is empty."


def test_neo4j_stopped_mid_run_then_projection_catches_up_after_restart(
    client, graph, book, role_users, django_capture_on_commit_callbacks
):
    from portfolio.graph.tasks import graph_project
    from portfolio.models import Position

    graph_resync_full(correlations=False)
    graph.stop()
    try:
        # The book keeps changing while the graph is down: nothing raises on the trading side.
        with django_capture_on_commit_callbacks(execute=True):
            book.p4.quantity = Decimal("7")
            book.p4.save()
            Position.objects.create(
                account=book.account,
                instrument=book.b,
                quantity=Decimal("3"),
                avg_price=Decimal("50"),
                mark_price=Decimal("50"),
            )
        pending = graph_dirty_count()
        assert pending >= 3
        # The projection task keeps the changes instead of losing them.
        assert graph_project()["deferred"] is True
        assert graph_dirty_count() == pending
        # Analytics say so plainly.
        response = _viewer(client).get("/api/v1/graph/clusters/")
        assert response.status_code == 503 and response.json()["code"] == "graph_unavailable"
    finally:
        graph.start()

    result = graph_project()
    assert result["changes"] > 0 and graph_dirty_count() == 0
    assert graph_query(
        "MATCH (:Position {pk: $pk}) -[:IN_INSTRUMENT]->(i) RETURN i.instrument_id", {"pk": book.p4.pk}
    ) == [["GC.GSIM"]]
    assert graph_query("MATCH (p:Position {pk: $pk}) RETURN p.quantity", {"pk": book.p4.pk}) == [["7"]]
    assert graph_resync_full(correlations=False)["changes"] == 0
    assert _viewer(client).get("/api/v1/graph/clusters/").status_code == 200
