"""The graph API and page: validation names the field, roles apply, adoption writes a risk limit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from monitoring.roles import Role
from portfolio.graph.projection import graph_resync_full
from tests.factories import ROLE_USERNAMES, password_for


def _client(client, role):
    name = ROLE_USERNAMES[role]
    assert client.login(username=name, password=password_for(name))
    return client


@pytest.fixture
def ready(graph, book, role_users):
    graph_resync_full(correlations=False)
    book.correlations({("a", "b"): 0.8, ("b", "c"): 0.5, ("a", "d"): 0.6})
    return book


def test_viewer_reads_clusters_with_exact_money_strings(client, ready):
    body = _client(client, Role.VIEWER).get("/api/v1/graph/clusters/?threshold=0.7").json()
    assert body["clusters"][0]["instrument_ids"] == ["GA.GSIM", "GB.GSIM"]
    assert body["clusters"][0]["gross"] == "2500" and body["book_gross"] == "3700"


def test_contagion_and_exposure_and_overlap_answer(client, ready):
    c = _client(client, Role.VIEWER)
    body = c.get("/api/v1/graph/contagion/", {"instrument": "GA.GSIM", "shock_pct": "-10", "min_rho": "0.5"}).json()
    assert Decimal(body["total_impact"]) == Decimal("-122")
    assert c.get("/api/v1/graph/exposure/?by=asset_class").json()["total_gross"] == "3700"
    assert Decimal(c.get("/api/v1/graph/strategy-overlap/").json()["pairs"][0]["score"]) == Decimal("1300")
    assert c.get("/api/v1/graph/status/").json()["available"] is True


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/graph/clusters/?threshold=1.5", "threshold"),
        ("/api/v1/graph/clusters/?threshold=abc", "threshold"),
        ("/api/v1/graph/exposure/?by=country", "by"),
        ("/api/v1/graph/contagion/?instrument=NOPE.SIM", "instrument"),
        ("/api/v1/graph/contagion/", "instrument"),
        ("/api/v1/graph/contagion/?instrument=GA.GSIM&depth=9", "depth"),
    ],
)
def test_rejects_bad_query_parameters_naming_the_field(client, ready, url, field):
    response = _client(client, Role.VIEWER).get(url)
    assert response.status_code == 400
    assert field in response.json()


def test_risk_manager_adopts_a_cluster_as_a_correlation_exposure_limit(client, ready):
    from monitoring.models import AuditLog
    from risk.models import RiskLimit

    response = _client(client, Role.RISK_MANAGER).post(
        "/api/v1/graph/clusters/adopt/",
        {"instruments": ["GB.GSIM", "GA.GSIM"], "threshold": "0.7", "value": "2000"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    limit = RiskLimit.objects.get(pk=response.json()["id"])
    assert limit.kind == "correlation_exposure" and limit.scope == "global" and limit.value == Decimal("2000")
    assert limit.params == {"instruments": ["GA.GSIM", "GB.GSIM"], "threshold": 0.7}
    assert AuditLog.objects.filter(action="risk_limit.create", object_id=str(limit.pk)).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"instruments": ["GA.GSIM", "NOPE.SIM"], "threshold": "0.7", "value": "10"}, "instruments"),
        ({"instruments": ["GA.GSIM"], "threshold": "0.7", "value": "10"}, "instruments"),
        ({"instruments": ["GA.GSIM", "GB.GSIM"], "threshold": "1.7", "value": "10"}, "threshold"),
        ({"instruments": ["GA.GSIM", "GB.GSIM"], "threshold": "0.7", "value": "-5"}, "value"),
    ],
)
def test_adoption_rejects_bad_input_and_writes_nothing(client, ready, payload, field):
    from risk.models import RiskLimit

    before = RiskLimit.objects.count()
    response = _client(client, Role.RISK_MANAGER).post(
        "/api/v1/graph/clusters/adopt/", payload, content_type="application/json"
    )
    assert response.status_code == 400 and field in response.json()
    assert RiskLimit.objects.count() == before


def test_traders_and_viewers_cannot_adopt(client, ready):
    for role in (Role.VIEWER, Role.TRADER):
        response = _client(client, role).post(
            "/api/v1/graph/clusters/adopt/",
            {"instruments": ["GA.GSIM", "GB.GSIM"], "threshold": "0.7", "value": "1"},
            content_type="application/json",
        )
        assert response.status_code == 403
        client.logout()


def test_graph_page_shows_clusters_contagion_and_overlap(client, ready):
    page = _client(client, Role.VIEWER).get("/portfolio/graph/?threshold=0.7&instrument=GA.GSIM")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-testid="cluster-row"') == 1
    assert html.count('data-testid="contagion-row"') == 3  # B and D directly, C through B
    assert 'data-testid="overlap-row"' in html
    assert "cytoscape/dist/cytoscape.min.js" in html
    assert "Adopt" not in html  # viewers do not get the adoption form


def test_graph_page_rejects_a_bad_threshold_by_name(client, ready):
    page = _client(client, Role.VIEWER).get("/portfolio/graph/?threshold=7")
    assert page.status_code == 400 and "threshold must be between 0 and 1" in page.content.decode()


def test_risk_manager_adopts_from_the_page(client, ready):
    from risk.models import RiskLimit

    c = _client(client, Role.RISK_MANAGER)
    assert "Adopt" in c.get("/portfolio/graph/").content.decode()
    response = c.post("/portfolio/graph/", {"instruments": "GA.GSIM,GB.GSIM", "threshold": "0.7", "value": "5000"})
    assert response.status_code == 302
    assert RiskLimit.objects.filter(kind="correlation_exposure", params__instruments=["GA.GSIM", "GB.GSIM"]).exists()
