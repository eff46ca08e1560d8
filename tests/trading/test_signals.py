"""Signals: authenticated webhooks, deduplication, staleness, routing with load balancing and failover."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.models import Alert, AuditLog
from monitoring.roles import Role
from tests.factories import make_reference_data
from trading.models import Account, Order, Venue
from trading.signal_router.models import Signal, SignalRoute, SignalSource
from trading.signal_router.router import signal_receive, source_secret_set, webhook_signature

pytestmark = pytest.mark.django_db
SECRET = "s3cret-for-tradingview-alerts"


@pytest.fixture
def desk(role_users):
    make_reference_data()
    sim = Venue.objects.get(code="SIM")
    primary = Account.objects.get(name="SIM-001")
    Account.objects.filter(pk=primary.pk).update(status=Account.Status.CONNECTED)
    backup = Account.objects.create(name="SIM-002", venue=sim, status=Account.Status.CONNECTED)
    source = SignalSource.objects.create(name="tradingview", owner=role_users[Role.TRADER])
    source_secret_set(source=source, secret=SECRET)
    primary_route = SignalRoute.objects.create(name="primary", priority=10, account=primary)
    backup_route = SignalRoute.objects.create(name="backup", priority=20, account=backup)
    return {"source": source, "primary": primary_route, "backup": backup_route, "users": role_users}


def _signal(**overrides):
    return {"instrument": "EUR/USD.SIM", "side": "BUY", "quantity": "10000", **overrides}


def _post(client, body: dict, *, secret=SECRET, timestamp=None, source="tradingview"):
    raw = json.dumps(body).encode()
    ts = str(int(timestamp or time.time()))
    return client.post(
        f"/api/v1/webhooks/signals/{source}/",
        data=raw,
        content_type="application/json",
        headers={"X-Timestamp": ts, "X-Signature": webhook_signature(secret, ts, raw)},
    )


def test_signed_webhook_creates_a_routed_signal_and_an_order(client, desk):
    response = _post(client, _signal(id="a-1"))
    assert response.status_code == 201, response.content
    signal = Signal.objects.get()
    assert signal.route == desk["primary"]
    assert signal.order is not None and signal.order.account.name == "SIM-001"
    assert signal.order.source == "signal"


@pytest.mark.parametrize(
    ("secret", "timestamp", "reason"),
    [("wrong-secret-entirely!!", None, "signature does not match"), (SECRET, time.time() - 3600, "too far from now")],
)
def test_bad_or_replayed_signature_is_refused_and_audited(client, desk, secret, timestamp, reason):
    response = _post(client, _signal(), secret=secret, timestamp=timestamp)
    assert response.status_code == 401
    assert reason in response.json()["detail"]
    assert not Signal.objects.exists() and not Order.objects.exists()
    assert AuditLog.objects.filter(action="signal.webhook_refused").exists()


def test_unsigned_webhook_is_refused(client, desk):
    response = client.post("/api/v1/webhooks/signals/tradingview/", data=b"{}", content_type="application/json")
    assert response.status_code == 401


def test_malformed_signal_names_the_field_and_stores_nothing(client, desk):
    response = _post(client, _signal(quantity="-3", instrument="XXX.SIM"))
    assert response.status_code == 400
    assert set(response.json()) >= {"quantity", "instrument"}
    assert not Signal.objects.exists()


def test_duplicate_within_the_window_is_suppressed(desk):
    first = signal_receive(source=desk["source"], data=_signal(id="dup-1"))
    second = signal_receive(source=desk["source"], data=_signal(id="dup-1"))
    assert first.status != "suppressed"
    assert second.status == "suppressed" and "duplicate" in second.reason
    assert Order.objects.count() == 1


def test_stale_signal_is_suppressed(desk):
    old = (timezone.now() - timedelta(minutes=5)).isoformat()
    signal = signal_receive(source=desk["source"], data=_signal(time=old))
    assert signal.status == "suppressed" and "stale" in signal.reason
    assert not Order.objects.exists()


def test_fails_over_when_the_primary_venue_is_down(desk):
    Account.objects.filter(name="SIM-001").update(status=Account.Status.DISCONNECTED, status_reason="no network")
    signal = signal_receive(source=desk["source"], data=_signal())
    assert signal.route == desk["backup"]
    assert signal.order.account.name == "SIM-002"
    considered = signal.routing["considered"]
    assert considered[0]["available"] is False and "no network" in considered[0]["reason"]


def test_parks_and_alerts_when_no_route_is_available(desk):
    Account.objects.update(status=Account.Status.DISCONNECTED)
    signal = signal_receive(source=desk["source"], data=_signal())
    assert signal.status == "parked"
    assert Alert.objects.filter(source="signal-router").count() == 1
    assert not Order.objects.exists()


def test_equivalent_routes_share_the_load_round_robin(desk):
    SignalRoute.objects.filter(pk=desk["backup"].pk).update(priority=10)  # same tier as primary
    accounts = [signal_receive(source=desk["source"], data=_signal(id=f"rr-{i}")).order.account.name for i in range(4)]
    assert sorted(accounts) == ["SIM-001", "SIM-001", "SIM-002", "SIM-002"]
    assert accounts[0] != accounts[1]


def test_api_client_posts_a_signal_with_a_token(desk):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=desk['users'][Role.TRADER]).key}")
    response = api.post("/api/v1/signals/", {"source": "tradingview", **_signal()}, format="json")
    assert response.status_code == 201, response.content
    viewer = APIClient()
    viewer.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=desk['users'][Role.VIEWER]).key}")
    assert viewer.post("/api/v1/signals/", {"source": "tradingview", **_signal()}, format="json").status_code == 403
    assert viewer.get("/api/v1/signals/").status_code == 200
