"""Markets pages: roles, live rows from Redis, exports, node controls, catalog import errors."""

import json
import time

import pytest
from django.test import Client

from monitoring.models import AuditLog
from monitoring.redis_client import redis_client
from monitoring.roles import Role
from tests.factories import make_reference_data


@pytest.fixture
def market(db, role_users, settings, tmp_path):
    settings.NAUTILUS_DATA_PATH = tmp_path / "catalog"
    make_reference_data()
    now = time.time_ns()
    redis_client().hset(
        "ni:quotes",
        mapping={
            "EUR/USD.SIM": json.dumps(
                {"bid": "1.08501", "ask": "1.08503", "last": "1.08502", "ts": now, "source": "SIM", "open": "1.08400"}
            ),
            "AAPL.SIM": json.dumps(
                {"bid": "190.01", "ask": "190.05", "last": None, "ts": now - 60 * 10**9, "source": "SIM"}
            ),
        },
    )
    return role_users


def client_for(user):
    c = Client()
    c.force_login(user)
    return c


def test_markets_table_shows_live_quotes_and_stale_ones_for_a_viewer(market):
    page = client_for(market[Role.VIEWER]).get("/markets/").content.decode()
    assert "1.08501" in page and "1.08503" in page
    assert "0.00102" in page  # change from the day's open mid
    assert "SIM · live" in page and "SIM · stale" in page


def test_markets_filter_and_sort_server_side(market):
    page = client_for(market[Role.VIEWER]).get("/markets/?type=equity&sort=-symbol").content.decode()
    assert "EUR/USD.SIM" not in page
    assert page.index("XOM.SIM") < page.index("AAPL.SIM")
    page = client_for(market[Role.VIEWER]).get("/markets/?q=usd").content.decode()
    assert "GBP/USD.SIM" in page and "AAPL.SIM" not in page


def test_anonymous_is_sent_to_login(market):
    assert Client().get("/markets/").status_code == 302


def test_export_csv_lists_quotes(market):
    body = client_for(market[Role.VIEWER]).get("/markets/export.csv").content.decode()
    assert body.splitlines()[0].startswith("instrument_id,asset_class")
    assert any(
        line.startswith("EUR/USD.SIM,fx,Currencies,1.08501,1.08503,1.08502,0.00002") for line in body.splitlines()
    )


def test_instrument_page_and_unknown_instrument(market):
    c = client_for(market[Role.VIEWER])
    assert c.get("/markets/i/EUR/USD.SIM/").status_code == 200
    assert c.get("/markets/i/NOPE.SIM/").status_code == 404


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TRADER, Role.RISK_MANAGER])
def test_node_controls_are_refused_below_admin(market, role):
    assert client_for(market[role]).post("/markets/node/stop/").status_code == 403
    assert redis_client().llen("ni:node:TRADER-001:control") == 0


def test_admin_stop_is_audited_and_reaches_the_supervisor(market, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(market[Role.ADMIN]).post("/markets/node/stop/")
    assert response.status_code == 302
    assert AuditLog.objects.filter(action="node.stop", actor=market[Role.ADMIN]).exists()
    request = json.loads(redis_client().lpop("ni:node:TRADER-001:control"))
    assert request["action"] == "stop" and request["by"] == "admin"
    assert redis_client().get("ni:node:TRADER-001:desired") == b"stopped"
    assert client_for(market[Role.ADMIN]).post("/markets/node/explode/").status_code == 400


def test_catalog_import_rejects_bad_csv_with_line_and_field_and_imports_good_csv(market):
    from django.core.files.uploadedfile import SimpleUploadedFile

    c = client_for(market[Role.ADMIN])
    bad = SimpleUploadedFile(
        "eurusd.csv", b"timestamp,bid,ask\n2024-01-02T09:30:00Z,1.1,1.2\n2024-01-02T09:29:00Z,1.1,1.2\n"
    )
    response = c.post("/markets/catalog/", {"kind": "quotes", "instrument_id": "EUR/USD.SIM", "file": bad})
    assert response.status_code == 400
    assert "eurusd.csv:3: timestamp: not after the previous row" in response.content.decode()
    good = SimpleUploadedFile(
        "eurusd.csv", b"timestamp,bid,ask\n2024-01-02T09:30:00Z,1.1,1.2\n2024-01-02T09:31:00Z,1.1,1.2\n"
    )
    assert (
        c.post("/markets/catalog/", {"kind": "quotes", "instrument_id": "EUR/USD.SIM", "file": good}).status_code == 302
    )
    page = c.get("/markets/catalog/").content.decode()
    assert "EUR/USD.SIM" in page
    csv_body = c.get("/markets/catalog/export/?kind=quotes&identifier=EUR/USD.SIM&format=csv").content.decode()
    assert csv_body.splitlines()[1] == "2024-01-02T09:30:00.000000000Z,1.10000,1.20000,0,0"
    assert c.get("/markets/catalog/export/?kind=nope&identifier=x").status_code == 400
    viewer = client_for(market[Role.VIEWER])
    assert viewer.post("/markets/catalog/", {"kind": "quotes"}).status_code == 403
